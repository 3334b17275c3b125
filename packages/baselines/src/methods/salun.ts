/**
 * `salun`: SalUn — weight saliency + random labelling.
 *
 * Reference: C. Fan, J. Liu, Y. Zhang, E. Wong, D. Wei, S. Liu, "SalUn: Empowering Machine
 * Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation",
 * ICLR 2024, https://arxiv.org/abs/2310.12508 (code: OPTML-Group/Unlearn-Saliency,
 * `Classification/generate_mask.py`, `Classification/unlearn/RL.py`; research/baselines.md §2.7).
 *
 * 1. **Setup — saliency mask**: `G = Σ_{forget minibatches} ∇_θ ℓ_f(θ_o)` with `ℓ_f` the forget loss
 *    of the **target tasks** only (sum over target tasks of the batch-mean loss; the sign of the
 *    GA loss does not matter for |G|). Every parameter entry (weights and biases, all groups, as in
 *    the official code) is ranked globally by |G| (ties: lower flat index first) and the top
 *    `⌊ratio · D⌋` entries (`int(len · ratio)` in generate_mask.py) form the mask (1 = may change).
 *    Parameters the target tasks cannot reach (non-target heads in partial-task) have G = 0 and so
 *    rank last.
 * 2. **Unlearning** = Random Labels (`random-labels`: random classes / truncated-Gaussian depths /
 *    random unit normals for the target tasks, plus the retain objective) with the gradient
 *    multiplied by the mask (`transformGradients`), so `θ_u = m ⊙ (θ_o + Δθ) + (1 − m) ⊙ θ_o`.
 * 3. **Restore**: the official code resets masked-out weights to their start values after each
 *    optimiser step (commit a6e89fd, for weight decay). The loop's optimisers have no weight decay,
 *    and a zero gradient leaves a weight bit-identical under SGD, momentum (its buffer stays 0) and
 *    Adam (m = v = 0), so masked-out weights cannot move between steps; `teardown` still restores
 *    them from the original model after the last step, as a guard.
 *
 * Multi-task / dense adaptation: saliency and random targets on the target tasks only
 * (baselines.md §2.5, §2.7); in partial-task the forget instances' non-target labels are retained
 * supervision (retain objective). Limits: as RL (i.i.d. depth targets pull toward the mean depth);
 * the mask is built once, on the original weights.
 *
 * @module
 */
import { flatten, tf, unflatten } from '@mtu/core-tensors';
import type { NamedTensorMap, Tensor } from '@mtu/core-tensors';
import { batchIds, disposeBatch, readBatch } from '@mtu/datasets';
import { valueAndGradients } from '@mtu/multitask-model';
import type { UnlearnContext, Unlearner } from '@mtu/unlearning';
import { loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { forgetLoss, targetTasks } from '../objectives.js';
import type { RandomLabelsConfig, RandomLabelsState } from './random-labels.js';
import {
  RANDOM_LABELS_DEFAULTS,
  randomLabelsObjective,
  randomLabelsState,
} from './random-labels.js';

/**
 * The config of `salun` (RL's options plus the mask ratio).
 *
 * @example
 * ```ts
 * await unlearn(model, ds, request, salun, { config: { ratio: 0.3 } });
 * ```
 */
export interface SalunConfig extends RandomLabelsConfig {
  /** Fraction r of all parameter entries kept trainable (the most salient ones). */
  readonly ratio: number;
}

/**
 * Defaults: SalUn README (CIFAR-10 example) — lr 0.013, 10 epochs, mask ratio 0.5, SGD momentum
 * 0.9 (weight decay 5e-4 not available in the loop). Adapted as RL: plain SGD (momentum 0.9
 * collapsed the `scenes` CPU model, see `RANDOM_LABELS_DEFAULTS`) at lr 0.01 — the README's 0.013
 * overshoots there (first steps' loss rises; UIS vs the original 41.5 partial-task / 20.7 full-task,
 * against 21.7 / 14.4 at 0.01 and 22.9 / 13.1 at 0.005). Batch sizes scaled down for the CPU
 * models.
 *
 * @example
 * ```ts
 * const config = { ...SALUN_DEFAULTS, ratio: 0.3 };
 * ```
 */
export const SALUN_DEFAULTS: SalunConfig = Object.freeze({
  ...RANDOM_LABELS_DEFAULTS,
  epochs: 10, // SalUn README: --unlearn_epochs 10
  learningRate: 0.01, // SalUn README: 0.013, overshoots on the CPU models (see above)
  optimizer: 'sgd', // SalUn impl.py: momentum 0.9, which collapses the CPU models
  momentum: 0,
  ratio: 0.5, // SalUn README: mask with_0.5.pt
});

const schema = z
  .object({
    ...loopConfigFields,
    excludeTrueClass: z.boolean().describe('Never draw the true class as a random label'),
    retainWeight: z.number().min(0).finite().describe('Weight α of the retain objective'),
    ratio: z.number().gt(0).max(1).describe('Fraction of weights in the saliency mask'),
  })
  .strict();

/**
 * The state of `salun`: RL's state plus the mask (state tensors, disposed in teardown).
 *
 * @example
 * ```ts
 * const state = await salun.setup!(ctx);
 * state.kept; // ⌊ratio · D⌋
 * ```
 */
export interface SalunState extends RandomLabelsState {
  /** Per parameter: float32 0/1, 1 where the weight may change. */
  readonly mask: NamedTensorMap;
  /** Number of ones in the mask. */
  readonly kept: number;
}

/**
 * The global top-k mask of a flat saliency vector: 1 for the `k` entries of largest |s| (ties: lower
 * index first), 0 elsewhere.
 *
 * @example
 * ```ts
 * topKMask(Float32Array.of(0.1, -3, 2), 2); // Float32Array [0, 1, 1]
 * ```
 */
export function topKMask(saliency: Float32Array, k: number): Float32Array {
  const n = saliency.length;
  const abs = new Float32Array(n);
  for (let i = 0; i < n; i++) abs[i] = Math.abs(saliency[i]!);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => abs[b]! - abs[a]! || a - b);
  const mask = new Float32Array(n);
  for (let i = 0; i < Math.min(k, n); i++) mask[order[i]!] = 1;
  return mask;
}

/**
 * The SalUn saliency mask of the working model: |Σ_batches ∇ forget loss| over the target tasks,
 * global top `⌊ratio · D⌋`. Returns the mask by parameter name (caller owns the tensors).
 *
 * @example
 * ```ts
 * const { mask, kept } = saliencyMask(ctx, 0.5);
 * ```
 */
export function saliencyMask(
  ctx: UnlearnContext,
  ratio: number,
): { mask: NamedTensorMap; kept: number } {
  const { model, dataset, views, config } = ctx;
  const targets = targetTasks(ctx);
  let sum: NamedTensorMap | undefined;
  try {
    for (const ids of batchIds(views.forget, { batchSize: config.forgetBatchSize })) {
      ctx.signal?.throwIfAborted();
      const batch = readBatch(dataset, ids);
      try {
        const { grads } = valueAndGradients(
          model,
          (p) => forgetLoss(ctx, { forget: batch, retained: undefined }, p),
          { tasks: targets },
        );
        ctx.countGradients(ids.length);
        if (sum === undefined) {
          sum = grads;
        } else {
          const prev: NamedTensorMap = sum;
          sum = tf.tidy(() => {
            const out: NamedTensorMap = {};
            for (const [name, g] of Object.entries(grads)) out[name] = tf.add(prev[name]!, g);
            return out;
          });
          tf.dispose(prev);
          tf.dispose(grads);
        }
      } finally {
        disposeBatch(batch);
      }
    }
    const flat = flatten(model.layout, sum!);
    const values = flat.dataSync() as Float32Array;
    flat.dispose();
    const kept = Math.floor(ratio * values.length);
    const maskVec = tf.tensor1d(topKMask(values, kept), 'float32');
    const mask = unflatten(model.layout, maskVec);
    maskVec.dispose();
    return { mask, kept };
  } finally {
    if (sum !== undefined) tf.dispose(sum);
  }
}

/**
 * SalUn: random-label forgetting restricted to the most salient weights.
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, { instances: [1, 2], tasks: 'all' }, salun, {
 *   config: { ratio: 0.5, epochs: 5 },
 * });
 * ```
 */
export const salun: Unlearner<SalunConfig, SalunState> = {
  id: 'salun',
  displayName: 'SalUn (weight saliency + random labels)',
  reference: {
    title:
      'SalUn: Empowering Machine Unlearning via Gradient-based Weight Saliency in Both Image Classification and Generation',
    authors: 'Chongyu Fan, Jiancheng Liu, Yihua Zhang, Eric Wong, Dennis Wei, Sijia Liu',
    venue: 'ICLR 2024',
    url: 'https://arxiv.org/abs/2310.12508',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: SALUN_DEFAULTS,
  schema,

  setup(ctx) {
    const base = randomLabelsState(ctx);
    const { mask, kept } = saliencyMask(ctx, ctx.config.ratio);
    ctx.emit({ type: 'method', name: 'saliency-mask', detail: { kept, ratio: ctx.config.ratio } });
    return { ...base, mask, kept };
  },

  loss: randomLabelsObjective,

  transformGradients(_ctx, grads, state) {
    const out: NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads)) {
      const m = state.mask[name];
      out[name] = m === undefined ? g : tf.mul(g, m);
    }
    return out;
  },

  teardown(ctx, state) {
    try {
      if (!ctx.model.disposed) {
        const restored = tf.tidy(() => {
          const out: NamedTensorMap = {};
          for (const [name, m] of Object.entries(state.mask)) {
            const v: Tensor = ctx.model.variables[name]!;
            const o: Tensor = ctx.original.variables[name]!;
            out[name] = tf.where(tf.greater(m, 0), v, o);
          }
          return out;
        });
        ctx.model.setWeights(restored);
        tf.dispose(restored);
      }
    } finally {
      tf.dispose(state.mask);
    }
  },
};
