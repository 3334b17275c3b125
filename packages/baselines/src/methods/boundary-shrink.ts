/**
 * `boundary-shrink`: Boundary Shrink — relabel each forget instance to the original model's nearest
 * wrong class, found by an FGSM-style neighbour search in input space, and fine-tune on those labels.
 *
 * Reference: M. Chen, W. Gao, G. Liu, K. Peng, C. Wang, "Boundary Unlearning: Rapid Forgetting of
 * Deep Networks via Shifting the Decision Space", CVPR 2023,
 * https://openaccess.thecvf.com/content/CVPR2023/html/Chen_Boundary_Unlearning_Rapid_Forgetting_of_Deep_Networks_via_Shifting_the_CVPR_2023_paper.html
 * (re-implementation followed: OPTML-Group/Unlearn-Saliency `Classification/unlearn/boundary_sh.py`;
 * research/baselines.md §2.9).
 *
 * Per step and target task t (classification or segmentation):
 * 1. neighbour search on the frozen **original** model f_o:
 *    `x_adv = clip(x + ε · sign(∇_x Σ_i ℓ_t(f_o(x_i), y_i)), lo, hi)` with ε = 0.1 (the paper's
 *    hard-coded bound) and `[lo, hi]` the range of the dataset's train inputs (the code clips to
 *    [0, 1], the range of its images; its quantisation to the 1/255 grid is not applied, our inputs
 *    being floats). The per-instance loss normalisation does not change the sign of each instance's
 *    gradient, so one backward pass serves the whole batch;
 * 2. new label `y' = argmax_{c ≠ y} f_o(x_adv)_c` — per instance, or **per pixel** for
 *    segmentation (ignored pixels stay ignored). With `excludeTrueClass` (default) the true class is
 *    excluded, so y' is always a wrong class ("nearest but incorrect"); the official code takes the
 *    plain argmax, which can return y when the FGSM step does not cross the boundary
 *    (`excludeTrueClass: false` reproduces it);
 * 3. descend `Σ_t mean_valid CE(f_θ(x), y'_t)` on the clean x (+ α · retain objective when
 *    `retainBatchSize` > 0; the official method trains on the forget set only, the default).
 *
 * Multi-task: only the target tasks are relabelled; the method has no analogue for regression
 * targets, so a request whose target tasks include a depth or normals task is rejected
 * (`checkRequest`). Limits: in partial-task with the default (no retain batch) nothing protects the
 * forget instances' non-target labels beyond the short forget-only fine-tune; set
 * `retainBatchSize` > 0 to add the shared retain objective. The loop has no weight decay.
 *
 * @module
 */
import { ConfigError, tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar, Tensor, Tensor4D } from '@mtu/core-tensors';
import type { Batch, Dataset } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import { forward, instanceLosses, valueAndGradients } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import type { LoopConfig, StepOutput, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { retainLoss, targetTasks, taskInstanceLosses } from '../objectives.js';

/**
 * The config of `boundary-shrink`.
 *
 * @example
 * ```ts
 * await unlearn(model, ds, request, boundaryShrink, { config: { epsilon: 0.05, retainBatchSize: 8 } });
 * ```
 */
export interface BoundaryShrinkConfig extends LoopConfig {
  /** FGSM bound ε of the neighbour search (input units). */
  readonly epsilon: number;
  /** Never relabel to the true class (argmax over the other classes). */
  readonly excludeTrueClass: boolean;
  /** α, weight of the retain objective (used only when `retainBatchSize` > 0). */
  readonly retainWeight: number;
}

/**
 * Defaults — the paper's: "for the fine-tune process in Boundary Unlearning we use a learning rate
 * of 10⁻⁵ for 10 epochs", SGD momentum 0.9, FGSM bound ε = 0.1 (official code `boundary_shrink`:
 * `bound=0.1, poison_epoch=10`, `SGD(lr=1e-5, momentum=0.9)`; the SalUn re-implementation uses the
 * same ε); forget set only (retainBatchSize 0, as the code). On the `scenes` CPU model even this
 * rate moves far: the nearest-wrong-class cross-entropy has a gradient norm ≈ 45 (true labels ≈ 1),
 * and with random forget instances (not a class) the relabelling generalises to every instance —
 * segmentation mIoU falls to ≈ 0.2 on every split and the non-target tasks degrade through the
 * shared backbone. Larger rates only make this worse; the method is class-level by design.
 *
 * @example
 * ```ts
 * const config = { ...BOUNDARY_SHRINK_DEFAULTS, epsilon: 0.05 };
 * ```
 */
export const BOUNDARY_SHRINK_DEFAULTS: BoundaryShrinkConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: 10, // paper / boundary_shrink: poison_epoch = 10
  learningRate: 1e-5, // paper: "a learning rate of 10^-5 for 10 epochs"
  optimizer: 'momentum', // boundary_shrink: SGD, momentum 0.9
  momentum: 0.9,
  forgetBatchSize: 8, // CPU scale
  retainBatchSize: 0, // boundary_shrink: forget set only
  earlyStop: false,
  epsilon: 0.1, // boundary_shrink: bound = 0.1 ("hard coding in the paper")
  excludeTrueClass: true, // "nearest but incorrect class"; the code's plain argmax may return y
  retainWeight: 1,
});

const schema = z
  .object({
    ...loopConfigFields,
    epsilon: z.number().positive().finite().describe('FGSM bound ε of the neighbour search'),
    excludeTrueClass: z.boolean().describe('Never relabel to the true class'),
    retainWeight: z.number().min(0).finite().describe('Weight α of the retain objective'),
  })
  .strict();

/**
 * The state of `boundary-shrink` (no tensors).
 *
 * @example
 * ```ts
 * const state: BoundaryShrinkState = { range: inputRange(ds) };
 * ```
 */
export interface BoundaryShrinkState {
  /** The clip range of the neighbour search: the train inputs' range. */
  readonly range: { readonly lo: number; readonly hi: number };
}

/**
 * Options of {@link nearestWrongLabels} and {@link fgsmNeighbour}.
 *
 * @example
 * ```ts
 * const options: NeighbourSearchOptions = { epsilon: 0.1, lo: 0, hi: 1, excludeTrueClass: true };
 * ```
 */
export interface NeighbourSearchOptions {
  readonly epsilon: number;
  /** Clip range of the perturbed input. */
  readonly lo: number;
  readonly hi: number;
  readonly excludeTrueClass: boolean;
}

/**
 * The range of a dataset's train inputs.
 *
 * @example
 * ```ts
 * inputRange(ds); // { lo: 0, hi: 1 }
 * ```
 */
export function inputRange(dataset: Dataset): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of dataset.train.inputs) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return Number.isFinite(lo) ? { lo, hi } : { lo: 0, hi: 1 };
}

/**
 * The FGSM neighbour of `x` for task `t` on `model`: `clip(x + ε·sign(∇_x Σ_i ℓ_t), lo, hi)`.
 * Returns a new tensor owned by the caller.
 *
 * @example
 * ```ts
 * const xAdv = fgsmNeighbour(original, ds, batch, 'segmentation', { epsilon: 0.1, lo: 0, hi: 1, excludeTrueClass: true });
 * ```
 */
export function fgsmNeighbour(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  t: string,
  options: NeighbourSearchOptions,
): Tensor4D {
  const task = getTask(dataset, t);
  return tf.tidy(() => {
    const objective = (x: Tensor): Scalar => {
      const out = forward(model.spec, model.variables, x as Tensor4D, [t]);
      return tf.sum(instanceLosses(task, out[t]!, batch.labels[t]!).loss);
    };
    const g = tf.grad(objective)(batch.x);
    return tf.clipByValue(
      tf.add(batch.x, tf.mul(tf.sign(g), options.epsilon)),
      options.lo,
      options.hi,
    ) as Tensor4D;
  });
}

/**
 * Boundary Shrink's labels for task `t` (classification or segmentation) of `batch`: the arg-max
 * of `model`'s prediction on the FGSM neighbour, excluding the true class when asked; invalid labels
 * are kept. Int32, the shape of `batch.labels[t]`; the caller owns it.
 *
 * @example
 * ```ts
 * const y = nearestWrongLabels(ctx.original, ds, batch, 'segmentation', { epsilon: 0.1, lo: 0, hi: 1, excludeTrueClass: true });
 * ```
 */
export function nearestWrongLabels(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  t: string,
  options: NeighbourSearchOptions,
): Tensor {
  const task = getTask(dataset, t);
  const xAdv = fgsmNeighbour(model, dataset, batch, t, options);
  try {
    return tf.tidy(() => {
      const logits = model.predict(xAdv, [t])[t]!;
      const y = tf.cast(batch.labels[t]!, 'int32');
      const valid = tf.logicalAnd(tf.greaterEqual(y, 0), tf.less(y, task.classes));
      const scores = options.excludeTrueClass
        ? tf.where(
            tf.cast(tf.oneHot(tf.where(valid, y, tf.zerosLike(y)), task.classes), 'bool'),
            tf.fill(logits.shape, -Infinity),
            logits,
          )
        : logits;
      return tf.where(valid, tf.cast(tf.argMax(scores, -1), 'int32'), y);
    });
  } finally {
    xAdv.dispose();
  }
}

/**
 * Boundary Shrink (classification and segmentation target tasks).
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, { instances: [1, 2], tasks: ['segmentation'] }, boundaryShrink, {
 *   config: { epochs: 3 },
 * });
 * ```
 */
export const boundaryShrink: Unlearner<BoundaryShrinkConfig, BoundaryShrinkState> = {
  id: 'boundary-shrink',
  displayName: 'Boundary Shrink',
  reference: {
    title: 'Boundary Unlearning: Rapid Forgetting of Deep Networks via Shifting the Decision Space',
    authors: 'Min Chen, Weizhuo Gao, Gaoyang Liu, Kai Peng, Chen Wang',
    venue: 'CVPR 2023',
    url: 'https://openaccess.thecvf.com/content/CVPR2023/html/Chen_Boundary_Unlearning_Rapid_Forgetting_of_Deep_Networks_via_Shifting_the_CVPR_2023_paper.html',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: BOUNDARY_SHRINK_DEFAULTS,
  schema,

  checkRequest(views, dataset) {
    for (const t of views.targetTasks) {
      const kind = getTask(dataset, t).kind;
      if (kind !== 'classification' && kind !== 'segmentation') {
        throw new ConfigError(
          'request.tasks',
          views.request.tasks,
          `boundary-shrink cannot forget task '${t}' (${kind}): its nearest-wrong-class relabelling needs a classification or segmentation task; leave '${t}' out of the target tasks or use another method`,
        );
      }
    }
  },

  setup(ctx) {
    return { range: inputRange(ctx.dataset) };
  },

  step(ctx, batches, state): StepOutput {
    const { model, original, config } = ctx;
    const targets = targetTasks(ctx);
    const options: NeighbourSearchOptions = {
      epsilon: config.epsilon,
      lo: state.range.lo,
      hi: state.range.hi,
      excludeTrueClass: config.excludeTrueClass,
    };
    const labels: Record<string, Tensor> = {};
    try {
      for (const t of targets)
        labels[t] = nearestWrongLabels(original, ctx.dataset, batches.forget, t, options);
      const retained = config.retainWeight > 0 ? batches.retained : undefined;
      const useRetain = retained !== undefined;
      const { value, grads } = valueAndGradients(
        model,
        (p: NamedTensorMap) => {
          let total: Scalar = tf.scalar(0);
          for (const t of targets) {
            const { loss, valid } = taskInstanceLosses(ctx, batches.forget, p, t, labels[t]);
            total = tf.add(
              total,
              tf.div(tf.sum(tf.mul(loss, valid)), tf.maximum(tf.sum(valid), 1)),
            );
          }
          if (useRetain)
            total = tf.add(total, tf.mul(retainLoss(ctx, batches, p), config.retainWeight));
          return total;
        },
        { tasks: useRetain ? model.tasks : targets },
      );
      const n = batches.forget.ids.length;
      return {
        grads,
        loss: value,
        // One FGSM forward+backward per target task and instance, plus the fine-tune pass.
        gradientEvaluations: n * targets.length + n + (retained?.ids.length ?? 0),
      };
    } finally {
      tf.dispose(Object.values(labels));
    }
  },
};
