/**
 * `MaxPoolGrad` and `AvgPoolGrad` for the wasm backend, replacing the stock kernels, which are
 * wrong:
 *
 * - the stock `MaxPoolGrad` starts its running maximum at `FLT_MIN` (the smallest *positive*
 *   float) instead of −∞, so a window whose values are all negative sends its gradient to the
 *   window's first position instead of its maximum;
 * - the stock `AvgPoolGrad` divides by the full window size `KH·KW`, while the forward `AvgPool`
 *   (XNNPACK, like TensorFlow) averages only the window's positions inside the input, so with
 *   `'same'` (or explicit) padding the border gradients are too small.
 *
 * Both are direct loops over the output on the wasm heap. Semantics (TensorFlow's):
 *
 * - max pooling: each output's gradient goes to the first maximum of its window, in window order
 *   (row-major `kh`, then `kw`); padding is never the maximum; windows that overlap share;
 * - average pooling: each output's gradient is spread evenly over the window's positions that lie
 *   inside the input.
 *
 * @module
 */
import { tf } from '../tf.js';
import { convGeometry, type ConvGeometry } from './conv-geometry.js';
import {
  allocOutput,
  asWasmBackend,
  f32Heap,
  f32Offset,
  requireInputs,
  withFloat32,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/**
 * Max-pooling gradient: `x` `[N, H, W, C]`, `dy` `[N, OH, OW, C]` (float32), result
 * `[N, H, W, C]` owned by the caller.
 *
 * @example
 * ```ts
 * const g = convGeometry(tf.backend_util.computePool2DInfo(x.shape, 3, 2, 1, 'same'));
 * const dx = maxPoolGradNhwc(backend, x, dy, g);
 * ```
 */
export function maxPoolGradNhwc(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = g;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw } = g;
  const dx = allocOutput(backend, [n, h, w, c]);
  const heap = f32Heap(backend);
  const xo = f32Offset(backend, x);
  const dxo = f32Offset(backend, dx);
  let dyp = f32Offset(backend, dy);
  heap.fill(0, dxo, dxo + n * h * w * c);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++, dyp += c) {
        let first = true;
        for (let kh = 0; kh < kH; kh++) {
          const hh = i * sh + kh * dh - g.padTop;
          if (hh < 0 || hh >= h) continue;
          for (let kw = 0; kw < kW; kw++) {
            const ww = j * sw + kw * dw - g.padLeft;
            if (ww < 0 || ww >= w) continue;
            const base = ((b * h + hh) * w + ww) * c;
            const xb = xo + base;
            if (first) {
              // The window's first position inside the input starts the running maximum.
              for (let k = 0; k < c; k++) {
                best[k] = heap[xb + k]!;
                where[k] = base + k;
              }
              first = false;
            } else {
              // Strict '>' keeps the first maximum in window order.
              for (let k = 0; k < c; k++) {
                const v = heap[xb + k]!;
                if (v > best[k]!) {
                  best[k] = v;
                  where[k] = base + k;
                }
              }
            }
          }
        }
        if (first) continue; // the window lies entirely in the padding
        for (let k = 0; k < c; k++) {
          const at = dxo + where[k]!;
          heap[at] = heap[at]! + heap[dyp + k]!;
        }
      }
    }
  }
  return dx;
}

/**
 * Average-pooling gradient: `dy` `[N, OH, OW, C]` (float32), result `[N, H, W, C]` owned by the
 * caller. Each output averages the window's positions inside the input (padding excluded).
 *
 * @example
 * ```ts
 * const g = convGeometry(tf.backend_util.computePool2DInfo(x.shape, 3, 2, 1, 'same'));
 * const dx = avgPoolGradNhwc(backend, dy, g);
 * ```
 */
export function avgPoolGradNhwc(backend: WasmBackend, dy: TensorInfo, g: ConvGeometry): TensorInfo {
  const { batch: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = g;
  const { filterHeight: kH, filterWidth: kW, strideHeight: sh, strideWidth: sw } = g;
  const { dilationHeight: dh, dilationWidth: dw } = g;
  const dx = allocOutput(backend, [n, h, w, c]);
  const heap = f32Heap(backend);
  const dxo = f32Offset(backend, dx);
  const dyo = f32Offset(backend, dy);
  heap.fill(0, dxo, dxo + n * h * w * c);
  const share = new Float32Array(c);
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      let count = 0;
      for (let kh = 0; kh < kH; kh++) {
        const hh = i * sh + kh * dh - g.padTop;
        if (hh < 0 || hh >= h) continue;
        for (let kw = 0; kw < kW; kw++) {
          const ww = j * sw + kw * dw - g.padLeft;
          if (ww >= 0 && ww < w) count++;
        }
      }
      if (count === 0) continue;
      for (let b = 0; b < n; b++) {
        const dyBase = dyo + ((b * oh + i) * ow + j) * c;
        for (let k = 0; k < c; k++) share[k] = heap[dyBase + k]! / count;
        for (let kh = 0; kh < kH; kh++) {
          const hh = i * sh + kh * dh - g.padTop;
          if (hh < 0 || hh >= h) continue;
          for (let kw = 0; kw < kW; kw++) {
            const ww = j * sw + kw * dw - g.padLeft;
            if (ww < 0 || ww >= w) continue;
            const base = dxo + ((b * h + hh) * w + ww) * c;
            for (let k = 0; k < c; k++) heap[base + k] = heap[base + k]! + share[k]!;
          }
        }
      }
    }
  }
  return dx;
}

function poolGeometry(
  inShape: readonly number[],
  attrs: { filterSize: [number, number] | number; strides: [number, number] | number },
  pad: tf.MaxPoolGradAttrs['pad'],
  dimRoundingMode: tf.MaxPoolGradAttrs['dimRoundingMode'],
): ConvGeometry {
  return convGeometry(
    tf.backend_util.computePool2DInfo(
      inShape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      pad,
      dimRoundingMode,
    ),
  );
}

function maxPoolGradKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.MaxPoolGrad);
  const [dy, input] = requireInputs(tf.MaxPoolGrad, args.inputs, ['dy', 'input']);
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const g = poolGeometry(input.shape, attrs, attrs.pad, attrs.dimRoundingMode);
  return withFloat32(backend, [input, dy], (xf, dyf) => maxPoolGradNhwc(backend, xf, dyf, g));
}

function avgPoolGradKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.AvgPoolGrad);
  const [dy, input] = requireInputs(tf.AvgPoolGrad, args.inputs, ['dy', 'input']);
  const attrs = args.attrs as unknown as tf.AvgPoolGradAttrs;
  const g = poolGeometry(input.shape, attrs, attrs.pad, undefined);
  return withFloat32(backend, [dy], (dyf) => avgPoolGradNhwc(backend, dyf, g));
}

/** `MaxPoolGrad` kernel config (replaces the stock wasm one). */
export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradKernel,
};

/** `AvgPoolGrad` kernel config (replaces the stock wasm one). */
export const avgPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.AvgPoolGrad,
  backendName: 'wasm',
  kernelFunc: avgPoolGradKernel,
};
