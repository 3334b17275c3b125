/**
 * The geometry of a 2-D convolution or pooling window (NHWC), as the gradient kernels use it.
 *
 * @module
 */
import { tf } from '../tf.js';

/** Sizes, strides, dilations and leading paddings of a 2-D convolution or pooling (NHWC). */
export interface ConvGeometry {
  /** Batch size `N`. */
  readonly batch: number;
  /** Input height `H`. */
  readonly inHeight: number;
  /** Input width `W`. */
  readonly inWidth: number;
  /** Input channels `C`. */
  readonly inChannels: number;
  /** Output height `OH`. */
  readonly outHeight: number;
  /** Output width `OW`. */
  readonly outWidth: number;
  /** Output channels `O` (for depthwise: `C × multiplier`). */
  readonly outChannels: number;
  /** Filter (window) height `KH`. */
  readonly filterHeight: number;
  /** Filter (window) width `KW`. */
  readonly filterWidth: number;
  /** Vertical stride `sh`. */
  readonly strideHeight: number;
  /** Horizontal stride `sw`. */
  readonly strideWidth: number;
  /** Vertical dilation `dh`. */
  readonly dilationHeight: number;
  /** Horizontal dilation `dw`. */
  readonly dilationWidth: number;
  /** Zero rows added above the input (`pt`); output row `i`, tap `kh` reads row `i·sh + kh·dh − pt`. */
  readonly padTop: number;
  /** Zero columns added left of the input (`pl`). */
  readonly padLeft: number;
}

/**
 * Extracts a {@link ConvGeometry} from tfjs' `Conv2DInfo` (from
 * `tf.backend_util.computeConv2DInfo` or `computePool2DInfo`).
 *
 * @example
 * ```ts
 * const info = tf.backend_util.computeConv2DInfo([2, 7, 5, 3], [3, 3, 3, 4], 2, 1, 'same');
 * const g = convGeometry(info); // g.outHeight === 4, g.padTop === 1
 * ```
 */
export function convGeometry(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * The NHWC {@link ConvGeometry} of a (non-depthwise) conv2d gradient kernel, and whether its data
 * are NCHW (`dataFormat: 'NCHW'`), in which case the kernel transposes to and from NHWC.
 *
 * @example
 * ```ts
 * const { g, channelsFirst } = conv2dGradGeometry(attrs.inputShape, filter.shape, attrs);
 * ```
 */
export function conv2dGradGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: Pick<tf.Conv2DBackpropInputAttrs, 'strides' | 'pad' | 'dimRoundingMode' | 'dataFormat'>,
): { readonly g: ConvGeometry; readonly channelsFirst: boolean } {
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat ?? 'NHWC');
  const info = tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    dataFormat,
  );
  return { g: convGeometry(info), channelsFirst: dataFormat === 'channelsFirst' };
}

/**
 * The range `[lo, hi)` of output indices `i` for which `i·stride + offset` lies in `[0, size)`
 * (empty when `hi ≤ lo`), clipped to `[0, outSize)`.
 *
 * @example
 * ```ts
 * validRange(2, -1, 5, 3); // [1, 3]: i = 1, 2 read rows 1, 3
 * ```
 */
export function validRange(
  stride: number,
  offset: number,
  size: number,
  outSize: number,
): [number, number] {
  const lo = Math.max(0, Math.ceil(-offset / stride));
  const hi = Math.min(outSize, Math.floor((size - 1 - offset) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}
