/**
 * `Conv2DBackpropFilter` for the wasm backend, which has none: the gradient of `conv2d` with
 * respect to its filter.
 *
 * `dW[kh, kw, c, o] = Σ_{n,i,j} x[n, i·sh + kh − pt, j·sw + kw − pl, c] · dy[n, i, j, o]`
 * (zero outside the input) is computed as one matrix product on XNNPACK:
 *
 * 1. `x` is transposed (one or two wasm transposes) to `[H, C, sw, ⌈W/sw⌉, N]`, so that for a
 *    fixed tap, channel and output row the values needed for all `(j, n)` are contiguous;
 * 2. a transposed im2col matrix `colsᵀ[(kh, kw, c), (i, j, n)]` is filled from it with one
 *    contiguous copy per (tap, channel, output row);
 * 3. `dy` is transposed to `[OH, OW, N, O]`, i.e. the matrix `[(i, j, n), O]`;
 * 4. `colsᵀ × dy` (a wasm `BatchMatMul`, which XNNPACK runs as a fully-connected operator) is the
 *    `[KH·KW·C, O]` filter gradient, already in tfjs' `[KH, KW, C, O]` layout.
 *
 * The matrix product is the whole arithmetic and runs multithreaded; the copies are single-threaded
 * but touch each value of the im2col matrix once. When the im2col matrix would exceed
 * {@link setConvWorkspaceLimit}'s limit the output rows are processed in chunks and the partial
 * products summed.
 *
 * Measured alternatives (batch 16, 1 thread): one dilated conv2d of the transposed input with the
 * transposed output gradient was 1.6–2× slower (XNNPACK's indirect GEMM with only KH·KW output
 * pixels per image and N input channels per tap); a conv2d folding only the width into channels
 * was 10–15% slower; per-tap matrix products were far slower.
 *
 * @module
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';
import { convGeometry, validRange, type ConvGeometry } from './conv-geometry.js';
import {
  allocOutput,
  asWasmBackend,
  disposeInfos,
  f32Heap,
  f32Offset,
  f32View,
  runWasmKernel,
  toFloat32,
  withShape,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/** Default largest im2col workspace, in float32 elements (64 MiB). */
const DEFAULT_WORKSPACE_LIMIT = 1 << 24;
let workspaceLimit = DEFAULT_WORKSPACE_LIMIT;

/**
 * Sets the largest im2col matrix (in float32 elements) that the wasm conv filter-gradient kernel
 * allocates at once; larger problems are split into chunks of output rows. Returns the previous
 * limit. Meant for tests (to exercise chunking on small shapes) and for memory-constrained hosts.
 *
 * @example
 * ```ts
 * const previous = setConvWorkspaceLimit(1000);
 * try {
 *   // ... gradients computed in chunks ...
 * } finally {
 *   setConvWorkspaceLimit(previous);
 * }
 * ```
 */
export function setConvWorkspaceLimit(elements: number): number {
  if (!Number.isInteger(elements) || elements < 1) {
    throw new RangeError(`setConvWorkspaceLimit: expected a positive integer, got ${elements}`);
  }
  const previous = workspaceLimit;
  workspaceLimit = elements;
  return previous;
}

/**
 * `x` `[N, H, W, C]` rearranged to `[H, C, sw, Wq, N]` with `Wq = ⌈W / sw⌉` (column `w` of the
 * input is phase `w mod sw`, index `⌊w / sw⌋`; columns past `W` are zero). For `sw = 1` this is
 * one transpose to `[H, C, W, N]`.
 */
function phaseSplitTranspose(
  backend: WasmBackend,
  x: TensorInfo,
  sw: number,
): { readonly xT: TensorInfo; readonly wq: number } {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (sw === 1) {
    return { xT: runWasmKernel(backend, 'Transpose', { x }, { perm: [1, 3, 2, 0] }), wq: w };
  }
  const wq = Math.ceil(w / sw);
  let padded: TensorInfo | undefined;
  if (wq * sw !== w) {
    padded = runWasmKernel(
      backend,
      'PadV2',
      { x },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, wq * sw - w],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
  }
  const src = padded ?? x;
  // [N, H·Wq, sw, C] -> [H·Wq, C, sw, N] -> (as [H, Wq, C·sw, N]) -> [H, C·sw, Wq, N].
  const t1 = runWasmKernel(
    backend,
    'Transpose',
    { x: withShape(src, [n, h * wq, sw, c]) },
    {
      perm: [1, 3, 2, 0],
    },
  );
  if (padded !== undefined) disposeInfos(backend, padded);
  const xT = runWasmKernel(
    backend,
    'Transpose',
    { x: withShape(t1, [h, wq, c * sw, n]) },
    {
      perm: [0, 2, 1, 3],
    },
  );
  disposeInfos(backend, t1);
  return { xT, wq };
}

/**
 * Fills the transposed im2col matrix for output rows `[i0, i1)`: row `(kh, kw, c)`, column
 * `(i − i0, j, n)`.
 */
function fillColumns(
  backend: WasmBackend,
  xT: TensorInfo,
  wq: number,
  g: ConvGeometry,
  i0: number,
  i1: number,
): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outWidth: ow } = g;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  const rowLen = ow * n;
  const cols = allocOutput(backend, [1, kH * kW * c, (i1 - i0) * rowLen]);
  // One heap view for both: copyWithin is a memmove, no allocation per run.
  const heap = f32Heap(backend);
  const src = f32Offset(backend, xT);
  let d = f32Offset(backend, cols);
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      const [jlo, jhi] = validRange(sw, kw - g.padLeft, w, ow);
      // Column w = j·sw + kw − pl = (j + q0)·sw + r.
      const r = (((kw - g.padLeft) % sw) + sw) % sw;
      const q0 = Math.floor((kw - g.padLeft) / sw);
      for (let ch = 0; ch < c; ch++) {
        for (let i = i0; i < i1; i++) {
          const hs = i * sh + kh - g.padTop;
          if (hs < 0 || hs >= h || jhi <= jlo) {
            heap.fill(0, d, d + rowLen);
          } else {
            if (jlo > 0) heap.fill(0, d, d + jlo * n);
            const s = src + (((hs * c + ch) * sw + r) * wq + jlo + q0) * n;
            heap.copyWithin(d + jlo * n, s, s + (jhi - jlo) * n);
            if (jhi < ow) heap.fill(0, d + jhi * n, d + rowLen);
          }
          d += rowLen;
        }
      }
    }
  }
  return cols;
}

/**
 * The filter gradient of an NHWC `conv2d` with dilation 1: `x` `[N, H, W, C]`, `dy`
 * `[N, OH, OW, O]` (both float32), result `[KH, KW, C, O]` owned by the caller.
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo(x.shape, [3, 3, 3, 8], 2, 1, 'same');
 * const dw = conv2dBackpropFilterNhwc(backend, x, dy, convGeometry(info));
 * ```
 */
export function conv2dBackpropFilterNhwc(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { batch: n, outHeight: oh, outWidth: ow, outChannels: o, inChannels: c } = g;
  const kc = g.filterHeight * g.filterWidth * c;
  const filterShape = [g.filterHeight, g.filterWidth, c, o];
  const m = oh * ow * n;
  if (kc * o === 0 || m === 0 || g.inHeight * g.inWidth === 0) {
    const zeros = allocOutput(backend, filterShape);
    f32View(backend, zeros).fill(0);
    return zeros;
  }
  const { xT, wq } = phaseSplitTranspose(backend, x, g.strideWidth);
  const dyT = runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const rowLen = ow * n;
  const rowsPerChunk = Math.max(1, Math.floor(workspaceLimit / (kc * rowLen)));
  try {
    if (rowsPerChunk >= oh) {
      const cols = fillColumns(backend, xT, wq, g, 0, oh);
      const product = runWasmKernel(
        backend,
        'BatchMatMul',
        { a: cols, b: withShape(dyT, [1, m, o]) },
        { transposeA: false, transposeB: false },
      );
      disposeInfos(backend, cols);
      return withShape(product, filterShape);
    }
    const acc = allocOutput(backend, filterShape);
    f32View(backend, acc).fill(0);
    for (let i0 = 0; i0 < oh; i0 += rowsPerChunk) {
      const i1 = Math.min(oh, i0 + rowsPerChunk);
      const cols = fillColumns(backend, xT, wq, g, i0, i1);
      const dyChunk = allocOutput(backend, [1, (i1 - i0) * rowLen, o]);
      const from = f32Offset(backend, dyT) + i0 * rowLen * o;
      f32Heap(backend).copyWithin(f32Offset(backend, dyChunk), from, from + (i1 - i0) * rowLen * o);
      const product = runWasmKernel(
        backend,
        'BatchMatMul',
        { a: cols, b: dyChunk },
        { transposeA: false, transposeB: false },
      );
      const sum = f32View(backend, acc);
      const part = f32View(backend, product);
      for (let k = 0; k < sum.length; k++) sum[k] = (sum[k] ?? 0) + (part[k] ?? 0);
      disposeInfos(backend, cols, dyChunk, product);
    }
    return acc;
  } finally {
    disposeInfos(backend, xT, dyT);
  }
}

/** `Conv2DBackpropFilter` on wasm; see the module documentation. */
function conv2dBackpropFilterKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.Conv2DBackpropFilter);
  const { x, dy } = args.inputs;
  if (x === undefined || dy === undefined) {
    throw new BackendError('wasm', 'Conv2DBackpropFilter: inputs x and dy are required');
  }
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? 'NHWC');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  const owned: TensorInfo[] = [];
  try {
    let xf = toFloat32(backend, x);
    if (xf.owned) owned.push(xf.info);
    let dyf = toFloat32(backend, dy);
    if (dyf.owned) owned.push(dyf.info);
    if (dataFormat === 'channelsFirst') {
      const toNhwc = { perm: [0, 2, 3, 1] };
      xf = { info: runWasmKernel(backend, 'Transpose', { x: xf.info }, toNhwc), owned: true };
      owned.push(xf.info);
      dyf = { info: runWasmKernel(backend, 'Transpose', { x: dyf.info }, toNhwc), owned: true };
      owned.push(dyf.info);
    }
    return conv2dBackpropFilterNhwc(backend, xf.info, dyf.info, convGeometry(info));
  } finally {
    disposeInfos(backend, ...owned);
  }
}

/** The kernel config registered by `registerWasmGradientKernels`. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterKernel,
};
