import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { compareToReference, vjpAdjointCheck } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import {
  PADDINGS,
  RTOL,
  padName,
  randn,
  refGeometry,
  useWasmBackend,
} from './__fixtures__/harness.js';
import { depthwiseFilterGradRef, depthwiseInputGradRef } from './__fixtures__/reference.js';

useWasmBackend();

const X_SHAPE = [2, 7, 5, 3] as [number, number, number, number];
type Pad = (typeof PADDINGS)[number];

const cases = [1, 2, 3].flatMap((strides) =>
  PADDINGS.flatMap((pad) =>
    [1, 3, 5].flatMap((k) =>
      [1, 2].map((mult) => ({ strides, pad, k, mult, padding: padName(pad) })),
    ),
  ),
);

function kernels(
  x: tf.Tensor,
  w: tf.Tensor,
  dy: tf.Tensor,
  strides: number,
  pad: Pad,
  dilations: number,
): [tf.Tensor, tf.Tensor] {
  const attrs = { strides, pad, dilations };
  const dx = tf.engine().runKernel<tf.Tensor>(
    tf.DepthwiseConv2dNativeBackpropInput,
    { dy, filter: w },
    {
      ...attrs,
      inputShape: x.shape,
    },
  );
  const dw = tf.engine().runKernel<tf.Tensor>(
    tf.DepthwiseConv2dNativeBackpropFilter,
    { x, dy },
    {
      ...attrs,
      filterShape: w.shape,
    },
  );
  return [dx, dw];
}

describe('wasm DepthwiseConv2dNativeBackpropInput / BackpropFilter', () => {
  useLeakGuard({ beforeEach, afterEach });

  it.each(cases)(
    'stride $strides, $padding padding, filter $k, multiplier $mult: match the definition and tf.grad is adjoint',
    ({ strides, pad, k, mult }) => {
      const filterShape = [k, k, 3, mult] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(
        X_SHAPE,
        filterShape,
        strides,
        1,
        pad,
        undefined,
        true,
      );
      const g = refGeometry(info);
      tf.tidy(() => {
        const x = randn(X_SHAPE, 1) as tf.Tensor4D;
        const w = randn(filterShape, 2) as tf.Tensor4D;
        const dy = randn(info.outShape, 3);
        const [dx, dw] = kernels(x, w, dy, strides, pad, 1);
        const refX = depthwiseInputGradRef(dy.dataSync(), w.dataSync(), g, mult);
        const cmpX = compareToReference(dx.dataSync(), refX.value, {
          magnitude: refX.magnitude,
          rtol: RTOL,
        });
        expect(cmpX.ok, `input: ${cmpX.message}`).toBe(true);
        const refW = depthwiseFilterGradRef(x.dataSync(), dy.dataSync(), g, mult);
        const cmpW = compareToReference(dw.dataSync(), refW.value, {
          magnitude: refW.magnitude,
          rtol: RTOL,
        });
        expect(cmpW.ok, `filter: ${cmpW.message}`).toBe(true);

        const adjX = vjpAdjointCheck(
          (t) => tf.depthwiseConv2d(t as tf.Tensor4D, w, strides, pad),
          x,
          { seed: 4 },
        );
        expect(adjX.ok, `x adjoint: error ${adjX.error} > ${adjX.bound}`).toBe(true);
        const adjW = vjpAdjointCheck(
          (t) => tf.depthwiseConv2d(x, t as tf.Tensor4D, strides, pad),
          w,
          { seed: 5 },
        );
        expect(adjW.ok, `W adjoint: error ${adjW.error} > ${adjW.bound}`).toBe(true);
      });
    },
  );

  it('supports dilations when the kernels are called directly', () => {
    const filterShape = [3, 3, 3, 2] as [number, number, number, number];
    const info = tf.backend_util.computeConv2DInfo(
      X_SHAPE,
      filterShape,
      1,
      2,
      'same',
      undefined,
      true,
    );
    const g = refGeometry(info);
    tf.tidy(() => {
      const x = randn(X_SHAPE, 6);
      const w = randn(filterShape, 7);
      const dy = randn(info.outShape, 8);
      const [dx, dw] = kernels(x, w, dy, 1, 'same', 2);
      const refX = depthwiseInputGradRef(dy.dataSync(), w.dataSync(), g, 2);
      expect(
        compareToReference(dx.dataSync(), refX.value, { magnitude: refX.magnitude, rtol: RTOL }).ok,
      ).toBe(true);
      const refW = depthwiseFilterGradRef(x.dataSync(), dy.dataSync(), g, 2);
      expect(
        compareToReference(dw.dataSync(), refW.value, { magnitude: refW.magnitude, rtol: RTOL }).ok,
      ).toBe(true);
    });
  });

  it('trains a separable convolution (depthwise + pointwise) through tf.grad', () => {
    tf.tidy(() => {
      const x = randn(X_SHAPE, 9) as tf.Tensor4D;
      const depth = randn([3, 3, 3, 2], 10) as tf.Tensor4D;
      const point = randn([1, 1, 6, 4], 11) as tf.Tensor4D;
      const adj = vjpAdjointCheck(
        (t) => tf.separableConv2d(x, t as tf.Tensor4D, point, 2, 'same'),
        depth,
        { seed: 12 },
      );
      expect(adj.ok, `error ${adj.error} > ${adj.bound}`).toBe(true);
    });
  });
});
