/**
 * `finetune` (FT): unlearning by "catastrophic forgetting" — keep descending the retain objective
 * from the original weights, never touching the forget labels (research/baselines.md §2.2).
 *
 * Reference: the FT baseline as used in "Model Sparsity Can Simplify Machine Unlearning" (Jia, Liu,
 * Ram, Yao, Liu, Liu, Sharma, Liu; NeurIPS 2023, https://arxiv.org/abs/2304.04934) and in the SCRUB
 * paper (Kurmanji et al., NeurIPS 2023): "fine-tune on the remaining data".
 *
 * Objective per step: `L_r = Σ_t L_t` over every task on the step's `retained` batch (retain
 * instances plus the step's forget instances read under the retained supervision), via the shared
 * `retainLoss`. The forget batch is only the loop's clock (one step per forget minibatch).
 *
 * Dense / multi-task adaptation: none needed — the training losses are reused.
 * - full-task: the forget instances carry no label in `retained`, so FT sees D_r only;
 * - partial-task: the forget instances' non-target labels are part of the retain objective (they
 *   are retained supervision), their target labels are blanked and never reach the loss.
 *
 * Budget: the loop's epoch is a pass over the **forget** set, so one FT run sees
 * `epochs × ⌈|D_f| / forgetBatchSize⌉ × retainBatchSize` retain instances (not whole passes over
 * D_r as in the classification recipes); raise `retainBatchSize` / `epochs` for more.
 *
 * Limits: forgetting is only implicit (drift away from the forget instances), so on a small forget
 * set with a short budget FT typically forgets little; it needs `retainBatchSize` > 0.
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import type { LoopConfig, Unlearner } from '@mtu/unlearning';
import { DEFAULT_LOOP_CONFIG, loopConfigFields } from '@mtu/unlearning';
import { z } from 'zod';
import { retainLoss } from '../objectives.js';

/**
 * The config of `finetune` (the loop's fields only).
 *
 * @example
 * ```ts
 * const config: FinetuneConfig = { ...FINETUNE_DEFAULTS, retainBatchSize: 32 };
 * ```
 */
export type FinetuneConfig = LoopConfig;

/**
 * Defaults: plain SGD, 10 epochs (SCRUB small-scale notebook FT: SGD lr 0.01, 10 epochs, weight
 * decay 0 — meghdadk/SCRUB@98ffb11; lr 0.01 / 10 epochs also in the Unlearn-Sparse README), with the
 * learning rate lowered to 3e-3: on the Adam-trained CPU `scenes` model (256 train images, 40
 * epochs, 10 % forget) lr 0.01 raised the retained depth loss by 35–60 % (the depth head overshoots
 * under plain SGD), while 1e-3–3e-3 lowered every task's loss (baselines.md §6: dense Adam-trained
 * models need smaller SGD steps). No momentum (Unlearn-Sparse's 0.9 would be a 10× larger step) and
 * no weight decay (the loop has none). Retain batch 16 per step.
 *
 * @example
 * ```ts
 * FINETUNE_DEFAULTS.learningRate; // 3e-3
 * ```
 */
export const FINETUNE_DEFAULTS: FinetuneConfig = Object.freeze({
  ...DEFAULT_LOOP_CONFIG,
  epochs: 10, // SCRUB notebook / Unlearn-Sparse README: 10 epochs
  learningRate: 3e-3, // published 0.01 (SCRUB notebook, Unlearn-Sparse README), lowered for scenes
  optimizer: 'sgd', // SCRUB notebook: SGD, wd 0
  momentum: 0,
  forgetBatchSize: 8,
  retainBatchSize: 16,
  maxSteps: 0,
  earlyStop: false,
});

const schema = z.object({ ...loopConfigFields }).strict();

/**
 * Fine-tuning on the retained supervision only.
 *
 * @example
 * ```ts
 * const result = await unlearn(model, ds, request, finetune, { config: { epochs: 5 } });
 * ```
 */
export const finetune: Unlearner<FinetuneConfig, undefined> = {
  id: 'finetune',
  displayName: 'Fine-tune (FT)',
  reference: {
    title: 'Model Sparsity Can Simplify Machine Unlearning',
    authors:
      'Jinghan Jia, Jiancheng Liu, Parikshit Ram, Yuguang Yao, Gaowen Liu, Yang Liu, Pranay Sharma, Sijia Liu',
    venue: 'NeurIPS 2023',
    url: 'https://arxiv.org/abs/2304.04934',
  },
  approximate: true,
  settings: ['full-task', 'partial-task'],
  defaults: FINETUNE_DEFAULTS,
  schema,

  setup(ctx) {
    if (ctx.config.retainBatchSize === 0) {
      throw new ConfigError('finetune.retainBatchSize', 0, 'FT needs retain instances (≥ 1)');
    }
    return undefined;
  },

  loss(ctx, batches, _state, params) {
    return retainLoss(ctx, batches, params);
  },
};
