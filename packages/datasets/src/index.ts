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
export { BUILTIN_DATASETS, registerBuiltinDatasets } from './builtins.js';
export {
  SCENES_CLASSES,
  SCENES_DEFAULTS,
  SCENES_ID,
  SCENES_ROOM_CLASSES,
  loadScenes,
  renderScene,
  scenesDataset,
} from './sources/scenes/index.js';
export type {
  SceneBox,
  SceneCamera,
  SceneCylinder,
  SceneDescription,
  SceneLight,
  SceneMaterial,
  SceneObject,
  ScenePrimitive,
  SceneRender,
  SceneRoom,
  SceneShape,
  SceneSphere,
  SceneSurface,
  SceneSurfaceKind,
  SceneTexture,
  ScenesClassName,
  ScenesOptions,
  Vec3,
} from './sources/scenes/index.js';
export { NYUV2_CLASS_NAMES, cityscapesDataset, nyuv2Dataset } from './sources/mtan/index.js';
export type { CityscapesClasses, CityscapesOptions, Nyuv2Options } from './sources/mtan/index.js';
export { multiMnistDataset, planMultiMnist } from './sources/multi-mnist/index.js';
export type {
  DigitRef,
  MultiMnistInstance,
  MultiMnistOptions,
  MultiMnistPlan,
} from './sources/multi-mnist/index.js';
export { NPY_DTYPES, encodeNpy, parseNpy, readNpy, toFloat32, toInt32, writeNpy } from './npy.js';
export type { EncodeNpyOptions, NpyArray, NpyData, NpyDtype } from './npy.js';
export { resizeBilinear, resizeNearest, resizeNormals } from './resize.js';
export type { HW, HWC } from './resize.js';
