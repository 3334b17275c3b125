/**
 * `@mtu/core-tensors`: the TensorFlow.js seam of MTU.
 *
 * @packageDocumentation
 */
export { tf } from './tf.js';
export type {
  DataType,
  NamedTensorMap,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  TensorLike,
  Variable,
} from './tf.js';
export { initBackend, shutdownBackend } from './backend.js';
export type { BackendInfo, BackendOptions, BackendPreference } from './backend.js';
export {
  BackendError,
  CheckpointError,
  ConfigError,
  MtuError,
  NotRegisteredError,
  ShapeError,
} from './errors.js';
export { CHECKPOINT_VERSION, loadTensors, saveTensors, writeFileAtomic } from './checkpoint.js';
export type { CheckpointMetadata, LoadedTensors, LoadTensorsOptions } from './checkpoint.js';
