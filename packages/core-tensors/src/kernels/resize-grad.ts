/**
 * `ResizeNearestNeighborGrad` and `ResizeBilinearGrad` for the wasm backend, replacing the stock
 * kernels, which ignore `halfPixelCenters` (so the gradient of a half-pixel resize, the default of
 * Keras' `UpSampling2D`-style code paths, was that of a different resize). tfjs' cpu backend has the
 * same defect, so neither is a usable reference.
 *
 * Each is the exact adjoint of the forward resize: a loop over the output pixels that adds each
 * output gradient to the input pixels (and with the weights) the forward read it from. The source
 * coordinates are computed in float32 like the wasm forward kernels:
 *
 * - `scale = (alignCorners && out > 1) ? (in − 1) / (out − 1) : in / out`;
 * - nearest: `src = halfPixelCenters ? scale·(o + ½) : scale·o`, index
 *   `min(in − 1, alignCorners ? round(src) : floor(src))`, clamped at 0 for half-pixel centers;
 * - bilinear: `src = halfPixelCenters ? scale·(o + ½) − ½ : scale·o`, rows `⌊src⌋` and `⌈src⌉`
 *   clamped to the input, weight of the upper row `src − ⌊src⌋` (both rows clamp to 0 when `src`
 *   is negative, so the weights still sum to 1).
 *
 * @module
 */
import { tf } from '../tf.js';
import {
  allocOutput,
  asWasmBackend,
  disposeInfos,
  f32Heap,
  f32Offset,
  f32View,
  runWasmKernel,
  requireInputs,
  withFloat32,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

const f32 = Math.fround;

/** The float32 scale of one axis of a resize from `inSize` to `outSize`. */
function resizeScale(inSize: number, outSize: number, alignCorners: boolean): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  return f32(effIn / effOut);
}

/**
 * The input index nearest-neighbour resizing reads for output index `o` along one axis.
 *
 * @example
 * ```ts
 * nearestSource(2, 0.5, 4, false, true); // 1: (2 + ½)·0.5 = 1.25 -> floor
 * ```
 */
export function nearestSource(
  o: number,
  scale: number,
  inSize: number,
  alignCorners: boolean,
  halfPixelCenters: boolean,
): number {
  const src = halfPixelCenters ? f32(scale * (o + 0.5)) : f32(scale * o);
  let index = Math.min(inSize - 1, alignCorners ? Math.round(src) : Math.floor(src));
  if (halfPixelCenters) index = Math.max(0, index);
  return index;
}

/**
 * The two input indices bilinear resizing reads for output index `o` along one axis and the
 * weight of the second: the value is `v[lo]·(1 − frac) + v[hi]·frac`.
 *
 * @example
 * ```ts
 * bilinearSource(1, 0.5, 4, false); // { lo: 0, hi: 1, frac: 0.5 }
 * ```
 */
export function bilinearSource(
  o: number,
  scale: number,
  inSize: number,
  halfPixelCenters: boolean,
): { lo: number; hi: number; frac: number } {
  const src = halfPixelCenters ? f32(f32(scale * (o + 0.5)) - 0.5) : f32(scale * o);
  const floor = Math.floor(src);
  const lo = Math.min(inSize - 1, Math.max(0, floor));
  const hi = Math.min(inSize - 1, Math.max(0, Math.ceil(src)));
  return { lo, hi, frac: f32(src - Math.max(0, floor)) };
}

/** Sums of the `fh × fw` blocks of `dy` `[N, H·fh, W·fw, C]`: `[N, H, W, C]` (caller owns). */
function blockSum(
  backend: WasmBackend,
  dy: TensorInfo,
  fh: number,
  fw: number,
  c: number,
): TensorInfo {
  const ones = allocOutput(backend, [fh, fw, c, 1]);
  f32View(backend, ones).fill(1);
  try {
    return runWasmKernel(
      backend,
      'DepthwiseConv2dNative',
      { x: dy, filter: ones },
      { strides: [fh, fw], pad: 'valid', dilations: 1, dimRoundingMode: undefined },
    );
  } finally {
    disposeInfos(backend, ones);
  }
}

/**
 * Nearest-neighbour resize gradient: `dy` `[N, OH, OW, C]`, result `[N, H, W, C]` (caller owns).
 *
 * @example
 * ```ts
 * const dx = resizeNearestGradNhwc(backend, dy, [2, 7, 5, 3], false, true);
 * ```
 */
export function resizeNearestGradNhwc(
  backend: WasmBackend,
  dy: TensorInfo,
  inShape: readonly number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): TensorInfo {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const sy = resizeScale(h, oh, alignCorners);
  const sx = resizeScale(w, ow, alignCorners);
  const rows = Int32Array.from({ length: oh }, (_, y) =>
    nearestSource(y, sy, h, alignCorners, halfPixelCenters),
  );
  const cols = Int32Array.from({ length: ow }, (_, x) =>
    nearestSource(x, sx, w, alignCorners, halfPixelCenters),
  );
  const fh = oh / h;
  const fw = ow / w;
  if (
    n * h * w * c > 0 &&
    Number.isInteger(fh) &&
    Number.isInteger(fw) &&
    rows.every((r, y) => r === Math.floor(y / fh)) &&
    cols.every((r, x) => r === Math.floor(x / fw))
  ) {
    // Integer upscaling by blocks (the usual 2× upsampling): each input pixel's gradient is the
    // sum of its fh×fw block of dy, one XNNPACK depthwise convolution with a filter of ones.
    return blockSum(backend, dy, fh, fw, c);
  }
  const dx = allocOutput(backend, [n, h, w, c]);
  const heap = f32Heap(backend);
  const dxo = f32Offset(backend, dx);
  heap.fill(0, dxo, dxo + n * h * w * c);
  if (n * h * w * c === 0) return dx;
  let s = f32Offset(backend, dy);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const row = dxo + (b * h + rows[y]!) * w * c;
      for (let x = 0; x < ow; x++, s += c) {
        const d = row + cols[x]! * c;
        for (let k = 0; k < c; k++) heap[d + k] = heap[d + k]! + heap[s + k]!;
      }
    }
  }
  return dx;
}

/**
 * Bilinear resize gradient: `dy` `[N, OH, OW, C]`, result `[N, H, W, C]` (caller owns).
 *
 * @example
 * ```ts
 * const dx = resizeBilinearGradNhwc(backend, dy, [2, 7, 5, 3], false, true);
 * ```
 */
export function resizeBilinearGradNhwc(
  backend: WasmBackend,
  dy: TensorInfo,
  inShape: readonly number[],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): TensorInfo {
  const [n, h, w, c] = inShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  const dx = allocOutput(backend, [n, h, w, c]);
  const heap = f32Heap(backend);
  const dxo = f32Offset(backend, dx);
  heap.fill(0, dxo, dxo + n * h * w * c);
  if (n * h * w * c === 0) return dx;
  let s = f32Offset(backend, dy);
  const sy = resizeScale(h, oh, alignCorners);
  const sx = resizeScale(w, ow, alignCorners);
  const xs = Array.from({ length: ow }, (_, x) => bilinearSource(x, sx, w, halfPixelCenters));
  const left = Int32Array.from(xs, (t) => t.lo * c);
  const right = Int32Array.from(xs, (t) => t.hi * c);
  const fxs = Float32Array.from(xs, (t) => t.frac);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const { lo, hi, frac: fy } = bilinearSource(y, sy, h, halfPixelCenters);
      const top = dxo + (b * h + lo) * w * c;
      const bottom = dxo + (b * h + hi) * w * c;
      for (let x = 0; x < ow; x++, s += c) {
        const fx = fxs[x]!;
        const wtl = (1 - fy) * (1 - fx);
        const wtr = (1 - fy) * fx;
        const wbl = fy * (1 - fx);
        const wbr = fy * fx;
        const tl = top + left[x]!;
        const tr = top + right[x]!;
        const bl = bottom + left[x]!;
        const br = bottom + right[x]!;
        for (let k = 0; k < c; k++) {
          const v = heap[s + k]!;
          heap[tl + k] = heap[tl + k]! + v * wtl;
          heap[tr + k] = heap[tr + k]! + v * wtr;
          heap[bl + k] = heap[bl + k]! + v * wbl;
          heap[br + k] = heap[br + k]! + v * wbr;
        }
      }
    }
  }
  return dx;
}

function resizeGradKernel(
  name: string,
  grad: typeof resizeNearestGradNhwc,
): (args: KernelArgs) => TensorInfo {
  return (args) => {
    const backend = asWasmBackend(args.backend, name);
    const [images, dy] = requireInputs(name, args.inputs, ['images', 'dy']);
    const attrs = args.attrs as unknown as tf.ResizeBilinearGradAttrs;
    return withFloat32(backend, [dy], (dyf) =>
      grad(backend, dyf, images.shape, attrs.alignCorners, attrs.halfPixelCenters),
    );
  };
}

/** `ResizeNearestNeighborGrad` kernel config (replaces the stock wasm one). */
export const resizeNearestNeighborGradConfig: tf.KernelConfig = {
  kernelName: tf.ResizeNearestNeighborGrad,
  backendName: 'wasm',
  kernelFunc: resizeGradKernel(tf.ResizeNearestNeighborGrad, resizeNearestGradNhwc),
};

/** `ResizeBilinearGrad` kernel config (replaces the stock wasm one). */
export const resizeBilinearGradConfig: tf.KernelConfig = {
  kernelName: tf.ResizeBilinearGrad,
  backendName: 'wasm',
  kernelFunc: resizeGradKernel(tf.ResizeBilinearGrad, resizeBilinearGradNhwc),
};
