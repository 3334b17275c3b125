/**
 * `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter` for the wasm
 * backend, which has neither (so `tf.depthwiseConv2d` and `tf.separableConv2d` could not train).
 *
 * With `x` `[N, H, W, C]`, filter `[KH, KW, C, M]` (channel multiplier `M`) and
 * `dy` `[N, OH, OW, C·M]`, where output channel `c·M + m` reads input channel `c`:
 *
 * - `dx[n, h, w, c] = Σ_{i,j,kh,kw,m} dy[n, i, j, c·M + m] · W[kh, kw, c, m]`,
 * - `dW[kh, kw, c, m] = Σ_{n,i,j} x[n, h, w, c] · dy[n, i, j, c·M + m]`,
 *
 * over `h = i·sh + kh·dh − pt`, `w = j·sw + kw·dw − pl` inside the input. With multiplier 1 and
 * dilation 1 (the usual case) the input gradient runs as XNNPACK depthwise convolutions of `dy`
 * with the flipped filter, one per stride phase (see `conv2d-backprop-input.ts`); otherwise, and for
 * the filter gradient, direct loops on the wasm heap, the filter gradient accumulated in float64.
 *
 * @module
 */
import { tf } from '../tf.js';
import { convGeometry, type ConvGeometry } from './conv-geometry.js';
import { depthwiseBackpropInputByPhases } from './conv2d-backprop-input.js';
import {
  allocOutput,
  asWasmBackend,
  f32View,
  requireInputs,
  withFloat32,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/**
 * Depthwise input gradient: `dy` `[N, OH, OW, C·M]`, `filter` `[KH, KW, C, M]` (float32), result
 * `[N, H, W, C]` owned by the caller.
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([2, 7, 5, 3], [3, 3, 3, 2], 1, 1, 'same', undefined, true);
 * const dx = depthwiseBackpropInputNhwc(backend, dy, filter, convGeometry(info));
 * ```
 */
export function depthwiseBackpropInputNhwc(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = g;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw } = g;
  const mult = g.outChannels / c;
  const cm = c * mult;
  const dx = allocOutput(backend, [n, h, w, c]);
  const out = f32View(backend, dx);
  out.fill(0);
  const gy = f32View(backend, dy);
  const wt = f32View(backend, filter);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const dyBase = ((b * oh + i) * ow + j) * cm;
        for (let kh = 0; kh < kH; kh++) {
          const hh = i * sh + kh * dh - g.padTop;
          if (hh < 0 || hh >= h) continue;
          for (let kw = 0; kw < kW; kw++) {
            const ww = j * sw + kw * dw - g.padLeft;
            if (ww < 0 || ww >= w) continue;
            const dxBase = ((b * h + hh) * w + ww) * c;
            const wBase = (kh * kW + kw) * cm;
            if (mult === 1) {
              for (let k = 0; k < c; k++) {
                out[dxBase + k] = out[dxBase + k]! + gy[dyBase + k]! * wt[wBase + k]!;
              }
            } else {
              for (let k = 0; k < c; k++) {
                let s = 0;
                const o = k * mult;
                for (let m = 0; m < mult; m++) s += gy[dyBase + o + m]! * wt[wBase + o + m]!;
                out[dxBase + k] = out[dxBase + k]! + s;
              }
            }
          }
        }
      }
    }
  }
  return dx;
}

/**
 * Depthwise filter gradient: `x` `[N, H, W, C]`, `dy` `[N, OH, OW, C·M]` (float32), result
 * `[KH, KW, C, M]` owned by the caller; sums in float64.
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([2, 7, 5, 3], [3, 3, 3, 2], 1, 1, 'same', undefined, true);
 * const dw = depthwiseBackpropFilterNhwc(backend, x, dy, convGeometry(info));
 * ```
 */
export function depthwiseBackpropFilterNhwc(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = g;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw } = g;
  const mult = g.outChannels / c;
  const cm = c * mult;
  const acc = new Float64Array(kH * kW * cm);
  const xs = f32View(backend, x);
  const gy = f32View(backend, dy);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        const dyBase = ((b * oh + i) * ow + j) * cm;
        for (let kh = 0; kh < kH; kh++) {
          const hh = i * sh + kh * dh - g.padTop;
          if (hh < 0 || hh >= h) continue;
          for (let kw = 0; kw < kW; kw++) {
            const ww = j * sw + kw * dw - g.padLeft;
            if (ww < 0 || ww >= w) continue;
            const xBase = ((b * h + hh) * w + ww) * c;
            const wBase = (kh * kW + kw) * cm;
            if (mult === 1) {
              for (let k = 0; k < c; k++)
                acc[wBase + k] = acc[wBase + k]! + xs[xBase + k]! * gy[dyBase + k]!;
            } else {
              for (let k = 0; k < c; k++) {
                const xv = xs[xBase + k]!;
                const o = k * mult;
                for (let m = 0; m < mult; m++) {
                  acc[wBase + o + m] = acc[wBase + o + m]! + xv * gy[dyBase + o + m]!;
                }
              }
            }
          }
        }
      }
    }
  }
  const dw4 = allocOutput(backend, [kH, kW, c, mult]);
  f32View(backend, dw4).set(acc);
  return dw4;
}

function depthwiseInfo(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: tf.DepthwiseConv2dNativeBackpropInputAttrs | tf.DepthwiseConv2dNativeBackpropFilterAttrs,
): ConvGeometry {
  return convGeometry(
    tf.backend_util.computeConv2DInfo(
      inShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    ),
  );
}

function depthwiseBackpropInputKernel(args: KernelArgs): TensorInfo {
  const name = tf.DepthwiseConv2dNativeBackpropInput;
  const backend = asWasmBackend(args.backend, name);
  const [dy, filter] = requireInputs(name, args.inputs, ['dy', 'filter']);
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const g = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  return withFloat32(backend, [dy, filter], (dyf, wf) => {
    if (g.outChannels === g.inChannels && g.dilationHeight === 1 && g.dilationWidth === 1) {
      // Multiplier 1: XNNPACK depthwise convolutions, one per stride phase.
      return depthwiseBackpropInputByPhases(backend, dyf, wf, g);
    }
    return depthwiseBackpropInputNhwc(backend, dyf, wf, g);
  });
}

function depthwiseBackpropFilterKernel(args: KernelArgs): TensorInfo {
  const name = tf.DepthwiseConv2dNativeBackpropFilter;
  const backend = asWasmBackend(args.backend, name);
  const [x, dy] = requireInputs(name, args.inputs, ['x', 'dy']);
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const g = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  return withFloat32(backend, [x, dy], (xf, dyf) =>
    depthwiseBackpropFilterNhwc(backend, xf, dyf, g),
  );
}

/** `DepthwiseConv2dNativeBackpropInput` kernel config (missing from stock wasm). */
export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInputKernel,
};

/** `DepthwiseConv2dNativeBackpropFilter` kernel config (missing from stock wasm). */
export const depthwiseBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilterKernel,
};
