/**
 * Task losses with supervision masks: per instance (mean over the instance's valid pixels) and
 * per batch (mean over the supervised instances).
 *
 * Per kind, on valid pixels only:
 * - segmentation / classification: cross-entropy of the logits; a label equal to the ignore index
 *   (or outside `[0, classes)`) is not valid;
 * - depth: L1, valid where the label is > 0;
 * - normals: `1 − ⟨p, g⟩` with `p` unit length (the model normalises), valid where `g ≠ 0`.
 *
 * An instance with no valid label contributes nothing (never NaN). The batch loss is
 * `Σ_i m_i·ℓ_i / max(1, Σ_i m_i·[n_i > 0])`, with `m` the supervision mask and `n_i` the valid
 * count: every supervised instance weighs the same, whatever its number of valid pixels (MTAN and
 * LibMTL instead average over all valid pixels of the batch; the two agree when every instance has
 * the same count).
 *
 * @module
 */
import { ShapeError, tf } from '@mtu/core-tensors';
import type { Scalar, Tensor, Tensor1D } from '@mtu/core-tensors';
import type { Task } from '@mtu/datasets';

/** Per-instance losses and valid counts, both float32 `[B]`. */
export interface InstanceLosses {
  /** `ℓ_i`: mean loss over the instance's valid pixels (0 where there are none). */
  readonly loss: Tensor1D;
  /** `n_i`: number of valid pixels (0 or 1 for classification). */
  readonly count: Tensor1D;
}

function expectShape(what: string, t: Tensor, shape: readonly number[]): void {
  if (t.rank !== shape.length || shape.some((d, i) => d >= 0 && d !== t.shape[i])) {
    throw new ShapeError(`${what}: expected [${shape.join(', ')}], got [${t.shape.join(', ')}]`, {
      expected: shape,
      actual: t.shape,
    });
  }
}

/**
 * Per-instance losses of one task. Shapes: `output` as returned by the model for the task,
 * `label` as in a `Batch` (`[B]` int32, `[B, h, w]` int32, `[B, h, w, 1]` or `[B, h, w, 3]`
 * float32). Returns new tensors (call inside `tf.tidy` or dispose them).
 *
 * @example
 * ```ts
 * const { loss, count } = tf.tidy(() => instanceLosses(task, out.depth, batch.labels.depth));
 * ```
 */
export function instanceLosses(task: Task, output: Tensor, label: Tensor): InstanceLosses {
  const [loss, count] = tf.tidy(() => {
    const r = computeInstanceLosses(task, output, label);
    return [r.loss, r.count];
  });
  return { loss: loss, count: count };
}

function computeInstanceLosses(task: Task, output: Tensor, label: Tensor): InstanceLosses {
  {
    const b = label.shape[0];
    switch (task.kind) {
      case 'classification':
      case 'segmentation': {
        const c = task.classes;
        expectShape(
          `${task.name} label`,
          label,
          task.kind === 'classification' ? [b] : [b, ...task.labelShape],
        );
        expectShape(
          `${task.name} output`,
          output,
          task.kind === 'classification' ? [b, c] : [b, ...task.labelShape, c],
        );
        const lab = tf.cast(label, 'int32');
        const valid = tf.cast(tf.logicalAnd(tf.greaterEqual(lab, 0), tf.less(lab, c)), 'float32');
        const onehot = tf.oneHot(tf.where(tf.greaterEqual(lab, 0), lab, tf.zerosLike(lab)), c);
        const logits = output;
        const lse = tf.logSumExp(logits, -1);
        const picked = tf.sum(tf.mul(logits, onehot), -1);
        const ce = tf.mul(tf.sub(lse, picked), valid);
        return reducePerInstance(ce, valid, b);
      }
      case 'depth': {
        expectShape(`${task.name} label`, label, [b, ...task.labelShape]);
        expectShape(`${task.name} output`, output, [b, ...task.labelShape]);
        const valid = tf.cast(tf.greater(label, 0), 'float32');
        const err = tf.mul(tf.abs(tf.sub(output, label)), valid);
        return reducePerInstance(err, valid, b);
      }
      case 'normals': {
        expectShape(`${task.name} label`, label, [b, ...task.labelShape]);
        expectShape(`${task.name} output`, output, [b, ...task.labelShape]);
        const valid = tf.cast(tf.greater(tf.sum(tf.abs(label), -1), 0), 'float32');
        const cos = tf.sum(tf.mul(output, label), -1);
        const err = tf.mul(tf.sub(1, cos), valid);
        return reducePerInstance(err, valid, b);
      }
    }
  }
}

function reducePerInstance(err: Tensor, valid: Tensor, b: number): InstanceLosses {
  const sum = tf.sum(tf.reshape(err, [b, -1]), 1);
  const count = tf.sum<Tensor1D>(tf.reshape(valid, [b, -1]), 1);
  return { loss: tf.div<Tensor1D>(sum, tf.maximum(count, 1)), count };
}

/**
 * The batch loss of one task under a supervision mask `[B]` (1 = supervised):
 * `Σ_i m_i ℓ_i / max(1, Σ_i m_i [n_i > 0])`. A scalar; 0 when no instance is supervised.
 *
 * @example
 * ```ts
 * const loss = tf.tidy(() => batchLoss(task, out[task.name], batch.labels[task.name], batch.mask[task.name]));
 * ```
 */
export function batchLoss(task: Task, output: Tensor, label: Tensor, mask?: Tensor1D): Scalar {
  return tf.tidy(() => {
    const { loss, count } = instanceLosses(task, output, label);
    const has = tf.cast(tf.greater(count, 0), 'float32');
    const m = mask === undefined ? has : tf.mul(mask, has);
    return tf.div<Scalar>(tf.sum(tf.mul(loss, m)), tf.maximum(tf.sum(m), 1));
  });
}
