/**
 * `@mtu/baselines`: established unlearning methods adapted to dense multi-task models, each an
 * Unlearner of `@mtu/unlearning` (one file per method under `methods/`).
 *
 * @packageDocumentation
 */
export { BASELINES, registerBaselines } from './register.js';
export { forgetLoss, retainLoss, targetTasks, taskInstanceLosses } from './objectives.js';
export * from './methods/retrain.js';
export * from './methods/finetune.js';
export * from './methods/gradient-ascent.js';
export * from './methods/neggrad-plus.js';
export * from './methods/random-labels.js';
export * from './methods/scrub.js';
export * from './methods/salun.js';
export * from './methods/l1-sparse.js';
export * from './methods/boundary-shrink.js';
export * from './methods/pgu.js';
export * from './methods/pcgrad.js';
export * from './methods/orthograd.js';
export * from './methods/lur.js';
export * from './methods/ssd.js';
