/**
 * `Identity` for the wasm backend without a copy: the output shares the input's data and takes a
 * reference on it, as tfjs-backend-cpu's `Identity` does.
 *
 * The stock wasm kernel copies the data. tfjs runs `Identity` for every `tf.clone`, and the engine
 * clones every tensor a gradient saves for the backward pass (`save` in `customGrad`, the inputs
 * and outputs kernels save), so a training step copies each activation once more than it needs.
 * Sharing is safe because tensor data on the wasm backend is immutable: no wasm kernel writes an
 * input in place (each writes only the output it allocates), a variable's `assign` swaps its data
 * id instead of writing, and the data is freed only when the last reference is disposed. XNNPACK
 * operators cached per filter tensor stay valid for the same reason.
 *
 * @module
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';
import { asWasmBackend, type TensorInfo } from './wasm-backend.js';

function identityKernel(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.Identity);
  const { x } = args.inputs;
  if (x === undefined) throw new BackendError('wasm', 'Identity: input x is required');
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

/** `Identity` kernel config: shares the input's data (see the module documentation). */
export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identityKernel,
};
