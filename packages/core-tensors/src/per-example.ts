/**
 * Per-example parameter gradients of conv and dense layers from one batched backward pass.
 *
 * TensorFlow.js has no `vmap`, but a network without batch coupling (no batch norm in training
 * mode) needs none: the backward pass of `Σ_n ℓ_n` over a batch already carries, at every layer,
 * the output gradient `dy[n]` of each example's own loss `ℓ_n`, and the layer's input `x[n]`. The
 * weight gradient of `ℓ_n` alone is then the layer's weight gradient of the pair `(x[n], dy[n])`:
 *
 * - conv2d + bias: `dW[n][kh, kw, c, o] = Σ_{i,j} x[n, i·sh + kh − pt, j·sw + kw − pl, c] · dy[n, i, j, o]`,
 *   `db[n][o] = Σ_{i,j} dy[n, i, j, o]`;
 * - dense `y = x·W + b`: `dW[n] = x[n] ⊗ dy[n]` (outer product), `db[n] = dy[n]`.
 *
 * The functions here compute those from `x` and `dy`; `@mtu/multitask-model` collects `x` and `dy`
 * inside its gradient functions.
 *
 * @module
 */
import { ShapeError } from './errors.js';
import { CONV2D_PER_EXAMPLE_FILTER_BIAS } from './kernels/conv2d-backprop-filter.js';
import { tf } from './tf.js';
import type { Tensor, Tensor2D, Tensor3D, Tensor4D } from './tf.js';

/** Padding of a 2-D convolution, as tfjs' `conv2d` takes it. */
export type Conv2DPadding = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

/** Per-example gradients of one conv2d + bias layer (caller owns both). */
export interface PerExampleConvGradients {
  /** `[N, KH, KW, C, O]`: example `n`'s filter gradient is `filter[n]`. */
  readonly filter: Tensor;
  /** `[N, O]`. */
  readonly bias: Tensor2D;
}

/** Per-example gradients of one dense layer `y = x·W + b` (caller owns both). */
export interface PerExampleDenseGradients {
  /** `[N, in, out]`: example `n`'s weight gradient is `weight[n]`. */
  readonly weight: Tensor3D;
  /** `[N, out]`. */
  readonly bias: Tensor2D;
}

/**
 * The filter and bias gradients of each example of a batch for `conv2d(x, W, strides, pad) + b`
 * (NHWC, dilation 1), given the layer's input `x` `[N, H, W, C]` and the gradient `dy`
 * `[N, OH, OW, O]` of the loss with respect to its output (before any activation): example `n`'s
 * gradients are those of the pair `(x[n], dy[n])` alone. On wasm one kernel
 * (`MtuConv2DPerExampleFilterBias`, one XNNPACK product per example); on other backends one
 * `Conv2DBackpropFilter` per example.
 *
 * @example
 * ```ts
 * // x [8, 32, 32, 16], dy [8, 16, 16, 32] of a stride-2 'same' 3×3 conv with 32 filters:
 * const { filter, bias } = conv2dPerExampleGradients(x, dy, [3, 3, 16, 32], 2, 'same');
 * filter.shape; // [8, 3, 3, 16, 32]
 * bias.shape;   // [8, 32]
 * ```
 */
export function conv2dPerExampleGradients(
  x: Tensor4D,
  dy: Tensor4D,
  filterShape: readonly [number, number, number, number],
  strides: number | readonly [number, number],
  pad: Conv2DPadding,
): PerExampleConvGradients {
  const [n, , , c] = x.shape;
  const [kh, kw, fc, o] = filterShape;
  if (x.rank !== 4 || dy.rank !== 4) {
    throw new ShapeError(
      `conv2dPerExampleGradients: x and dy must be rank 4 (NHWC), got [${x.shape.join(', ')}] and [${dy.shape.join(', ')}]`,
    );
  }
  const s: [number, number] = typeof strides === 'number' ? [strides, strides] : [...strides];
  const info = tf.backend_util.computeConv2DInfo(x.shape, [kh, kw, fc, o], s, 1, pad);
  if (fc !== c || dy.shape[0] !== n || dy.shape.some((d, i) => d !== info.outShape[i])) {
    throw new ShapeError(
      `conv2dPerExampleGradients: with x [${x.shape.join(', ')}] and filter [${filterShape.join(', ')}], dy must be [${info.outShape.join(', ')}], got [${dy.shape.join(', ')}]`,
      { expected: info.outShape, actual: dy.shape },
    );
  }
  const attrs = { strides: s, pad, dataFormat: 'NHWC', filterShape: [kh, kw, c, o] };
  if (tf.getKernel(CONV2D_PER_EXAMPLE_FILTER_BIAS, tf.getBackend()) !== undefined) {
    const [filter, bias] = tf
      .engine()
      .runKernel(CONV2D_PER_EXAMPLE_FILTER_BIAS, { x, dy }, attrs) as unknown as [Tensor, Tensor2D];
    return { filter, bias };
  }
  return tf.tidy(() => {
    const filters: Tensor[] = [];
    const biases: Tensor[] = [];
    for (let e = 0; e < n; e++) {
      const xe = tf.slice(x, [e, 0, 0, 0], [1, -1, -1, -1]);
      const dye = tf.slice(dy, [e, 0, 0, 0], [1, -1, -1, -1]);
      filters.push(tf.engine().runKernel('Conv2DBackpropFilter', { x: xe, dy: dye }, attrs));
      biases.push(tf.sum(dye, [0, 1, 2]));
    }
    const filter =
      n === 0 ? tf.zeros([0, kh, kw, c, o]) : tf.stack(filters).reshape([n, kh, kw, c, o]);
    const bias = (n === 0 ? tf.zeros([0, o]) : tf.stack(biases)) as Tensor2D;
    return { filter, bias };
  });
}

/**
 * The weight and bias gradients of each example of a batch for a dense layer `y = x·W + b`, given
 * its input `x` `[N, in]` and the gradient `dy` `[N, out]` of the loss with respect to `y` (before
 * any activation): `weight[n] = x[n] ⊗ dy[n]` `[in, out]`, `bias[n] = dy[n]`.
 *
 * @example
 * ```ts
 * const { weight, bias } = densePerExampleGradients(x, dy); // x [8, 4096], dy [8, 64]
 * weight.shape; // [8, 4096, 64]
 * ```
 */
export function densePerExampleGradients(x: Tensor2D, dy: Tensor2D): PerExampleDenseGradients {
  if (x.rank !== 2 || dy.rank !== 2 || x.shape[0] !== dy.shape[0]) {
    throw new ShapeError(
      `densePerExampleGradients: expected x [N, in] and dy [N, out] with the same N, got [${x.shape.join(', ')}] and [${dy.shape.join(', ')}]`,
      { actual: dy.shape },
    );
  }
  return tf.tidy(() => ({
    weight: tf.mul<Tensor3D>(tf.expandDims<Tensor3D>(x, 2), tf.expandDims<Tensor3D>(dy, 1)),
    bias: tf.clone(dy),
  }));
}
