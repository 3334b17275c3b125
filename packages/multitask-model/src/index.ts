/**
 * `@mtu/multitask-model`: a hard-parameter-sharing multi-task model (shared backbone + one head per
 * task) built from explicit tfjs variables in named parameter groups; masked per-task losses;
 * per-task and per-instance gradients; deterministic training and exact retraining; checkpoints.
 *
 * @packageDocumentation
 */
export {
  MODEL_FORMAT,
  MODEL_SPEC_VERSION,
  defaultModelSpec,
  levelSize,
  modelParams,
  usedParams,
  validateModelSpec,
} from './spec.js';
export type {
  BackboneSpec,
  HeadSpec,
  ModelParam,
  ModelSpec,
  ModelSpecOverrides,
  ParamInit,
} from './spec.js';
export { createModel, forward, groupLayout, modelFromWeights, selectHeads } from './model.js';
export type { CreateModelOptions, MultiTaskModel } from './model.js';
export { batchLoss, instanceLosses } from './losses.js';
export type { InstanceLosses } from './losses.js';
export {
  forEachInstanceGradient,
  gradientVector,
  lossAndGradients,
  perInstanceGradients,
  PER_INSTANCE_BATCH,
  sharedPassGradients,
  taskGradients,
  taskLosses,
  valueAndGradients,
} from './gradients.js';
export type {
  LossAndGradients,
  LossOptions,
  PerInstanceOptions,
  SharedPassGradients,
  SharedPassOptions,
  ValueAndGradientsOptions,
} from './gradients.js';
export { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, train } from './train.js';
export type { OptimizerName, TrainConfig, TrainEvent, TrainOptions, TrainResult } from './train.js';
export { loadModel, saveModel, specDifference } from './checkpoint.js';
export type { LoadModelOptions, LoadedModel, ModelProvenance } from './checkpoint.js';
export { createOptimizer } from './optimizer.js';
export type { ModelOptimizer, OptimizerConfig } from './optimizer.js';
