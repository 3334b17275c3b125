/**
 * `UnsortedSegmentSum` for the wasm backend, which has none (it is the gradient of `tf.gather`,
 * so embedding lookups and gathers could not train).
 *
 * `out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]` for `x` `[...idsShape, ...inner]`, `ids` int32 of
 * shape `idsShape`, `out` `[numSegments, ...inner]`; ids outside `[0, numSegments)` are dropped
 * (TensorFlow's semantics). float32 and int32 `x` are supported. A direct loop on the wasm heap.
 *
 * @module
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';
import {
  allocOutput,
  asWasmBackend,
  disposeInfos,
  f32View,
  i32View,
  requireInputs,
  runWasmKernel,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/**
 * Segment sums of `x` (float32 or int32) by `segmentIds` (int32); result owned by the caller.
 *
 * @example
 * ```ts
 * // x [4, 3], ids [0, 2, 2, 1] -> out [3, 3] with out[2] = x[1] + x[2]
 * const out = unsortedSegmentSumWasm(backend, x, ids, 3);
 * ```
 */
export function unsortedSegmentSumWasm(
  backend: WasmBackend,
  x: TensorInfo,
  segmentIds: TensorInfo,
  numSegments: number,
): TensorInfo {
  const idRank = segmentIds.shape.length;
  const innerShape = x.shape.slice(idRank);
  let inner = 1;
  for (const d of innerShape) inner *= d;
  const count = segmentIds.shape.reduce((a, b) => a * b, 1);
  const out = allocOutput(backend, [numSegments, ...innerShape], x.dtype);
  const view = x.dtype === 'int32' ? i32View : f32View;
  const dst = view(backend, out);
  dst.fill(0);
  const src = view(backend, x);
  const ids = i32View(backend, segmentIds);
  for (let i = 0; i < count; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    const d = s * inner;
    const o = i * inner;
    // Int32Array stores wrap modulo 2^32 like TensorFlow's int32 sums.
    for (let k = 0; k < inner; k++) dst[d + k] = dst[d + k]! + src[o + k]!;
  }
  return out;
}

function unsortedSegmentSumKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.UnsortedSegmentSum);
  const [x, segmentIds] = requireInputs(tf.UnsortedSegmentSum, args.inputs, ['x', 'segmentIds']);
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const owned: TensorInfo[] = [];
  try {
    let xs = x;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      xs = runWasmKernel(backend, 'Cast', { x }, { dtype: 'float32' });
      owned.push(xs);
    }
    let ids = segmentIds;
    if (segmentIds.dtype !== 'int32') {
      ids = runWasmKernel(backend, 'Cast', { x: segmentIds }, { dtype: 'int32' });
      owned.push(ids);
    }
    const idShape = ids.shape;
    if (idShape.some((d, i) => d !== xs.shape[i])) {
      throw new BackendError(
        'wasm',
        `UnsortedSegmentSum: segmentIds shape [${idShape.join(', ')}] is not a prefix of x shape [${xs.shape.join(', ')}]`,
      );
    }
    return unsortedSegmentSumWasm(backend, xs, ids, numSegments);
  } finally {
    disposeInfos(backend, ...owned);
  }
}

/** `UnsortedSegmentSum` kernel config (missing from stock wasm). */
export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumKernel,
};
