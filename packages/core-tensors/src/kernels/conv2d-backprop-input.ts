/**
 * `Conv2DBackpropInput` for the wasm backend: the gradient of `conv2d` with respect to its input,
 * which is also the forward pass of `conv2dTranspose`. It replaces the stock wasm kernel, a scalar
 * loop (about 4 GFLOP/s), with XNNPACK convolutions (about 40 GFLOP/s on one thread).
 *
 * `dx[n, h, w, c] = Σ dy[n, i, j, o] · W[kh, kw, c, o]` over `h = i·sh + kh − pt`,
 * `w = j·sw + kw − pl`. Split the input rows by phase `rh = (h + pt) mod sh` (and columns by
 * `rw`): only taps `kh = rh + sh·t` reach phase `rh`, and on the phase's sub-grid
 * `q = (h + pt − rh) / sh` the sum is a stride-1 correlation of `dy` with the sub-filter
 * `G[t', u', o, c] = W[rh + sh·(Th − 1 − t'), rw + sw·(Tw − 1 − u'), c, o]` (spatially flipped,
 * channels swapped). So:
 *
 * - stride 1: one `Conv2D` of `dy` with the flipped filter, padded by `KH − 1 − pt` etc., whose
 *   output is `dx` itself;
 * - stride `s`: `sh·sw` such convolutions (one per phase, each with only its own taps, so no
 *   multiply by an inserted zero), written interleaved into `dx`.
 *
 * Measured alternatives (batch 16, 1 thread): a single convolution with all phases stacked as
 * output channels (taps zero-padded to `⌈K/s⌉`) costs 1.8× the arithmetic for 3×3 stride 2 and was
 * ~2× slower, and the wasm `DepthToSpace` to interleave it was slower than the convolution itself.
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
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';
import { winogradApplies, winogradConv2dBackpropInput } from './winograd.js';

/** How one phase of the input gradient is computed (see the module documentation). */
interface PhasePlan {
  /** Phase offsets. */
  readonly rh: number;
  readonly rw: number;
  /** Taps of the phase's sub-filter. */
  readonly th: number;
  readonly tw: number;
  /** Sub-grid indices `q` (rows) and `p` (columns) that fall inside the input: `[lo, hi)`. */
  readonly qlo: number;
  readonly qhi: number;
  readonly plo: number;
  readonly phi: number;
  /** Explicit paddings of the phase's convolution. */
  readonly pads: [[number, number], [number, number], [number, number], [number, number]];
  /** Sub-grid index of the convolution's first output row / column. */
  readonly qStart: number;
  readonly pStart: number;
}

/**
 * One dimension of a phase plan: taps, valid sub-grid range, paddings and first output index.
 * `r`: phase; `k`: filter size; `s`: stride; `p0`: leading padding; `size`: input size;
 * `outSize`: size of `dy` along the dimension.
 */
function planAxis(
  r: number,
  k: number,
  s: number,
  p0: number,
  size: number,
  outSize: number,
): {
  taps: number;
  lo: number;
  hi: number;
  padBefore: number;
  padAfter: number;
  start: number;
} {
  const taps = r < k ? Math.ceil((k - r) / s) : 0;
  // Input index = q·s + r − p0 ∈ [0, size).
  const lo = Math.ceil((p0 - r) / s);
  const hi = Math.floor((size - 1 + p0 - r) / s) + 1;
  const padBefore = Math.max(0, taps - 1 - lo);
  const start = taps - 1 - padBefore;
  const padAfter = Math.max(0, hi - 1 - start + taps - outSize - padBefore);
  return { taps, lo, hi, padBefore, padAfter, start };
}

function planPhases(g: ConvGeometry): PhasePlan[] {
  const plans: PhasePlan[] = [];
  for (let rh = 0; rh < g.strideHeight; rh++) {
    const a = planAxis(rh, g.filterHeight, g.strideHeight, g.padTop, g.inHeight, g.outHeight);
    if (a.taps === 0 || a.hi <= a.lo) continue;
    for (let rw = 0; rw < g.strideWidth; rw++) {
      const b = planAxis(rw, g.filterWidth, g.strideWidth, g.padLeft, g.inWidth, g.outWidth);
      if (b.taps === 0 || b.hi <= b.lo) continue;
      plans.push({
        rh,
        rw,
        th: a.taps,
        tw: b.taps,
        qlo: a.lo,
        qhi: a.hi,
        plo: b.lo,
        phi: b.hi,
        pads: [
          [0, 0],
          [a.padBefore, a.padAfter],
          [b.padBefore, b.padAfter],
          [0, 0],
        ],
        qStart: a.start,
        pStart: b.start,
      });
    }
  }
  return plans;
}

/** The phase's sub-filter `G[t', u', o, c] = W[rh + sh(Th−1−t'), rw + sw(Tw−1−u'), c, o]`. */
function phaseFilter(
  backend: WasmBackend,
  filter: TensorInfo,
  g: ConvGeometry,
  plan: PhasePlan,
  depthwise: boolean,
): TensorInfo {
  const { inChannels: c, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  // Depthwise (multiplier 1): W [KH, KW, C, 1] -> G [Th, Tw, C, 1], the same loop with O = 1.
  const o = depthwise ? 1 : g.outChannels;
  const out = allocOutput(backend, depthwise ? [plan.th, plan.tw, c, 1] : [plan.th, plan.tw, o, c]);
  const w = f32View(backend, filter);
  const dst = f32View(backend, out);
  let d = 0;
  for (let t = 0; t < plan.th; t++) {
    const kh = plan.rh + sh * (plan.th - 1 - t);
    for (let u = 0; u < plan.tw; u++) {
      const kw = plan.rw + sw * (plan.tw - 1 - u);
      const base = (kh * kW + kw) * c * o;
      for (let oo = 0; oo < o; oo++) {
        for (let cc = 0; cc < c; cc++) dst[d++] = w[base + cc * o + oo] ?? 0;
      }
    }
  }
  return out;
}

/**
 * The input gradient of an NHWC `conv2d` with dilation 1: `dy` `[N, OH, OW, O]` and `filter`
 * `[KH, KW, C, O]` (both float32), result `[N, H, W, C]` owned by the caller.
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([2, 7, 5, 3], [3, 3, 3, 4], 2, 1, 'same');
 * const dx = conv2dBackpropInputNhwc(backend, dy, filter, convGeometry(info));
 * ```
 */
export function conv2dBackpropInputNhwc(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  if (winogradApplies(g)) return winogradConv2dBackpropInput(backend, dy, filter, g);
  return backpropInputByPhases(backend, dy, filter, g, false);
}

/**
 * The input gradient of an NHWC depthwise convolution with channel multiplier 1 and dilation 1,
 * by the same phase decomposition on XNNPACK depthwise convolutions: `dy` `[N, OH, OW, C]`,
 * `filter` `[KH, KW, C, 1]` (float32), result `[N, H, W, C]` owned by the caller.
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([2, 7, 5, 3], [3, 3, 3, 1], 2, 1, 'same', undefined, true);
 * const dx = depthwiseBackpropInputByPhases(backend, dy, filter, convGeometry(info));
 * ```
 */
export function depthwiseBackpropInputByPhases(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  if (g.outChannels !== g.inChannels || g.dilationHeight !== 1 || g.dilationWidth !== 1) {
    throw new BackendError(
      'wasm',
      'depthwise input gradient by phases needs multiplier and dilation 1',
    );
  }
  return backpropInputByPhases(backend, dy, filter, g, true);
}

function backpropInputByPhases(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  depthwise: boolean,
): TensorInfo {
  const kernel = depthwise ? 'DepthwiseConv2dNative' : 'Conv2D';
  const convAttrs = (pad: PhasePlan['pads']): Record<string, unknown> =>
    depthwise
      ? { strides: 1, dilations: 1, pad }
      : { strides: 1, dilations: 1, pad, dataFormat: 'NHWC' };
  const { batch: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const dxShape = [n, h, w, c];
  const plans = n * g.outHeight * g.outWidth * g.outChannels * c === 0 ? [] : planPhases(g);
  const first = plans[0];
  if (
    plans.length === 1 &&
    first !== undefined &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    first.qStart === first.qlo &&
    first.pStart === first.plo
  ) {
    // Stride 1 with paddings that need no cropping: the convolution's output is dx.
    const filterT = phaseFilter(backend, filter, g, first, depthwise);
    try {
      const out = runWasmKernel(backend, kernel, { x: dy, filter: filterT }, convAttrs(first.pads));
      if (out.shape[1] === h && out.shape[2] === w) return out;
      disposeInfos(backend, out);
    } finally {
      disposeInfos(backend, filterT);
    }
  }
  const dx = allocOutput(backend, dxShape);
  f32View(backend, dx).fill(0);
  for (const plan of plans) {
    const filterT = phaseFilter(backend, filter, g, plan, depthwise);
    let z: TensorInfo;
    try {
      z = runWasmKernel(backend, kernel, { x: dy, filter: filterT }, convAttrs(plan.pads));
    } finally {
      disposeInfos(backend, filterT);
    }
    scatterPhase(backend, z, dx, g, plan);
    disposeInfos(backend, z);
  }
  return dx;
}

/** Writes a phase's convolution output `z` into its rows and columns of `dx`. */
function scatterPhase(
  backend: WasmBackend,
  z: TensorInfo,
  dx: TensorInfo,
  g: ConvGeometry,
  plan: PhasePlan,
): void {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const zh = z.shape[1] ?? 0;
  const zw = z.shape[2] ?? 0;
  const heap = f32Heap(backend);
  const src = f32Offset(backend, z);
  const dst = f32Offset(backend, dx);
  const { qlo, qhi, plo, phi } = plan;
  const sw = g.strideWidth;
  for (let b = 0; b < n; b++) {
    for (let q = qlo; q < qhi; q++) {
      const hh = q * g.strideHeight + plan.rh - g.padTop;
      const srcRow = src + ((b * zh + q - plan.qStart) * zw - plan.pStart) * c;
      const dstRow = dst + ((b * h + hh) * w + plan.rw - g.padLeft) * c;
      if (sw === 1) {
        heap.copyWithin(dstRow + plo * c, srcRow + plo * c, srcRow + phi * c);
        continue;
      }
      for (let p = plo; p < phi; p++) {
        const s = srcRow + p * c;
        const d = dstRow + p * sw * c;
        if (c >= 8) {
          heap.copyWithin(d, s, s + c);
        } else {
          for (let k = 0; k < c; k++) heap[d + k] = heap[s + k]!;
        }
      }
    }
  }
}

/** `Conv2DBackpropInput` on wasm; see the module documentation. */
function conv2dBackpropInputKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.Conv2DBackpropInput);
  const [dy, filter] = requireInputs(tf.Conv2DBackpropInput, args.inputs, ['dy', 'filter']);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const { g, channelsFirst } = conv2dGradGeometry(attrs.inputShape, filter.shape, attrs);
  return withFloat32(backend, [dy, filter], (dyf, wf) => {
    if (!channelsFirst) return conv2dBackpropInputNhwc(backend, dyf, wf, g);
    const owned: TensorInfo[] = [];
    try {
      const dyNhwc = runWasmKernel(backend, 'Transpose', { x: dyf }, { perm: [0, 2, 3, 1] });
      owned.push(dyNhwc);
      const dxNhwc = conv2dBackpropInputNhwc(backend, dyNhwc, wf, g);
      owned.push(dxNhwc);
      return runWasmKernel(backend, 'Transpose', { x: dxNhwc }, { perm: [0, 3, 1, 2] });
    } finally {
      disposeInfos(backend, ...owned);
    }
  });
}

/** The kernel config registered by `registerWasmGradientKernels` (replacing the stock one). */
export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2dBackpropInputKernel,
};
