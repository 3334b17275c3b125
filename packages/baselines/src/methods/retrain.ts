/**
 * `retrain`: exact unlearning — train a freshly initialised model from scratch on the retained
 * supervision of the request (the gold standard every approximate method is compared with;
 * research/baselines.md §2.1).
 *
 * Reference: the standard exact-unlearning baseline, as formalised in "Machine Unlearning"
 * (Bourtoule, Chandrasekaran, Choquette-Choo, Jia, Travers, Zhang, Lie, Papernot; IEEE S&P 2021,
 * https://arxiv.org/abs/1912.03817).
 *
 * Algorithm: the working model's weights are replaced by `createModel(spec, { seed: initSeed })`'s
 * and `train` from `@mtu/multitask-model` runs on `ctx.views.supervision` with the recipe in the
 * config. Nothing of the original model is used but its architecture.
 *
 * Dense / multi-task adaptation (none is needed, the supervision mask does it):
 * - full-task: the forget instances carry no supervised label, so `train` never reads them (D_r);
 * - partial-task: every instance is trained on, but the target tasks' labels of the forget instances
 *   are blanked when batches are read, so they never reach a loss; their non-target labels are kept.
 *
 * Config: the loop's `epochs`, `learningRate`, `optimizer` and `momentum` are the **training**
 * recipe's (epochs = passes over the retained instances; 0 = do nothing, as for every method), plus
 * `batchSize`, `weightDecay`, `shuffleSeed` (batch order) and `initSeed` (initial weights). The
 * defaults are `DEFAULT_TRAIN_CONFIG` (the recipe `train` uses for the original models); retraining
 * is exact only if the recipe and seeds equal the original model's — pass them when they differ.
 * `forgetBatchSize`, `retainBatchSize`, `maxSteps` and `earlyStop` are ignored (non-iterative).
 *
 * Limits: cost is a full training run (gradient evaluations = epochs × retained instances);
 * bit-for-bit reproducibility holds for the same backend only.
 *
 * @module
 */
import { createModel, DEFAULT_TRAIN_CONFIG, train } from '@mtu/multitask-model';
import type { LoopConfig, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';

/**
 * The config of `retrain`: the loop's fields hold the training recipe, plus its other fields.
 *
 * @example
 * ```ts
 * const config: RetrainConfig = { ...RETRAIN_DEFAULTS, epochs: 40, initSeed: 0 };
 * ```
 */
export interface RetrainConfig extends LoopConfig {
  /** Training minibatch size. */
  readonly batchSize: number;
  /** L2 weight decay of the training recipe. */
  readonly weightDecay: number;
  /** Seed of the training batch order (`TrainConfig.seed`). */
  readonly shuffleSeed: number;
  /** Seed of the fresh initial weights (`createModel`'s seed). */
  readonly initSeed: number;
}

/**
 * Defaults: `DEFAULT_TRAIN_CONFIG` of `@mtu/multitask-model` (the recipe of the original models:
 * Adam, lr 2e-3, 10 epochs, batch 16, no weight decay, seed 0) and init seed 0 (`createModel`'s
 * seed used by the apps).
 *
 * @example
 * ```ts
 * RETRAIN_DEFAULTS.epochs; // 10
 * ```
 */
export const RETRAIN_DEFAULTS: RetrainConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: DEFAULT_TRAIN_CONFIG.epochs,
  learningRate: DEFAULT_TRAIN_CONFIG.learningRate,
  optimizer: DEFAULT_TRAIN_CONFIG.optimizer,
  momentum: DEFAULT_TRAIN_CONFIG.momentum,
  earlyStop: false,
  batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
  weightDecay: DEFAULT_TRAIN_CONFIG.weightDecay,
  shuffleSeed: DEFAULT_TRAIN_CONFIG.seed,
  initSeed: 0,
});

const schema = z
  .object({
    ...loopConfigFields,
    batchSize: z.number().int().min(1).describe('Training minibatch size'),
    weightDecay: z.number().min(0).finite().describe('L2 weight decay of the training recipe'),
    shuffleSeed: z.number().int().describe('Seed of the training batch order'),
    initSeed: z.number().int().describe('Seed of the fresh initial weights'),
  })
  .strict();

/**
 * Exact unlearning by retraining from scratch on the retained supervision.
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, request, retrain, {
 *   config: { epochs: 10, batchSize: 16, initSeed: 0 },
 * });
 * ```
 */
export const retrain: Unlearner<RetrainConfig, undefined> = {
  id: 'retrain',
  displayName: 'Retrain (exact unlearning)',
  reference: {
    title: 'Machine Unlearning',
    authors:
      'Lucas Bourtoule, Varun Chandrasekaran, Christopher A. Choquette-Choo, Hengrui Jia, Adelin Travers, Baiwu Zhang, David Lie, Nicolas Papernot',
    venue: 'IEEE S&P 2021',
    url: 'https://arxiv.org/abs/1912.03817',
  },
  approximate: false,
  settings: ['full-task', 'partial-task'],
  defaults: RETRAIN_DEFAULTS,
  schema,

  async run(ctx) {
    const { config, model } = ctx;
    const fresh = createModel(model.spec, { seed: config.initSeed });
    try {
      const w = fresh.weights();
      try {
        model.setWeights(w);
      } finally {
        for (const t of Object.values(w)) t.dispose();
      }
    } finally {
      fresh.dispose();
    }
    const result = await train(model, ctx.dataset, {
      epochs: config.epochs,
      batchSize: config.batchSize,
      optimizer: config.optimizer,
      learningRate: config.learningRate,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      seed: config.shuffleSeed,
      supervision: ctx.views.supervision,
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    ctx.countGradients(result.instances * result.config.epochs);
  },
};
