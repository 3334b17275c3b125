/**
 * `Conv2DBackpropFilter` for the wasm backend, which has none: the gradient of `conv2d` with
 * respect to its filter.
 *
 * `dW[kh, kw, c, o] = Σ_{n,i,j} x[n, i·sh + kh − pt, j·sw + kw − pl, c] · dy[n, i, j, o]`
 * (zero outside the input) is computed as one matrix product on XNNPACK:
 *
 * 1. `x` is transposed (one wasm transpose) to `[H, sw, C, ⌈W/sw⌉, N]` (or `[sw, C, H, ⌈W/sw⌉, N]`
 *    when the rows of a tap can be copied at once, e.g. stride 1 'same'), so that for a
 *    fixed tap, channel and output row the values needed for all `(j, n)` are contiguous;
 * 2. a transposed im2col matrix `colsᵀ[(kh, kw, c), (i, j, n)]` is filled from it with one
 *    contiguous copy per (tap, channel, output row);
 * 3. `dy` is transposed to `[OH, OW, N, O]`, i.e. the matrix `[(i, j, n), O]`;
 * 4. `colsᵀ × dy` (a wasm `BatchMatMul`, which XNNPACK runs as a fully-connected operator) is the
 *    `[KH·KW·C, O]` filter gradient, already in tfjs' `[KH, KW, C, O]` layout.
 *
 * The matrix product is the whole arithmetic and runs multithreaded; the copies are single-threaded
 * but touch each value of the im2col matrix once. When the im2col matrix would exceed
 * `setConvWorkspaceLimit`'s limit the output rows are processed in chunks and the partial
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
import { conv2dGradGeometry, type ConvGeometry } from './conv-geometry.js';
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
  withShape,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';
import {
  filterGradDirectInto,
  im2colWords,
  mtuMatMul,
  wasmConvolutions,
  winogradApplies,
  winogradBiasGradient,
  winogradConv2dBackpropFilter,
} from './winograd.js';
import { convWorkspaceLimit } from './workspace.js';

/**
 * Whether the im2col rows of one (tap, channel) can be filled with one copy (see
 * {@link fillColumns}): stride 1 along the height and as many input column phases as output columns.
 */
function mergedRows(g: ConvGeometry): boolean {
  return g.strideHeight === 1 && Math.ceil(g.inWidth / g.strideWidth) === g.outWidth;
}

/**
 * `x` `[N, H, W, C]` rearranged by one wasm transpose of `x` viewed as `[N, H, Wq, sw·C]`, with
 * `Wq = ⌈W / sw⌉` (column `w` of the input is phase `w mod sw`, index `⌊w / sw⌋`; columns past `W`
 * are zero): to `[sw, C, H, Wq, N]` when `merged` (consecutive input rows of a channel and phase are
 * contiguous), else to `[H, sw, C, Wq, N]` (which transposes faster).
 */
function phaseSplitTranspose(
  backend: WasmBackend,
  x: TensorInfo,
  sw: number,
  merged: boolean,
): { readonly xT: TensorInfo; readonly wq: number } {
  const [n, h, w, c] = x.shape as [number, number, number, number];
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
  try {
    const xT = runWasmKernel(
      backend,
      'Transpose',
      { x: withShape(src, [n, h, wq, sw * c]) },
      {
        perm: merged ? [3, 1, 2, 0] : [1, 3, 2, 0],
      },
    );
    return { xT, wq };
  } finally {
    if (padded !== undefined) disposeInfos(backend, padded);
  }
}

/**
 * Fills the transposed im2col matrix for output rows `[i0, i1)`: row `(kh, kw, c)`, column
 * `(i − i0, j, n)`, from `xT` as laid out by
 * {@link phaseSplitTranspose}; with `onesRow`, one more row of ones (its product with `dy` is the
 * bias gradient). One call into MTU's wasm module (`im2colWords`): one SIMD copy per (tap, channel,
 * output row) of the valid columns, zeros around them (the per-row copies had cost ≈ 0.5 s of a
 * 5.5 s `interference-aware` run as JS `copyWithin` calls).
 */
function fillColumns(
  backend: WasmBackend,
  xT: TensorInfo,
  wq: number,
  g: ConvGeometry,
  i0: number,
  i1: number,
  onesRow: boolean,
): TensorInfo {
  const { batch: n, inHeight: h, inChannels: c, outWidth: ow, strideWidth: sw } = g;
  const rows = g.filterHeight * g.filterWidth * c + (onesRow ? 1 : 0);
  const cols = allocOutput(backend, [1, rows, (i1 - i0) * ow * n]);
  // [sw, C, H, Wq, N] when merged, else [H, sw, C, Wq, N] (phaseSplitTranspose).
  const strides = mergedRows(g)
    ? { row: wq * n, channel: h * wq * n, phase: c * h * wq * n }
    : { row: sw * c * wq * n, channel: wq * n, phase: c * wq * n };
  im2colWords(
    backend,
    f32Offset(backend, cols),
    f32Offset(backend, xT),
    g,
    i0,
    i1,
    strides,
    onesRow,
  );
  return cols;
}

/**
 * `[colsᵀ; 1ᵀ] × dy`: the `[KH·KW·C (+1), O]` matrix of the filter gradient (and, with
 * `withBias`, the bias gradient as its last row), owned by the caller; see the module
 * documentation. Requires a non-empty product.
 */
function gradientRows(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  withBias: boolean,
): TensorInfo {
  const { batch: n, outHeight: oh, outWidth: ow, outChannels: o, inChannels: c } = g;
  const rows = g.filterHeight * g.filterWidth * c + (withBias ? 1 : 0);
  const m = oh * ow * n;
  const { xT, wq } = phaseSplitTranspose(backend, x, g.strideWidth, mergedRows(g));
  // At batch 1, [OH, OW, N, O] is dy's own layout: no transpose.
  const dyT = n === 1 ? dy : runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const rowLen = ow * n;
  const rowsPerChunk = Math.max(1, Math.floor(convWorkspaceLimit() / (rows * rowLen)));
  try {
    if (rowsPerChunk >= oh) {
      const cols = fillColumns(backend, xT, wq, g, 0, oh, withBias);
      if (wasmConvolutions() === 'mtu' && o % 4 === 0) {
        // MTU's kernels: no packing of dy (see mtuMatMul).
        const product = mtuMatMul(backend, cols, dyT, rows, o, m);
        disposeInfos(backend, cols);
        return product;
      }
      const product = runWasmKernel(
        backend,
        'BatchMatMul',
        { a: cols, b: withShape(dyT, [1, m, o]) },
        { transposeA: false, transposeB: false },
      );
      disposeInfos(backend, cols);
      return withShape(product, [rows, o]);
    }
    const acc = allocOutput(backend, [rows, o]);
    f32View(backend, acc).fill(0);
    for (let i0 = 0; i0 < oh; i0 += rowsPerChunk) {
      const i1 = Math.min(oh, i0 + rowsPerChunk);
      const cols = fillColumns(backend, xT, wq, g, i0, i1, withBias);
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
    disposeInfos(backend, xT);
    if (dyT !== dy) disposeInfos(backend, dyT);
  }
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
  const filterShape = [g.filterHeight, g.filterWidth, c, o];
  if (
    g.filterHeight * g.filterWidth * c * o === 0 ||
    oh * ow * n === 0 ||
    g.inHeight * g.inWidth === 0
  ) {
    const zeros = allocOutput(backend, filterShape);
    f32View(backend, zeros).fill(0);
    return zeros;
  }
  if (winogradApplies(g)) return winogradConv2dBackpropFilter(backend, x, dy, g);
  return withShape(gradientRows(backend, x, dy, g, false), filterShape);
}

/**
 * The filter and bias gradients of an NHWC `conv2d` (dilation 1) followed by a bias add, from one
 * matrix product: `[dW, db]` with `dW` `[KH, KW, C, O]` as {@link conv2dBackpropFilterNhwc} and
 * `db[o] = Σ_{n,i,j} dy[n, i, j, o]`, both owned by the caller. The im2col matrix gets one more row
 * of ones, so the bias gradient costs one more row of the (multithreaded) product instead of a
 * separate reduction of `dy`.
 *
 * @example
 * ```ts
 * const [dw, db] = conv2dBackpropFilterBiasNhwc(backend, x, dy, convGeometry(info));
 * ```
 */
export function conv2dBackpropFilterBiasNhwc(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): [TensorInfo, TensorInfo] {
  if (winogradApplies(g)) {
    return [winogradConv2dBackpropFilter(backend, x, dy, g), winogradBiasGradient(backend, dy)];
  }
  const { batch: n, outHeight: oh, outWidth: ow, outChannels: o, inChannels: c } = g;
  const kc = g.filterHeight * g.filterWidth * c;
  const dw = allocOutput(backend, [g.filterHeight, g.filterWidth, c, o]);
  const db = allocOutput(backend, [o]);
  if (kc * o === 0 || oh * ow * n === 0 || g.inHeight * g.inWidth === 0) {
    f32View(backend, dw).fill(0);
    const sums = f32View(backend, db).fill(0);
    const values = f32View(backend, dy);
    for (let k = 0; k < values.length; k++) {
      const oc = k % o;
      sums[oc] = (sums[oc] ?? 0) + (values[k] ?? 0);
    }
    return [dw, db];
  }
  const rows = gradientRows(backend, x, dy, g, true);
  const heap = f32Heap(backend);
  const from = f32Offset(backend, rows);
  heap.copyWithin(f32Offset(backend, dw), from, from + kc * o);
  heap.copyWithin(f32Offset(backend, db), from + kc * o, from + (kc + 1) * o);
  disposeInfos(backend, rows);
  return [dw, db];
}

/**
 * Per-example filter and bias gradients of an NHWC `conv2d` (dilation 1) followed by a bias add:
 * `dW[n]` `[KH, KW, C, O]` and `db[n]` `[O]` of example `n` alone, returned as `[N, KH, KW, C, O]`
 * and `[N, O]`, owned by the caller. Computed directly in MTU's wasm module, the examples shared
 * with its helper thread (`filterGradDirectInto`): no im2col matrix, no transposes, no packing.
 * The sums run in the order of the matrix product of {@link conv2dBackpropFilterBiasNhwc} at batch
 * 1 (im2col, then XNNPACK's f32 GEMM), which this kernel ran per example until 2026-12-08: the
 * same bits, about 1.8× faster (`pnpm --filter @mtu/core-tensors bench:per-example`). In both
 * wasm convolution modes: for 3×3 stride-1 layers it was also faster than the per-example Winograd
 * path `'mtu'` mode used until then (0.6–0.7 ms against 1.2–2.3 ms for 8 examples of the `scenes`
 * model's 16×16×32 → 32 and 8×8×64 → 64 layers).
 *
 * @example
 * ```ts
 * const [dw, db] = conv2dPerExampleFilterBiasNhwc(backend, x, dy, convGeometry(info));
 * ```
 */
export function conv2dPerExampleFilterBiasNhwc(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): [TensorInfo, TensorInfo] {
  const { batch: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow } = g;
  const { outChannels: o, inChannels: c } = g;
  const kc = g.filterHeight * g.filterWidth * c;
  const dw = allocOutput(backend, [n, g.filterHeight, g.filterWidth, c, o]);
  const db = allocOutput(backend, [n, o]);
  const dySize = oh * ow * o;
  if (kc * o === 0 || dySize === 0 || h * w === 0) {
    f32View(backend, dw).fill(0);
    const sums = f32View(backend, db).fill(0);
    const values = f32View(backend, dy);
    for (let k = 0; k < values.length; k++) {
      const idx = Math.floor(k / dySize) * o + (k % o);
      sums[idx] = (sums[idx] ?? 0) + (values[k] ?? 0);
    }
    return [dw, db];
  }
  // The chunks of output rows the im2col product would use (same workspace limit): the direct
  // kernel sums in the same chunks, so its results are the product's bits.
  const rowsPerChunk = Math.max(1, Math.floor(convWorkspaceLimit() / ((kc + 1) * ow)));
  filterGradDirectInto(backend, dw, db, x, dy, g, rowsPerChunk);
  return [dw, db];
}

/**
 * Name of MTU's wasm kernel computing per-example filter and bias gradients of conv2d + bias (see
 * {@link conv2dPerExampleFilterBiasNhwc}). Inputs `x`, `dy` and attributes as
 * `Conv2DBackpropFilter`; outputs `[dW [N, KH, KW, C, O], db [N, O]]`. Registered on wasm only:
 * `conv2dPerExampleGradients` falls back to one filter gradient per example elsewhere.
 */
export const CONV2D_PER_EXAMPLE_FILTER_BIAS = 'MtuConv2DPerExampleFilterBias';

/**
 * Name of MTU's wasm kernel computing the filter and bias gradients of conv2d + bias at once (see
 * {@link conv2dBackpropFilterBiasNhwc}). Inputs `x`, `dy` and attributes as
 * `Conv2DBackpropFilter`; outputs `[dW, db]`. Registered on wasm only: check with `tf.getKernel`
 * before running it.
 */
export const CONV2D_BACKPROP_FILTER_BIAS = 'MtuConv2DBackpropFilterBias';

/** Both kernels: the filter gradient, and with `withBias` also the bias gradient. */
function runKernel(args: KernelArgs, mode: 'filter' | 'bias' | 'per-example'): TensorInfo[] {
  const name =
    mode === 'bias'
      ? CONV2D_BACKPROP_FILTER_BIAS
      : mode === 'per-example'
        ? CONV2D_PER_EXAMPLE_FILTER_BIAS
        : tf.Conv2DBackpropFilter;
  const backend = asWasmBackend(args.backend, name);
  const [x, dy] = requireInputs(name, args.inputs, ['x', 'dy']);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const { g, channelsFirst } = conv2dGradGeometry(x.shape, attrs.filterShape, attrs);
  return withFloat32(backend, [x, dy], (xf, dyf) => {
    const owned: TensorInfo[] = [];
    try {
      let xn = xf;
      let dyn = dyf;
      if (channelsFirst) {
        const toNhwc = { perm: [0, 2, 3, 1] };
        xn = runWasmKernel(backend, 'Transpose', { x: xf }, toNhwc);
        owned.push(xn);
        dyn = runWasmKernel(backend, 'Transpose', { x: dyf }, toNhwc);
        owned.push(dyn);
      }
      if (mode === 'per-example') return conv2dPerExampleFilterBiasNhwc(backend, xn, dyn, g);
      return mode === 'bias'
        ? conv2dBackpropFilterBiasNhwc(backend, xn, dyn, g)
        : [conv2dBackpropFilterNhwc(backend, xn, dyn, g)];
    } finally {
      disposeInfos(backend, ...owned);
    }
  });
}

/** `Conv2DBackpropFilter` on wasm; see the module documentation. */
function conv2dBackpropFilterKernel(args: KernelArgs): TensorInfo {
  const [dw] = runKernel(args, 'filter');
  if (dw === undefined) throw new BackendError('wasm', 'Conv2DBackpropFilter: no output');
  return dw;
}

/** The kernel config registered by `registerWasmGradientKernels`. */
export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropFilterKernel,
};

/** The {@link CONV2D_BACKPROP_FILTER_BIAS} kernel config registered by `registerWasmGradientKernels`. */
export const conv2dBackpropFilterBiasConfig: tf.KernelConfig = {
  kernelName: CONV2D_BACKPROP_FILTER_BIAS,
  backendName: 'wasm',
  kernelFunc: (args) => runKernel(args, 'bias'),
};

/** The {@link CONV2D_PER_EXAMPLE_FILTER_BIAS} kernel config registered by `registerWasmGradientKernels`. */
export const conv2dPerExampleFilterBiasConfig: tf.KernelConfig = {
  kernelName: CONV2D_PER_EXAMPLE_FILTER_BIAS,
  backendName: 'wasm',
  kernelFunc: (args) => runKernel(args, 'per-example'),
};
