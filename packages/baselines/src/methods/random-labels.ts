/**
 * `random-labels` (RL): fine-tune on the forget instances with **random labels** for their target
 * tasks, together with normal training on the retained data.
 *
 * Reference: the random-labelling baseline as implemented by SalUn — C. Fan, J. Liu, Y. Zhang,
 * E. Wong, D. Wei, S. Liu, "SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency
 * in Both Image Classification and Generation", ICLR 2024, https://arxiv.org/abs/2310.12508
 * (code: OPTML-Group/Unlearn-Saliency `Classification/unlearn/RL.py`); the idea goes back to
 * Graves, Nagisetty & Ganesh, "Amnesiac Machine Learning", AAAI 2021. Regression targets follow
 * the Gaussian amnesiac learning of Tarun et al., "Deep Regression Unlearning", ICML 2023
 * (research/baselines.md §2.5).
 *
 * Objective per step (minimised with the loop's optimiser):
 * `Σ_{t ∈ T_f} mean_{x ∈ B_f valid} ℓ_t(θ; x, ỹ_t) + α · L_retain(θ; B_r)`, with fresh random targets
 * `ỹ_t` drawn every step from a fork of `ctx.rng` labelled by the step index and the task
 * (deterministic per seed), and `L_retain` the shared retain objective on the step's retained batch.
 *
 * Random targets per task kind (only valid label entries are replaced; invalid ones stay invalid):
 * - classification / segmentation: a class drawn uniformly (per instance / per pixel). With
 *   `excludeTrueClass` (default) from the C − 1 classes other than the true one — the objective of
 *   the SalUn paper (`E_{y' ≠ y}`) and of Amnesiac ML ("incorrect labels"); the official RL.py
 *   draws from all C classes, which `excludeTrueClass: false` reproduces.
 * - depth: per valid pixel a sample of N(μ, σ²) truncated to (0, ∞) (rejection sampling; μ and σ
 *   the mean and standard deviation of the valid depth values of the **retain** instances,
 *   computed at setup) — Gaussian amnesiac targets (baselines.md §2.5). Invalid pixels (0) stay 0.
 *   Limit: the depth loss is L1, so i.i.d. noise targets pull predictions toward the noise median
 *   ≈ μ (a flat "average depth" map) rather than toward an arbitrary wrong depth.
 * - normals: per valid pixel an isotropic Gaussian 3-vector normalised to unit length (a uniform
 *   random direction). Invalid pixels (0, 0, 0) stay 0.
 *
 * Multi-task: random targets only for the request's target tasks; in partial-task the forget
 * instances' non-target labels are part of the retain objective (they are in `batches.retained`),
 * and in full-task the forget instances carry no label there. Descent on random targets is bounded
 * (bounded per-pixel losses or L1 with bounded gradient), so no loss cap is needed.
 *
 * Limits: the official code alternates a forget pass and a retain pass (or mixes the two sets in
 * one loader); here each step sums one forget and one retain minibatch (α = 1 by default). The
 * loop has no weight decay (the recipe's 5e-4 is dropped).
 *
 * @module
 */
import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Rng, Scalar, Tensor } from '@mtu/core-tensors';
import type { Batch, Dataset, Task } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import type { LoopConfig, StepBatches, UnlearnContext, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { retainLoss, targetTasks, taskInstanceLosses } from '../objectives.js';

/**
 * The config of `random-labels`.
 *
 * @example
 * ```ts
 * await unlearn(model, ds, request, randomLabels, { config: { excludeTrueClass: false } });
 * ```
 */
export interface RandomLabelsConfig extends LoopConfig {
  /** Classification / segmentation: never draw the true class (default true). */
  readonly excludeTrueClass: boolean;
  /** α, weight of the retain objective. */
  readonly retainWeight: number;
}

/**
 * Defaults. Published recipe (SalUn `Classification/unlearn/RL.py`, `impl.py`, README; baselines.md
 * §6): SGD with momentum 0.9, lr ≈ 0.01, 10 epochs, weight decay 5e-4 (not available in the loop).
 * Adapted: **plain SGD** at the published lr — on the `scenes` CPU model (trained with Adam) the
 * random-label cross-entropy has a gradient norm ≈ 45 (vs ≈ 1 for the true labels) and momentum 0.9
 * at lr 0.01 collapsed every task (retain mIoU 0.67 → 0.15), while plain SGD at 0.01 brings the
 * forget mIoU to the retrained model's level (0.65 → 0.48; retrain 0.46) with retain 0.67 → 0.53.
 * Batch sizes are scaled down for the CPU models (the code uses 256).
 *
 * @example
 * ```ts
 * const config = { ...RANDOM_LABELS_DEFAULTS, epochs: 3 };
 * ```
 */
export const RANDOM_LABELS_DEFAULTS: RandomLabelsConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: 10, // SalUn README / RL.py: 10 unlearning epochs
  learningRate: 0.01, // baselines.md §6: RL lr ≈ 0.01 (SalUn README)
  optimizer: 'sgd', // SalUn impl.py uses momentum 0.9: collapses the CPU models (see above)
  momentum: 0, // (momentum 0.9 in impl.py; unused by plain SGD)
  forgetBatchSize: 8, // CPU scale (code: 256)
  retainBatchSize: 8, // CPU scale (code: 256)
  earlyStop: false,
  excludeTrueClass: true, // SalUn paper objective E_{y'≠y}; RL.py draws from all classes
  retainWeight: 1, // RL.py: retain pass with weight 1 (no explicit α)
});

const schema = z
  .object({
    ...loopConfigFields,
    excludeTrueClass: z.boolean().describe('Never draw the true class as a random label'),
    retainWeight: z.number().min(0).finite().describe('Weight α of the retain objective'),
  })
  .strict();

/**
 * Mean and standard deviation of a regression task's valid labels.
 *
 * @example
 * ```ts
 * const stats: TargetStats = labelStats(ds, 'depth', views.retain);
 * ```
 */
export interface TargetStats {
  readonly mean: number;
  readonly std: number;
}

/**
 * The state of `random-labels` (no tensors), built by {@link randomLabelsState}.
 *
 * @example
 * ```ts
 * const state: RandomLabelsState = randomLabelsState(ctx);
 * ```
 */
export interface RandomLabelsState {
  /** Per depth target task: statistics of the retain instances' valid depths. */
  readonly depthStats: Readonly<Record<string, TargetStats>>;
  /** Steps taken so far (each step draws fresh targets). */
  readonly counter: { step: number };
}

/**
 * Options of {@link randomTargets}.
 *
 * @example
 * ```ts
 * const options: RandomTargetOptions = { excludeTrueClass: true, depth: { mean: 2.5, std: 1 } };
 * ```
 */
export interface RandomTargetOptions {
  /** Classification / segmentation: never draw the true class. */
  readonly excludeTrueClass: boolean;
  /** Depth: the Gaussian the targets are drawn from (truncated to positive values). */
  readonly depth?: TargetStats;
}

function positiveNormal(rng: Rng, stats: TargetStats): number {
  for (let i = 0; i < 64; i++) {
    const v = rng.normal(stats.mean, stats.std);
    if (v > 0) return v;
  }
  return stats.mean > 0 ? stats.mean : 1;
}

/**
 * Random targets for one task, the shape and dtype of `labels` (a batch's labels of `task`):
 * uniform classes (optionally never the true one), truncated-Gaussian depths, or uniform unit
 * normals, on valid entries only (invalid entries are copied). Deterministic given `rng`'s state.
 * Returns a new tensor owned by the caller.
 *
 * @example
 * ```ts
 * const y = randomTargets(getTask(ds, 'segmentation'), batch.labels.segmentation, rng, {
 *   excludeTrueClass: true,
 * });
 * ```
 */
export function randomTargets(
  task: Task,
  labels: Tensor,
  rng: Rng,
  options: RandomTargetOptions,
): Tensor {
  const src = labels.dataSync();
  switch (task.kind) {
    case 'classification':
    case 'segmentation': {
      const c = task.classes;
      const out = Int32Array.from(src);
      for (let i = 0; i < out.length; i++) {
        const y = out[i]!;
        if (y < 0 || y >= c) continue;
        if (options.excludeTrueClass) {
          const r = rng.int(0, c - 1);
          out[i] = r >= y ? r + 1 : r;
        } else {
          out[i] = rng.int(0, c);
        }
      }
      return tf.tensor(out, labels.shape, 'int32');
    }
    case 'depth': {
      const stats = options.depth ?? { mean: 1, std: 0 };
      const out = Float32Array.from(src);
      for (let i = 0; i < out.length; i++) {
        if (out[i]! > 0) out[i] = positiveNormal(rng, stats);
      }
      return tf.tensor(out, labels.shape, 'float32');
    }
    case 'normals': {
      const out = Float32Array.from(src);
      for (let i = 0; i + 2 < out.length; i += 3) {
        if (out[i] === 0 && out[i + 1] === 0 && out[i + 2] === 0) continue;
        let a = 0;
        let b = 0;
        let d = 0;
        let n = 0;
        while (n < 1e-6) {
          a = rng.normal();
          b = rng.normal();
          d = rng.normal();
          n = Math.hypot(a, b, d);
        }
        out[i] = a / n;
        out[i + 1] = b / n;
        out[i + 2] = d / n;
      }
      return tf.tensor(out, labels.shape, 'float32');
    }
  }
}

/**
 * Mean and standard deviation of the valid (> 0) labels of regression task `t` over the train
 * instances `ids` that have a label for it (float64 sums). `{ mean: 1, std: 0 }` when none.
 *
 * @example
 * ```ts
 * const stats = labelStats(ds, 'depth', views.retain); // { mean, std }
 * ```
 */
export function labelStats(dataset: Dataset, t: string, ids: Int32Array): TargetStats {
  const task = getTask(dataset, t);
  const labels = dataset.train.labels[t]!;
  const present = dataset.train.present[t];
  const size = task.labelSize;
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (const id of ids) {
    const pos = id - dataset.train.first;
    if (present !== undefined && present[pos] === 0) continue;
    for (let k = pos * size; k < (pos + 1) * size; k++) {
      const v = labels[k]!;
      if (v > 0) {
        s += v;
        s2 += v * v;
        n++;
      }
    }
  }
  if (n === 0) return { mean: 1, std: 0 };
  const mean = s / n;
  return { mean, std: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

/**
 * Setup shared by RL and SalUn: the depth statistics of the retain instances, a step counter.
 *
 * @example
 * ```ts
 * setup: (ctx) => randomLabelsState(ctx),
 * ```
 */
export function randomLabelsState(ctx: UnlearnContext): RandomLabelsState {
  const depthStats: Record<string, TargetStats> = {};
  for (const t of targetTasks(ctx)) {
    if (getTask(ctx.dataset, t).kind === 'depth') {
      depthStats[t] = labelStats(ctx.dataset, t, ctx.views.retain);
    }
  }
  return { depthStats, counter: { step: 0 } };
}

/**
 * The random-label forget objective on `batch`: `Σ_{t ∈ T_f} mean_valid ℓ_t(θ; x, ỹ_t)` with the
 * targets drawn from `rng.fork(t)`. Creates tensors: call inside a gradient function or tidy.
 *
 * @example
 * ```ts
 * const f = randomLabelForgetLoss(ctx, batches.forget, params, state.depthStats, rng, true);
 * ```
 */
export function randomLabelForgetLoss(
  ctx: UnlearnContext,
  batch: Batch,
  params: NamedTensorMap,
  depthStats: Readonly<Record<string, TargetStats>>,
  rng: Rng,
  excludeTrueClass: boolean,
): Scalar {
  let total: Scalar = tf.scalar(0);
  for (const t of targetTasks(ctx)) {
    const task = getTask(ctx.dataset, t);
    const stats = depthStats[t];
    const labels = randomTargets(task, batch.labels[t]!, rng.fork(t), {
      excludeTrueClass,
      ...(stats === undefined ? {} : { depth: stats }),
    });
    const { loss, valid } = taskInstanceLosses(ctx, batch, params, t, labels);
    total = tf.add(total, tf.div(tf.sum(tf.mul(loss, valid)), tf.maximum(tf.sum(valid), 1)));
  }
  return total;
}

/**
 * The whole RL step objective (random-label forget loss + α · retain loss), drawing this step's
 * targets from `ctx.rng.fork('labels').fork(step)`. Advances `state.counter`. Creates tensors (the
 * loop calls it inside its gradient function).
 *
 * @example
 * ```ts
 * loss: randomLabelsObjective, // as an Unlearner's loss hook
 * ```
 */
export function randomLabelsObjective(
  ctx: UnlearnContext<RandomLabelsConfig>,
  batches: StepBatches,
  state: RandomLabelsState,
  params: NamedTensorMap,
): Scalar {
  const step = state.counter.step++;
  const rng = ctx.rng.fork('labels').fork(step);
  const forget = randomLabelForgetLoss(
    ctx,
    batches.forget,
    params,
    state.depthStats,
    rng,
    ctx.config.excludeTrueClass,
  );
  if (ctx.config.retainWeight === 0 || batches.retained === undefined) return forget;
  return tf.add(forget, tf.mul(retainLoss(ctx, batches, params), ctx.config.retainWeight));
}

/**
 * Random Labels (RL): fine-tune the forget instances' target tasks toward random targets, plus the
 * retain objective.
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, { instances: [1, 2], tasks: ['depth'] }, randomLabels, {
 *   config: { epochs: 3 },
 * });
 * ```
 */
export const randomLabels: Unlearner<RandomLabelsConfig, RandomLabelsState> = {
  id: 'random-labels',
  displayName: 'Random Labels (RL)',
  reference: {
    title:
      'SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation (RL baseline)',
    authors: 'Chongyu Fan, Jiancheng Liu, Yihua Zhang, Eric Wong, Dennis Wei, Sijia Liu',
    venue: 'ICLR 2024',
    url: 'https://arxiv.org/abs/2310.12508',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: RANDOM_LABELS_DEFAULTS,
  schema,
  setup: (ctx) => randomLabelsState(ctx),
  loss: randomLabelsObjective,
};
