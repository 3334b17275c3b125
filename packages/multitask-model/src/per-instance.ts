/**
 * Per-instance gradients of a batch from one batched forward/backward pass.
 *
 * The model has no batch coupling (no batch norm), so the backward pass of `Σ_i ℓ_i` carries each
 * instance's own output gradient at every layer. The conv and dense layers are swapped (through
 * `forwardWith`) for ones whose gradient functions hand each instance's `(x[i], dy[i])` to
 * `conv2dPerExampleGradients` / `densePerExampleGradients` of `@mtu/core-tensors`, keep the
 * `[B, …]` results, and return zero weight gradients (the summed ones are never needed). The
 * input gradient is propagated as usual, except into the model input.
 *
 * @module
 */
import { conv2dPerExampleGradients, densePerExampleGradients, tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Tensor, Tensor2D, Tensor4D } from '@mtu/core-tensors';
import type { Batch, Dataset } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import { instanceLosses } from './losses.js';
import type { LayerOps, MultiTaskModel } from './model.js';
import { forwardWith } from './model.js';
import { usedParams } from './spec.js';

/** What {@link perInstanceGradientRows} returns; the caller owns `rows`. */
export interface PerInstanceRows {
  /** `[B, D]`: row `i` is instance `i`'s gradient over `names` (in that order, flattened). */
  readonly rows: Tensor2D;
  /** Instance `i`'s weighted loss `Σ_t w_t · m_{t,i} · ℓ_{t,i}` (0 without a supervised label). */
  readonly losses: Float32Array;
}

/**
 * Each instance's gradient of its own weighted loss `Σ_t w_t · m_{t,i} · ℓ_{t,i}` (what
 * `lossAndGradients` gives for a batch of that instance alone), for the parameters `names`, from
 * one forward and one backward pass over the whole batch.
 *
 * @param names - Parameter names in the order of the row layout (e.g. a group layout's `names`).
 * @param tasks - The tasks whose losses are summed (already validated).
 */
export function perInstanceGradientRows(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  names: readonly string[],
  tasks: readonly string[],
  weights: Readonly<Record<string, number>>,
  params?: NamedTensorMap,
): PerInstanceRows {
  const base: NamedTensorMap = params ?? model.variables;
  const used = usedParams(model.spec, tasks);
  const wanted = new Set(names.filter((n) => used.has(n)));
  const n = batch.ids.length;
  const records = new Map<string, Tensor>();
  let losses: Tensor | undefined;
  try {
    const rows = tf.tidy(() => {
      const ops = recordingLayers(wanted, records);
      // Differentiate w.r.t. the filters / weights of the recorded layers: tfjs then runs the
      // backward pass from the loss down to the earliest of them, and no further.
      const xsNames = [...used].filter(
        (p) => p.endsWith('/w') && (wanted.has(p) || wanted.has(`${p.slice(0, -2)}/b`)),
      );
      const f = (...xs: Tensor[]): tf.Scalar => {
        const p: NamedTensorMap = { ...base };
        xsNames.forEach((name, i) => (p[name] = xs[i]!));
        const out = forwardWith(model.spec, p, batch.x, tasks, ops);
        let perInstance: Tensor = tf.zeros([n]);
        for (const t of tasks) {
          const { loss, count } = instanceLosses(getTask(dataset, t), out[t]!, batch.labels[t]!);
          const has = tf.cast(tf.greater(count, 0), 'float32');
          const mask = batch.mask[t];
          const m = mask === undefined ? has : tf.mul(mask, has);
          perInstance = tf.add(perInstance, tf.mul(tf.mul(loss, m), weights[t] ?? 1));
        }
        losses = tf.keep(tf.clone(perInstance));
        return tf.sum(perInstance);
      };
      if (xsNames.length > 0) {
        tf.grads(f)(xsNames.map((name) => base[name]!));
      } else {
        f();
      }
      const parts = names.map((name) => {
        const size = model.layout.byName.get(name)?.size ?? 0;
        const r = records.get(name);
        return r === undefined ? tf.zeros([n, size]) : tf.reshape(r, [n, size]);
      });
      return (parts.length === 0 ? tf.zeros([n, 0]) : tf.concat(parts, 1)) as Tensor2D;
    });
    const values = losses!.dataSync() as Float32Array;
    return { rows, losses: Float32Array.from(values) };
  } finally {
    tf.dispose([...records.values()]);
    losses?.dispose();
  }
}

/**
 * Layers recording per-example weight gradients into `records` (kept tensors, by parameter name)
 * for the parameters in `wanted`, and zero weight gradients for every layer.
 */
function recordingLayers(wanted: ReadonlySet<string>, records: Map<string, Tensor>): LayerOps {
  const keep = (name: string, t: Tensor): void => {
    if (wanted.has(name)) records.set(name, tf.keep(t));
  };
  return {
    conv(x, filter, bias, name, stride, relu, first) {
      const op = tf.customGrad((xIn, wIn, bIn, save) => {
        const [x4, w4] = [xIn as Tensor4D, wIn as Tensor4D];
        const z = tf.fused.conv2d({
          x: x4,
          filter: w4,
          strides: stride,
          pad: 'same',
          bias: bIn as Tensor,
          activation: relu ? 'relu' : 'linear',
        });
        (save as tf.GradSaveFunc)([x4, w4, z]);
        return {
          value: z,
          gradFunc: (dy: Tensor4D, saved: Tensor[]) => {
            const [xs, ws, ys] = saved as [Tensor4D, Tensor4D, Tensor4D];
            const dz = relu ? tf.mul<Tensor4D>(dy, tf.step(ys)) : dy;
            if (wanted.has(`${name}/w`) || wanted.has(`${name}/b`)) {
              const shape = ws.shape;
              const g = conv2dPerExampleGradients(xs, dz, shape, stride, 'same');
              keep(`${name}/w`, g.filter);
              keep(`${name}/b`, g.bias);
            }
            const dx = first
              ? tf.zerosLike(xs)
              : tf.conv2dTranspose(
                  dz,
                  ws,
                  [...xs.shape] as [number, number, number, number],
                  stride,
                  'same',
                );
            return [dx, tf.zerosLike(ws), tf.zerosLike(bIn as Tensor)];
          },
        };
      });
      return op(x, filter, bias);
    },
    dense(x, weight, bias, name, relu) {
      const op = tf.customGrad((xIn, wIn, bIn, save) => {
        const [x2, w2] = [xIn as Tensor2D, wIn as Tensor2D];
        const z = tf.fused.matMul({
          a: x2,
          b: w2,
          bias: bIn as Tensor,
          activation: relu ? 'relu' : 'linear',
        }) as Tensor2D;
        (save as tf.GradSaveFunc)([x2, w2, z]);
        return {
          value: z,
          gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
            const [xs, ws, ys] = saved as [Tensor2D, Tensor2D, Tensor2D];
            const dz = relu ? tf.mul<Tensor2D>(dy, tf.step(ys)) : dy;
            if (wanted.has(`${name}/w`) || wanted.has(`${name}/b`)) {
              const g = densePerExampleGradients(xs, dz);
              keep(`${name}/w`, g.weight);
              keep(`${name}/b`, g.bias);
            }
            const dx = tf.matMul(dz, ws, false, true);
            return [dx, tf.zerosLike(ws), tf.zerosLike(bIn as Tensor)];
          },
        };
      });
      return op(x, weight, bias);
    },
  };
}
