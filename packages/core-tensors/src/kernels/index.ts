/**
 * Gradient kernels MTU registers on the tfjs wasm backend, so that convolutional nets train on it,
 * correctly and fast. `initBackend({ prefer: 'wasm' })` calls {@link registerWasmGradientKernels}.
 *
 * | kernel | stock wasm 4.22 | why MTU registers one |
 * | --- | --- | --- |
 * | `Conv2DBackpropFilter` | missing | conv2d / conv2dTranspose / separableConv2d filter gradients |
 * | `Conv2DBackpropInput` | scalar loop, ~4 GFLOP/s | ~10× faster on XNNPACK convolutions |
 * | `DepthwiseConv2dNativeBackpropInput` | missing | depthwise/separable conv input gradient |
 * | `DepthwiseConv2dNativeBackpropFilter` | missing | depthwise/separable conv filter gradient |
 * | `MaxPoolGrad` | wrong for all-negative windows | running max starts at FLT_MIN, not −∞ |
 * | `AvgPoolGrad` | wrong with padding | divides by KH·KW; the forward excludes padding |
 * | `ResizeBilinearGrad` | wrong for `halfPixelCenters` | the attribute is ignored |
 * | `ResizeNearestNeighborGrad` | wrong for `halfPixelCenters` | the attribute is ignored |
 * | `UnsortedSegmentSum` | missing | gradient of `tf.gather` |
 * | `BatchMatMul` | transposed operands take a scalar loop | dense-layer gradients (`Aᵀ·dY`, `dY·Bᵀ`) ~10× faster |
 *
 * It also registers, for speed, seven kernels not listed in {@link WASM_GRADIENT_KERNELS}: an
 * `Equal` that compares with a value repeated along trailing axes in one loop (`kernels/equal.ts`;
 * the gradient of every `logSumExp`, where the stock kernel's generic broadcast is ~18× slower), a
 * copy-free `Identity` (`kernels/identity.ts`; tfjs clones every tensor a gradient saves for the
 * backward pass, and the stock wasm `Identity` copies the data each time), a `Slice` that copies
 * only the slice (`kernels/slice.ts`; the stock one first copies the whole input off the heap), a
 * `SplitV` made of those slices (the gradient of `Concat`), a `Concat` without a JS call per block
 * (`kernels/concat.ts`; joining the columns of tall matrices, U-Net skip connections), and
 * `MtuConv2DBackpropFilterBias` (filter and bias gradients of conv2d + bias from one matrix
 * product, used by the reference training step), and `MtuConv2DPerExampleFilterBias` (the same per
 * example of a batch, behind `conv2dPerExampleGradients`).
 *
 * It also wraps the stock `Conv2D` and `FusedConv2D`: unchanged by default, they switch to MTU's
 * Winograd F(4×4, 3×3) kernels (`winograd.ts`) for eligible convolutions after
 * `setWasmConvolutions('mtu')`, as do MTU's input- and filter-gradient kernels.
 *
 * The other gradients a small conv encoder–decoder or classifier needs (bias add, ReLU and friends,
 * batch norm, softmax cross-entropy, L1 and cosine losses, concat, pad, matMul, mean/variance)
 * already work on stock wasm; `kernels/audit.test.ts` checks every one of them through `tf.grad`.
 *
 * @module
 */
import { tf } from '../tf.js';
import type { StockKernel } from './wasm-backend.js';
import { batchMatMulConfig, stockBatchMatMul } from './batch-mat-mul.js';
import { concatConfig, stockConcat } from './concat.js';
import { equalConfig, stockEqual } from './equal.js';
import {
  conv2dBackpropFilterBiasConfig,
  conv2dBackpropFilterConfig,
  conv2dPerExampleFilterBiasConfig,
} from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from './depthwise-grad.js';
import { identityConfig } from './identity.js';
import { avgPoolGradConfig, maxPoolGradConfig } from './pool-grad.js';
import { resizeBilinearGradConfig, resizeNearestNeighborGradConfig } from './resize-grad.js';
import { sliceConfig, splitConfig, stockSlice } from './slice.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';
import {
  setStockForwardConv,
  winogradConv2DConfig,
  winogradFusedConv2DConfig,
} from './winograd.js';
export type { WasmConvolutions } from './winograd.js';

export { setConvWorkspaceLimit } from './workspace.js';
export { releaseWinogradHelpers, setWasmConvolutions, wasmConvolutions } from './winograd.js';

const CONFIGS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  maxPoolGradConfig,
  avgPoolGradConfig,
  resizeBilinearGradConfig,
  resizeNearestNeighborGradConfig,
  unsortedSegmentSumConfig,
  batchMatMulConfig,
];

/** Other kernels MTU replaces on wasm for speed (see the module documentation). */
const SPEED_CONFIGS: readonly tf.KernelConfig[] = [
  identityConfig,
  sliceConfig,
  splitConfig,
  concatConfig,
  equalConfig,
  conv2dBackpropFilterBiasConfig,
  conv2dPerExampleFilterBiasConfig,
  winogradConv2DConfig,
  winogradFusedConv2DConfig,
];

/** The stock kernels MTU's replacements fall back to, by replacement. */
const WRAPPED: ReadonlyMap<tf.KernelConfig, StockKernel> = new Map([
  [batchMatMulConfig, stockBatchMatMul],
  [sliceConfig, stockSlice],
  [concatConfig, stockConcat],
  [equalConfig, stockEqual],
]);

/** Names of the wasm kernels {@link registerWasmGradientKernels} registers (see the table above). */
export const WASM_GRADIENT_KERNELS: readonly string[] = CONFIGS.map((c) => c.kernelName);

/**
 * Registers MTU's gradient kernels for the wasm backend, replacing the stock kernel of the same
 * name where there is one. Idempotent, and safe before or after `@tensorflow/tfjs-backend-wasm`
 * is imported, but call it after the import (as `initBackend` does): importing the wasm package
 * registers its stock kernels again, over MTU's.
 *
 * @example
 * ```ts
 * await import('@tensorflow/tfjs-backend-wasm');
 * registerWasmGradientKernels();
 * await tf.setBackend('wasm');
 * const dw = tf.grad((w: tf.Tensor4D) => tf.conv2d(x, w, 2, 'same').sum())(w); // now works
 * ```
 */
export function registerWasmGradientKernels(): void {
  for (const config of [...CONFIGS, ...SPEED_CONFIGS]) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current === config) continue;
    // MTU's BatchMatMul, Slice (strings), Concat (other dtypes) and Equal (all but trailing-axis
    // broadcasts) fall back to the stock kernel: keep it.
    if (current !== undefined) WRAPPED.get(config)?.set(current);
    // The Winograd forward kernels delegate to the stock ones when off or not applicable.
    if ((config === winogradConv2DConfig || config === winogradFusedConv2DConfig) && current) {
      setStockForwardConv(current);
    }
    if (current !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}

/**
 * True when every kernel of {@link WASM_GRADIENT_KERNELS} is currently MTU's (not the stock one, or
 * missing).
 *
 * @example
 * ```ts
 * registerWasmGradientKernels();
 * wasmGradientKernelsRegistered(); // true
 * ```
 */
export function wasmGradientKernelsRegistered(): boolean {
  return CONFIGS.every((config) => tf.getKernel(config.kernelName, 'wasm') === config);
}
