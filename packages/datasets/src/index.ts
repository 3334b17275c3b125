/**
 * `@mtu/datasets`: the multi-task dataset contract, forget requests and their views, seeded
 * batching, and the dataset sources.
 *
 * @packageDocumentation
 */
export { TASK_KINDS } from './types.js';
export type { Dataset, LabelArray, Split, SplitArrays, Task, TaskKind, TaskSpec } from './types.js';
export { createDataset, getTask, inputSize, locate, resolveTask, taskNames } from './dataset.js';
export type { DatasetInit } from './dataset.js';
export {
  fullSupervision,
  makeForgetRequest,
  requestViews,
  validateForgetRequest,
} from './request.js';
export type {
  ForgetRequest,
  MakeForgetRequestOptions,
  RequestViews,
  SupervisionMask,
  UnlearningSetting,
} from './request.js';
export { batchIds, disposeBatch, iterateBatches, readBatch, supervisedIds } from './batch.js';
export type { Batch, BatchingOptions, ReadBatchOptions } from './batch.js';
export { createDatasetRegistry, optionInfo, resolveDatasetOptions } from './registry.js';
export type {
  DatasetDescriptor,
  DatasetRegistry,
  LoadContext,
  LoadProgress,
  OptionInfo,
} from './registry.js';
