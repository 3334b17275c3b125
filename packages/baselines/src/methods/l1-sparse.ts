/**
 * `l1-sparse`: fine-tuning on the retained supervision with a linearly decaying ℓ1 penalty on the
 * weights, `min_θ L_r(θ) + γ_t‖θ‖₁`, `γ_t = γ·(1 − t/T)` (research/baselines.md §2.8).
 *
 * Reference: "Model Sparsity Can Simplify Machine Unlearning" (Jinghan Jia, Jiancheng Liu,
 * Parikshit Ram, Yuguang Yao, Gaowen Liu, Yang Liu, Pranay Sharma, Sijia Liu; NeurIPS 2023,
 * https://arxiv.org/abs/2304.04934); official code OPTML-Group/Unlearn-Sparse@80ba55d and
 * OPTML-Group/Unlearn-Saliency@a6e89fd (`Classification/unlearn/FT.py`, `FT_l1`).
 *
 * Objective per step t of T: the shared `retainLoss` (every task on the step's retained batch) plus
 * `γ_t·Σ_θ |θ|` over **every** parameter tensor of the model (shared backbone, every head, weights
 * and biases — as the official code, which sums over all `model.parameters()`). Its gradient is
 * `∇L_r + γ_t·sign(θ)`.
 *
 * Schedule: the official code decays per epoch, `γ_e = γ·(1 − e/(E − E₀))` (E₀ = `no-l1-epochs`,
 * default 0). Here the decay is per step over the run's planned steps
 * T = epochs·⌈|D_f|/forgetBatchSize⌉ (capped by `maxSteps`): `γ_t = γ·(1 − t/T)`, t = 0 … T − 1,
 * the same line sampled finely (the loop's epochs are short passes over the forget set, so a per-epoch
 * schedule would be a staircase of few steps). {@link l1Coefficient} is the pure schedule.
 *
 * Dense / multi-task adaptation: none needed (retain-only FT plus a penalty). In partial-task
 * unlearning the retain term includes the forget instances' non-target labels; their target labels
 * never reach the objective. γ is an absolute weight: on models much larger than the CPU ones, scale
 * it so that γ‖θ‖₁ is comparable to the task losses at t = 0 (baselines.md §2.8).
 *
 * Limits: forgetting is implicit (as FT) — sparsity only helps approximate methods move toward the
 * retrained model; it needs `retainBatchSize` > 0. Early stop leaves the schedule unfinished.
 *
 * @module
 */
import { ConfigError, tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar } from '@mtu/core-tensors';
import type { LoopConfig, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { retainLoss } from '../objectives.js';

/**
 * The config of `l1-sparse`.
 *
 * @example
 * ```ts
 * const config: L1SparseConfig = { ...L1_SPARSE_DEFAULTS, gamma: 5e-4 };
 * ```
 */
export interface L1SparseConfig extends LoopConfig {
  /** γ: the ℓ1 weight at the first step (decays linearly to 0 over the run). */
  readonly gamma: number;
}

/**
 * The state of a run: the step counter and the planned number of steps T.
 *
 * @example
 * ```ts
 * const state: L1SparseState = { step: 0, totalSteps: plannedSteps(config, forget.length) };
 * ```
 */
export interface L1SparseState {
  /** Steps taken so far (t). */
  step: number;
  /** The run's planned steps (T). */
  readonly totalSteps: number;
}

/**
 * Defaults: plain SGD, 10 epochs (Unlearn-Sparse README: lr 0.01, 10 epochs), the learning rate
 * lowered to 3e-3 as `finetune`'s (lr 0.01 overshoots the depth head of the Adam-trained CPU models;
 * no momentum 0.9 / wd 5e-4 either, see `FINETUNE_DEFAULTS`); γ = 1e-4 (the value of third-party
 * reproduction scripts — the README leaves `${alpha}` open, baselines.md §2.8/§6); retain batch 16.
 *
 * @example
 * ```ts
 * L1_SPARSE_DEFAULTS.gamma; // 1e-4
 * ```
 */
export const L1_SPARSE_DEFAULTS: L1SparseConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: 10, // Unlearn-Sparse README: 10 epochs
  learningRate: 3e-3, // published 0.01 (Unlearn-Sparse README), lowered as finetune's
  optimizer: 'sgd',
  momentum: 0,
  forgetBatchSize: 8,
  retainBatchSize: 16,
  maxSteps: 0,
  earlyStop: false,
  gamma: 1e-4, // third-party Unlearn-Sparse scripts (baselines.md §2.8)
});

const schema = z
  .object({
    ...loopConfigFields,
    gamma: z.number().min(0).finite().describe('ℓ1 weight γ at the first step (linear decay to 0)'),
  })
  .strict();

/**
 * The ℓ1 weight at step `step` of `totalSteps`: `gamma·(1 − step/totalSteps)`, clamped at 0 (and 0
 * when there are no steps).
 *
 * @example
 * ```ts
 * l1Coefficient(1e-4, 0, 10); // 1e-4
 * l1Coefficient(1e-4, 5, 10); // 5e-5
 * l1Coefficient(1e-4, 10, 10); // 0
 * ```
 */
export function l1Coefficient(gamma: number, step: number, totalSteps: number): number {
  if (totalSteps <= 0) return 0;
  return gamma * Math.max(0, 1 - step / totalSteps);
}

/**
 * The planned number of steps of a run: `epochs·⌈forget/forgetBatchSize⌉`, capped by `maxSteps`
 * when it is set.
 *
 * @example
 * ```ts
 * plannedSteps({ epochs: 10, forgetBatchSize: 8, maxSteps: 0 }, 20); // 30
 * ```
 */
export function plannedSteps(
  config: Pick<LoopConfig, 'epochs' | 'forgetBatchSize' | 'maxSteps'>,
  forgetSize: number,
): number {
  const all = config.epochs * Math.ceil(forgetSize / config.forgetBatchSize);
  return config.maxSteps > 0 ? Math.min(all, config.maxSteps) : all;
}

/**
 * `‖θ‖₁` over every parameter of the map (in sorted-name order), whose gradient is exactly
 * `sign(θ)` (0 at θ = 0). Creates tensors: call inside a tidy
 * or gradient function.
 *
 * @example
 * ```ts
 * const l1 = tf.tidy(() => l1Norm(model.variables).dataSync()[0]);
 * ```
 */
export function l1Norm(params: NamedTensorMap): Scalar {
  let total: Scalar = tf.scalar(0);
  for (const name of Object.keys(params).sort()) {
    const p = params[name]!;
    // θ·sign(θ) = |θ|, with gradient sign(θ) (tf.sign's gradient is 0): 0 at θ = 0, as PyTorch's
    // |θ|. (tf.abs's gradient at 0 is −1, which would push exact zeros off zero every step.)
    total = tf.add(total, tf.sum(tf.mul(p, tf.sign(p))));
  }
  return total;
}

/**
 * ℓ1-sparse unlearning: FT on the retained supervision with a linearly decaying ℓ1 penalty.
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, request, l1Sparse, { config: { gamma: 5e-4 } });
 * ```
 */
export const l1Sparse: Unlearner<L1SparseConfig, L1SparseState> = {
  id: 'l1-sparse',
  displayName: 'ℓ1-sparse fine-tuning',
  reference: {
    title: 'Model Sparsity Can Simplify Machine Unlearning',
    authors:
      'Jinghan Jia, Jiancheng Liu, Parikshit Ram, Yuguang Yao, Gaowen Liu, Yang Liu, Pranay Sharma, Sijia Liu',
    venue: 'NeurIPS 2023',
    url: 'https://arxiv.org/abs/2304.04934',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: L1_SPARSE_DEFAULTS,
  schema,

  setup(ctx) {
    if (ctx.config.retainBatchSize === 0) {
      throw new ConfigError(
        'l1-sparse.retainBatchSize',
        0,
        'l1-sparse needs retain instances (≥ 1)',
      );
    }
    return { step: 0, totalSteps: plannedSteps(ctx.config, ctx.views.forget.length) };
  },

  loss(ctx, batches, state, params) {
    const gamma = l1Coefficient(ctx.config.gamma, state.step, state.totalSteps);
    state.step++;
    const retain = retainLoss(ctx, batches, params);
    return gamma > 0 ? tf.add(retain, tf.mul(l1Norm(params), gamma)) : retain;
  },
};
