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
export { createRng } from './rng.js';
export type { Rng, RngLabel } from './rng.js';
export {
  SHARED_GROUP,
  createParamLayout,
  layoutFromTensors,
  flatten,
  unflatten,
  groupRange,
  groupSlice,
  replaceGroup,
  embedGroup,
  dot,
  norm,
} from './layout.js';
export type { ParamSpec, ParamEntry, ParamGroup, ParamLayout, FlattenOptions } from './layout.js';
export {
  DEFAULT_RTOL,
  energyRank,
  orthonormalBasis,
  orthonormalBasisF64,
  orthonormalize,
  unionBasis,
  projectOut,
  projectOnto,
  orthonormalityError,
  orthonormalityErrorF64,
} from './linalg.js';
export type { BasisOptions, BasisF64Options, BasisF64Result } from './linalg.js';
export {
  combineF64,
  gramProductsF64,
  hostKernels,
  releaseHostKernels,
  residualProductsF64,
  setHostKernels,
} from './host-kernels/index.js';
export type { Combination, GramProducts, HostKernels, RowMajor } from './host-kernels/index.js';
export { activeBackend, MAX_WASM_THREADS } from './backend.js';
export type { ModuleImporter } from './backend.js';
export { createRefStep, REF_STEP_MODEL, refStepFlops } from './ref-step.js';
export { conv2dPerExampleGradients, densePerExampleGradients } from './per-example.js';
export type {
  Conv2DPadding,
  PerExampleConvGradients,
  PerExampleDenseGradients,
} from './per-example.js';
export type { RefStep, RefStepFlops, RefStepOptions } from './ref-step.js';
export {
  registerWasmGradientKernels,
  setConvWorkspaceLimit,
  setWasmConvolutions,
  WASM_GRADIENT_KERNELS,
  wasmGradientKernelsRegistered,
  wasmConvolutions,
} from './kernels/index.js';
export type { WasmConvolutions } from './kernels/index.js';
