/**
 * `Slice` for the wasm backend without reading the whole input.
 *
 * The stock wasm kernel starts with `backend.readSync(x)`, which copies **all** of `x` out of the
 * wasm heap into a new JS array, then copies the slice back in. Slicing a block of rows out of a
 * large matrix therefore costs a copy of the whole matrix per slice: splitting a `[D, n]` gradient
 * matrix into its per-layer blocks (task subspaces, projections) copied it once per layer (measured:
 * ~15% of an interference-aware unlearning run). This kernel copies only the slice, directly between
 * the input's and the output's heap bytes: trailing dimensions the slice covers entirely are merged
 * with the one before, so a contiguous slice is one copy; float32 and int32 slices are copied by
 * MTU's wasm module (`copyWords`), one call per index of the dimensions before the last two
 * remaining (a channel half of `[8, 32, 32, 32]` is one call), `bool` ones with one `copyWithin`
 * per run. `string` tensors (not on the heap) go to the stock kernel. `SplitV` (the gradient of
 * `Concat`) runs each part through this kernel; the stock one slices with JS loops.
 *
 * @module
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';
import {
  allocOutput,
  asWasmBackend,
  stockKernel,
  type StockKernel,
  type KernelArgs,
  type TensorInfo,
} from './wasm-backend.js';
import { copyWords } from './winograd.js';

/**
 * The stock wasm `Slice` (for `string` tensors) that MTU's kernel falls back to (captured by
 * `registerWasmGradientKernels` before it registers MTU's).
 */
export const stockSlice: StockKernel = stockKernel(tf.Slice);

/**
 * The slice `[begin, begin + size)` of a row-major array of `shape`, as copy runs: merges every
 * trailing dimension the slice covers entirely into the one before it. Returns the merged shape,
 * begin and size (the last dimension is the run length in elements).
 *
 * @example
 * ```ts
 * mergedSlice([4, 3, 5], [1, 0, 0], [2, 3, 5]); // { shape: [20], begin: [5], size: [10] }
 * ```
 */
export function mergedSlice(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const s = [...shape];
  const b = [...begin];
  const z = [...size];
  while (s.length > 1) {
    const last = s.length - 1;
    if (b[last] !== 0 || z[last] !== s[last]) break;
    const inner = s[last]!;
    s.pop();
    b.pop();
    z.pop();
    s[last - 1] = s[last - 1]! * inner;
    b[last - 1] = b[last - 1]! * inner;
    z[last - 1] = z[last - 1]! * inner;
  }
  return { shape: s, begin: b, size: z };
}

function sliceKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.Slice);
  const { x } = args.inputs;
  if (x === undefined) throw new BackendError('wasm', 'Slice: input x is required');
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  if (x.dtype === 'string') {
    return stockSlice.run(backend, { x }, args.attrs);
  }
  const [begin = [], size = []] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  const out = allocOutput(backend, size, x.dtype);
  const count = size.reduce((a, b) => a * b, 1);
  if (count === 0) return out;
  const bytes = x.dtype === 'bool' ? 1 : 4;
  const heap = backend.wasm.HEAPU8;
  const src = backend.dataIdMap.get(x.dataId)?.memoryOffset;
  const dst = backend.dataIdMap.get(out.dataId)?.memoryOffset;
  if (src === undefined || dst === undefined) {
    throw new BackendError('wasm', 'Slice: tensor data is not on the wasm backend');
  }
  const scalar = x.shape.length === 0;
  const m = mergedSlice(scalar ? [1] : x.shape, scalar ? [0] : begin, scalar ? [1] : size);
  const rank = m.shape.length;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1]! * m.shape[d + 1]!;
  if (bytes === 4 && rank >= 2) {
    // Runs of the last dimension, strided along the one before it: one wasm block copy per
    // index of the dimensions before those two.
    const n = m.size[rank - 1]!;
    const rows = m.size[rank - 2]!;
    const outer = count / (n * rows);
    const index = new Array<number>(rank - 2).fill(0);
    let to = dst >>> 2;
    for (let r = 0; r < outer; r++) {
      let from = m.begin[rank - 1]! + m.begin[rank - 2]! * strides[rank - 2]!;
      for (let d = 0; d < rank - 2; d++) from += (m.begin[d]! + index[d]!) * strides[d]!;
      copyWords(backend, to, n, (src >>> 2) + from, strides[rank - 2]!, n, rows);
      to += n * rows;
      for (let d = rank - 3; d >= 0; d--) {
        index[d] = index[d]! + 1;
        if (index[d]! < m.size[d]!) break;
        index[d] = 0;
      }
    }
    return out;
  }
  const run = m.size[rank - 1]! * bytes;
  const runs = count / m.size[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  let to = dst;
  for (let r = 0; r < runs; r++) {
    let from = m.begin[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) from += (m.begin[d]! + index[d]!) * strides[d]!;
    heap.copyWithin(to, src + from * bytes, src + from * bytes + run);
    to += run;
    for (let d = rank - 2; d >= 0; d--) {
      index[d] = index[d]! + 1;
      if (index[d]! < m.size[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

/** `Slice` kernel config: copies only the slice on the heap (see the module documentation). */
export const sliceConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  kernelFunc: sliceKernel,
};

/**
 * `SplitV` for the wasm backend: each part through MTU's `Slice` (the stock kernel slices with its
 * own JS loops). `tf.split` is the gradient of `tf.concat`, e.g. of every U-Net skip connection.
 */
function splitKernel(args: KernelArgs): TensorInfo[] {
  const { x } = args.inputs;
  if (x === undefined) throw new BackendError('wasm', 'SplitV: input x is required');
  const attrs = args.attrs as unknown as tf.SplitVAttrs;
  const axis = tf.util.parseAxisParam(attrs.axis, x.shape)[0] ?? 0;
  const sizes = tf.backend_util.prepareSplitSize(x, attrs.numOrSizeSplits, axis);
  const begin = new Array<number>(x.shape.length).fill(0);
  const size = [...x.shape];
  return sizes.map((part) => {
    size[axis] = part;
    const out = sliceKernel({ ...args, attrs: { begin: [...begin], size: [...size] } });
    begin[axis] = begin[axis]! + part;
    return out;
  });
}

/** `SplitV` kernel config: one MTU `Slice` per part. */
export const splitConfig: tf.KernelConfig = {
  kernelName: tf.SplitV,
  backendName: 'wasm',
  kernelFunc: splitKernel,
};
