/**
 * The one module of the repository that imports TensorFlow.js. Every other module, in this package
 * and in the rest of the monorepo, uses what is re-exported here.
 *
 * The `@tensorflow/tfjs` umbrella package is imported (not `@tensorflow/tfjs-core`): under Node ESM the
 * core package alone registers no gradient functions, so `tf.variableGrads` would fail.
 * Importing this module registers no backend as the active one and starts nothing.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
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
} from '@tensorflow/tfjs';
