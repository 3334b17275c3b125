/**
 * `Equal` for the wasm backend, fast where one operand repeats along trailing axes.
 *
 * The gradient of a `max` reduction is `dy · (x == max(x, axis, keepDims))`, so every
 * `tf.logSumExp` (softmax cross-entropy: segmentation and classification losses) compares a
 * `[B, H, W, C]` tensor with its `[B, H, W, 1]` maximum. The stock wasm kernel runs such a
 * broadcast element by element through a generic index mapping: 5.6 ms for `[8, 32, 32, 6]`
 * against 0.3 ms for the same comparison without broadcasting (2026-12-07, 2 threads), about 9% of
 * a `scenes` training step. This kernel handles exactly that pattern — same rank, equal leading
 * dimensions, and the smaller operand 1 on every trailing dimension where they differ — with one
 * plain loop; everything else (same shapes, other broadcasts, other dtypes) goes to the stock
 * kernel. A comparison is exact, so results are the same bits either way.
 *
 * @module
 */
import { tf } from '../tf.js';
import {
  allocOutput,
  asWasmBackend,
  byteOffset,
  requireInputs,
  sizeOf,
  stockKernel,
  type StockKernel,
  type KernelArgs,
  type TensorInfo,
} from './wasm-backend.js';

/**
 * The stock wasm `Equal` that MTU's kernel falls back to (captured by
 * `registerWasmGradientKernels` before it registers MTU's).
 */
export const stockEqual: StockKernel = stockKernel(tf.Equal);

const delegate = (args: KernelArgs): TensorInfo =>
  stockEqual.run(args.backend as tf.KernelBackend, args.inputs, args.attrs);

/**
 * When `small` repeats along trailing axes of `big` (same rank, equal leading dimensions, then 1
 * wherever they differ), the number of repeats per element of `small` (`inner`); else undefined.
 *
 * @example
 * ```ts
 * trailingRepeat([8, 32, 32, 6], [8, 32, 32, 1]); // 6
 * trailingRepeat([2, 3], [1, 3]);                 // undefined (a leading broadcast)
 * ```
 */
export function trailingRepeat(
  big: readonly number[],
  small: readonly number[],
): number | undefined {
  if (big.length !== small.length) return undefined;
  let k = 0;
  while (k < big.length && big[k] === small[k]) k++;
  if (k === big.length) return undefined; // same shape: the stock kernel is fast
  let inner = 1;
  for (let i = k; i < big.length; i++) {
    if (small[i] !== 1) return undefined;
    inner *= big[i]!;
  }
  return inner;
}

function view(backend: ReturnType<typeof asWasmBackend>, t: TensorInfo): Float32Array | Int32Array {
  const buffer = backend.wasm.HEAPF32.buffer;
  const at = byteOffset(backend, t);
  const n = sizeOf(t.shape);
  return t.dtype === 'int32' ? new Int32Array(buffer, at, n) : new Float32Array(buffer, at, n);
}

function equalKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.Equal);
  const [a, b] = requireInputs(tf.Equal, args.inputs, ['a', 'b']);
  if (a.dtype !== b.dtype || (a.dtype !== 'float32' && a.dtype !== 'int32')) {
    return delegate(args);
  }
  const aBig = sizeOf(a.shape) >= sizeOf(b.shape);
  const [big, small] = aBig ? [a, b] : [b, a];
  const inner = trailingRepeat(big.shape, small.shape);
  if (inner === undefined || inner === 0) return delegate(args);
  const out = allocOutput(backend, big.shape, 'bool');
  // Views after the allocation (it may grow the heap).
  const x = view(backend, big);
  const y = view(backend, small);
  const o = new Uint8Array(backend.wasm.HEAPF32.buffer, byteOffset(backend, out), x.length);
  let i = 0;
  for (let s = 0; s < y.length; s++) {
    const v = y[s]!;
    for (let end = i + inner; i < end; i++) o[i] = x[i] === v ? 1 : 0;
  }
  return out;
}

/** `Equal` kernel config (see the module documentation). */
export const equalConfig: tf.KernelConfig = {
  kernelName: tf.Equal,
  backendName: 'wasm',
  // The stock kernel looks its wasm function up in its setup; run it for every new backend.
  setupFunc: (backend) => stockEqual.setup(backend),
  kernelFunc: equalKernel,
};
