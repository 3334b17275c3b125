/**
 * `ssd`: Selective Synaptic Dampening — retraining-free unlearning by shrinking the parameters that
 * matter far more to the forget set than to the training set.
 *
 * Reference: J. Foster, S. Schoepf, A. Brintrup, "Fast Machine Unlearning Without Retraining Through
 * Selective Synaptic Dampening", AAAI 2024, https://arxiv.org/abs/2308.07707.
 *
 * 1. **Importances** (diagonal of the empirical Fisher information, as in the paper):
 *    `I_D[i] = mean_batches (∂L_D/∂θ_i)²` over minibatches of the whole training set `D` (every
 *    task, every label the original model was trained on), and `I_f[i]` the same over minibatches
 *    of the forget set with the **forget objective** (target tasks only).
 * 2. **Selection and dampening**: every parameter entry with `I_f[i] > α · I_D[i]` is multiplied by
 *    `β_i = min(λ · I_D[i] / I_f[i], 1)`; every other entry is left bit-identical. α is the
 *    selection weighting, λ the dampening constant (paper: α = 10, λ = 1).
 *
 * Dense / multi-task adaptation: the importances come from the training losses themselves (per-pixel
 * means for segmentation, depth and normals), and squared gradients need no bounding, so regression
 * tasks are handled as classification ones. Partial-task: `I_f` uses the target tasks' losses only,
 * so a non-target head (`I_f = 0`) is never dampened, and a shared parameter is dampened only when
 * the target tasks' forget importance dominates its importance for **all** tasks on `D`.
 *
 * Budget: the method is one-shot. Any `epochs` > 0 runs it once (`epochs: 0` leaves the model
 * unchanged, as for every method); the learning rate, optimiser and retain batch are unused.
 *
 * Limits: SSD was designed for forgetting whole classes, where the forget set's importances stand
 * out; for a random subset of instances they are close to the training set's, so few parameters
 * pass the α test and the model may barely change (lower α to select more). As in the official
 * code, an entry with `I_D = 0 < I_f` is zeroed.
 *
 * @module
 */
import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar } from '@mtu/core-tensors';
import type { Batch } from '@mtu/datasets';
import { batchIds, disposeBatch, readBatch } from '@mtu/datasets';
import { lossAndGradients, valueAndGradients } from '@mtu/multitask-model';
import type { LoopConfig, UnlearnContext, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { forgetLoss, targetTasks } from '../objectives.js';

/**
 * The config of `ssd`.
 *
 * @example
 * ```ts
 * await unlearn(model, ds, request, ssd, { config: { selectionWeighting: 5 } });
 * ```
 */
export interface SsdConfig extends LoopConfig {
  /** α: an entry is selected when its forget importance exceeds α × its training importance. */
  readonly selectionWeighting: number;
  /** λ: a selected entry is multiplied by `min(λ · I_D / I_f, 1)`. */
  readonly dampening: number;
  /** Instances per minibatch of both importance passes (the same for both, so they compare). */
  readonly importanceBatchSize: number;
  /** Training instances the importance `I_D` is computed on (0 = all of them). */
  readonly trainSample: number;
}

/**
 * Defaults: α = 10 and λ = 1, the values of the paper's experiments (Foster et al. 2024, §5);
 * importances on minibatches of 8 over the whole training set. The loop's fields are unused except
 * `epochs` (> 0 runs the method once).
 *
 * @example
 * ```ts
 * SSD_DEFAULTS.selectionWeighting; // 10
 * ```
 */
export const SSD_DEFAULTS: SsdConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: 1, // one-shot: any epochs > 0 runs it once
  selectionWeighting: 10, // paper: α = 10
  dampening: 1, // paper: λ = 1
  importanceBatchSize: 8,
  trainSample: 0,
});

const schema = z
  .object({
    ...loopConfigFields,
    selectionWeighting: z.number().positive().finite().describe('Selection weighting α'),
    dampening: z.number().positive().finite().describe('Dampening constant λ'),
    importanceBatchSize: z.number().int().min(1).describe('Minibatch size of the importances'),
    trainSample: z
      .number()
      .int()
      .min(0)
      .describe('Training instances for the training importance (0 = all)'),
  })
  .strict();

/**
 * The mean squared minibatch gradient over `ids` in minibatches of `batchSize`, where
 * `gradients(batch)` returns one minibatch's gradients by parameter name (the caller's objective): a
 * diagonal empirical-Fisher importance per parameter (shapes as the parameters; parameters the
 * objective does not reach are absent). The caller owns the returned tensors; `gradients`' results
 * are disposed here.
 *
 * @example
 * ```ts
 * const imp = squaredGradientImportance(ctx, ctx.views.forget, 8, (batch) =>
 *   lossAndGradients(ctx.model, ctx.dataset, batch).grads,
 * );
 * ```
 */
export function squaredGradientImportance(
  ctx: UnlearnContext,
  ids: ArrayLike<number>,
  batchSize: number,
  gradients: (batch: Batch) => NamedTensorMap,
): NamedTensorMap {
  const batches = batchIds(ids, { batchSize });
  const sum: NamedTensorMap = {};
  try {
    for (const batchIdsOf of batches) {
      ctx.signal?.throwIfAborted();
      const batch = readBatch(ctx.dataset, batchIdsOf);
      try {
        const grads = gradients(batch);
        ctx.countGradients(batchIdsOf.length);
        for (const [name, g] of Object.entries(grads)) {
          const prev = sum[name];
          sum[name] = tf.tidy(() =>
            prev === undefined ? tf.square(g) : tf.add(prev, tf.square(g)),
          );
          prev?.dispose();
        }
        tf.dispose(grads);
      } finally {
        disposeBatch(batch);
      }
    }
    const mean: NamedTensorMap = {};
    for (const [name, s] of Object.entries(sum))
      mean[name] = tf.div(s, Math.max(batches.length, 1));
    return mean;
  } finally {
    tf.dispose(sum);
  }
}

/**
 * SSD's selection and dampening (pure): for every entry of every parameter,
 * `θ'[i] = θ[i] · min(λ · I_D[i] / I_f[i], 1)` where `I_f[i] > α · I_D[i]`, else `θ'[i] = θ[i]`
 * exactly. A parameter missing from `forgetImportance` has `I_f = 0` and is copied; one missing
 * from `trainImportance` has `I_D = 0`. Returns new tensors (caller owns them) and the number of
 * selected entries.
 *
 * @example
 * ```ts
 * const w = { a: tf.tensor1d([1, 2]) };
 * const { weights, selected } = dampen(w, { a: tf.tensor1d([1, 1]) }, { a: tf.tensor1d([20, 4]) }, {
 *   selectionWeighting: 10,
 *   dampening: 1,
 * });
 * // weights.a = [1 · 1/20, 2], selected = 1
 * ```
 */
export function dampen(
  weights: NamedTensorMap,
  trainImportance: NamedTensorMap,
  forgetImportance: NamedTensorMap,
  options: { readonly selectionWeighting: number; readonly dampening: number },
): { weights: NamedTensorMap; selected: number } {
  const out: NamedTensorMap = {};
  let selected = 0;
  try {
    for (const [name, theta] of Object.entries(weights)) {
      const fImp = forgetImportance[name];
      if (fImp === undefined) {
        out[name] = theta.clone();
        continue;
      }
      const dImp = trainImportance[name];
      const d = dImp ?? tf.zerosLike(fImp);
      const pick = tf.tidy(() => tf.greater(fImp, tf.mul(d, options.selectionWeighting)));
      try {
        out[name] = tf.tidy(() => {
          const beta = tf.minimum(tf.divNoNan(tf.mul(d, options.dampening), fImp), 1);
          return tf.where(pick, tf.mul(theta, beta), theta);
        });
        selected += tf.tidy(() => tf.sum(tf.cast(pick, 'int32')).dataSync()[0]!);
      } finally {
        pick.dispose();
        if (dImp === undefined) d.dispose();
      }
    }
    return { weights: out, selected };
  } catch (error) {
    tf.dispose(out);
    throw error;
  }
}

/** Every training instance (forget ∪ retain), or a seeded sample of `count` of them. */
function trainingIds(ctx: UnlearnContext<SsdConfig>): Int32Array {
  const all = [...ctx.views.forget, ...ctx.views.retain].sort((a, b) => a - b);
  const n = ctx.config.trainSample;
  if (n === 0 || n >= all.length) return Int32Array.from(all);
  return Int32Array.from(
    ctx.rng
      .fork('train-sample')
      .sample(all, n)
      .sort((a, b) => a - b),
  );
}

/**
 * Selective Synaptic Dampening (one-shot; see the module documentation).
 *
 * @example
 * ```ts
 * const result = await unlearn(model, dataset, request, ssd, { config: { selectionWeighting: 5 } });
 * ```
 */
export const ssd: Unlearner<SsdConfig, undefined> = {
  id: 'ssd',
  displayName: 'SSD (selective synaptic dampening)',
  reference: {
    title: 'Fast Machine Unlearning Without Retraining Through Selective Synaptic Dampening',
    authors: 'Jack Foster, Stefan Schoepf, Alexandra Brintrup',
    venue: 'AAAI 2024',
    url: 'https://arxiv.org/abs/2308.07707',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: SSD_DEFAULTS,
  schema,

  run(ctx) {
    const { model, dataset, views, config } = ctx;
    const targets = targetTasks(ctx);
    const trainImportance = squaredGradientImportance(
      ctx,
      trainingIds(ctx),
      config.importanceBatchSize,
      (batch) => lossAndGradients(model, dataset, batch).grads,
    );
    let forgetImportance: NamedTensorMap = {};
    try {
      forgetImportance = squaredGradientImportance(
        ctx,
        views.forget,
        config.importanceBatchSize,
        (batch) =>
          valueAndGradients(
            model,
            (p): Scalar => forgetLoss(ctx, { forget: batch, retained: undefined }, p),
            { tasks: targets },
          ).grads,
      );
      const current = model.weights();
      try {
        const { weights, selected } = dampen(current, trainImportance, forgetImportance, config);
        try {
          model.setWeights(weights);
        } finally {
          tf.dispose(weights);
        }
        const total = Object.values(current).reduce((n, t) => n + t.size, 0);
        ctx.emit({ type: 'method', name: 'dampened', detail: { selected, of: total } });
      } finally {
        tf.dispose(current);
      }
    } finally {
      tf.dispose(trainImportance);
      tf.dispose(forgetImportance);
    }
    return Promise.resolve();
  },
};
