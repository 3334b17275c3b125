import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { useLeakGuard } from '../testing/leak-guard.js';
import {
  compareToReference,
  directionalDerivativeCheck,
  vjpAdjointCheck,
} from '../testing/grad-check.js';
import { tf } from '../tf.js';
import {
  PADDINGS,
  RTOL,
  padName,
  randn,
  refGeometry,
  useWasmBackend,
} from './__fixtures__/harness.js';
import { conv2dFilterGradRef, conv2dInputGradRef } from './__fixtures__/reference.js';
import { setConvWorkspaceLimit } from './index.js';

useWasmBackend();

/** Batch 2, 7×5 spatial, 3 input channels, 4 output channels. */
const X_SHAPE = [2, 7, 5, 3] as [number, number, number, number];
const OUT_CHANNELS = 4;
const STRIDES: readonly (number | [number, number])[] = [1, 2, 3, [2, 3]];
const FILTERS: readonly [number, number][] = [
  [1, 1],
  [3, 3],
  [5, 5],
  [5, 3],
];

type Pad = (typeof PADDINGS)[number];

function conv2dFilterGrad(
  x: tf.Tensor,
  dy: tf.Tensor,
  filterShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
): tf.Tensor {
  return tf.engine().runKernel<tf.Tensor>(
    tf.Conv2DBackpropFilter,
    { x, dy },
    {
      strides,
      pad,
      dataFormat,
      filterShape,
    },
  );
}

function conv2dInputGrad(
  dy: tf.Tensor,
  filter: tf.Tensor,
  inputShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dataFormat: 'NHWC' | 'NCHW' = 'NHWC',
): tf.Tensor {
  return tf.engine().runKernel<tf.Tensor>(
    tf.Conv2DBackpropInput,
    { dy, filter },
    {
      strides,
      pad,
      dataFormat,
      inputShape,
    },
  );
}

describe('wasm Conv2DBackpropFilter / Conv2DBackpropInput', () => {
  useLeakGuard({ beforeEach, afterEach });

  const cases = STRIDES.flatMap((strides) =>
    PADDINGS.flatMap((pad) => FILTERS.map((k) => ({ strides, pad, k, padding: padName(pad) }))),
  );

  it.each(cases)(
    'stride $strides, $padding padding, filter $k: both gradients match the float64 definition',
    ({ strides, pad, k }) => {
      const filterShape = [k[0], k[1], X_SHAPE[3], OUT_CHANNELS] as [
        number,
        number,
        number,
        number,
      ];
      const info = tf.backend_util.computeConv2DInfo(X_SHAPE, filterShape, strides, 1, pad);
      const g = refGeometry(info);
      tf.tidy(() => {
        const x = randn(X_SHAPE, 1);
        const w = randn(filterShape, 2);
        const dy = randn(info.outShape, 3);
        const xs = x.dataSync();
        const ws = w.dataSync();
        const dys = dy.dataSync();

        const dw = conv2dFilterGrad(x, dy, filterShape, strides, pad);
        expect(dw.shape).toEqual(filterShape);
        const refW = conv2dFilterGradRef(xs, dys, g, OUT_CHANNELS);
        const cmpW = compareToReference(dw.dataSync(), refW.value, {
          magnitude: refW.magnitude,
          rtol: RTOL,
        });
        expect(cmpW.ok, `${padName(pad)} filter: ${cmpW.message}`).toBe(true);

        const dx = conv2dInputGrad(dy, w, X_SHAPE, strides, pad);
        expect(dx.shape).toEqual(X_SHAPE);
        const refX = conv2dInputGradRef(dys, ws, g, OUT_CHANNELS);
        const cmpX = compareToReference(dx.dataSync(), refX.value, {
          magnitude: refX.magnitude,
          rtol: RTOL,
        });
        expect(cmpX.ok, `${padName(pad)} input: ${cmpX.message}`).toBe(true);
      });
    },
  );

  it.each(cases)(
    'stride $strides, $padding padding, filter $k: tf.grad of conv2d passes the adjoint identity in x and W',
    ({ strides, pad, k }) => {
      const filterShape = [k[0], k[1], X_SHAPE[3], OUT_CHANNELS] as [
        number,
        number,
        number,
        number,
      ];
      tf.tidy(() => {
        const x = randn(X_SHAPE, 4) as tf.Tensor4D;
        const w = randn(filterShape, 5) as tf.Tensor4D;
        const inX = vjpAdjointCheck((t) => tf.conv2d(t as tf.Tensor4D, w, strides, pad), x, {
          seed: 6,
        });
        expect(inX.ok, `x: error ${inX.error} > ${inX.bound}`).toBe(true);
        const inW = vjpAdjointCheck((t) => tf.conv2d(x, t as tf.Tensor4D, strides, pad), w, {
          seed: 7,
        });
        expect(inW.ok, `W: error ${inW.error} > ${inW.bound}`).toBe(true);
      });
    },
  );

  it('conv2dTranspose (forward = Conv2DBackpropInput) is the adjoint of conv2d', () => {
    tf.tidy(() => {
      const w = randn([3, 3, 3, OUT_CHANNELS], 8) as tf.Tensor4D;
      const x = randn(X_SHAPE, 9) as tf.Tensor4D;
      const y = randn([2, 4, 3, OUT_CHANNELS], 10) as tf.Tensor4D;
      // <conv2d(x), y> = <x, conv2dTranspose(y)>
      const lhs = tf.conv2d(x, w, 2, 'same').mul(y).sum().dataSync()[0]!;
      const rhs = x
        .mul(tf.conv2dTranspose(y, w, X_SHAPE, 2, 'same'))
        .sum()
        .dataSync()[0]!;
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * (Math.abs(lhs) + 1));
    });
  });

  it('a fused conv + bias + relu + loss has the directional derivative of its finite difference', () => {
    tf.tidy(() => {
      const x = randn(X_SHAPE, 11) as tf.Tensor4D;
      const b = randn([OUT_CHANNELS], 12);
      const target = randn([2, 4, 3, OUT_CHANNELS], 13);
      const w = randn([3, 3, 3, OUT_CHANNELS], 14);
      const loss = (t: tf.Tensor): tf.Scalar =>
        tf.fused
          .conv2d({
            x,
            filter: t as tf.Tensor4D,
            strides: 2,
            pad: 'same',
            bias: b,
            activation: 'relu',
          })
          .sub(target)
          .square()
          .sum();
      // Piecewise quadratic in W: with h = 1e-3 no ReLU input (|values| ~ 1) changes sign for this
      // seed, so the central difference is exact up to float32 evaluation error: the loss (~100)
      // is summed from ~100 terms, error ≲ 1e-4 absolute; the difference is ~1e-1.
      const r = directionalDerivativeCheck(loss, w, { h: 1e-3, seed: 15, rtol: 1e-3, atol: 1e-4 });
      expect(r.ok, `numeric ${r.numeric} vs analytic ${r.analytic}`).toBe(true);
    });
  });

  it('splits the filter gradient into row chunks when the workspace limit is small', () => {
    const filterShape = [3, 3, X_SHAPE[3], OUT_CHANNELS];
    const info = tf.backend_util.computeConv2DInfo(
      X_SHAPE,
      filterShape as [number, number, number, number],
      2,
      1,
      'same',
    );
    const previous = setConvWorkspaceLimit(50); // < one output row of im2col (27·3·2 = 162)
    try {
      tf.tidy(() => {
        const x = randn(X_SHAPE, 16);
        const dy = randn(info.outShape, 17);
        const ref = conv2dFilterGradRef(
          x.dataSync(),
          dy.dataSync(),
          refGeometry(info),
          OUT_CHANNELS,
        );
        const dw = conv2dFilterGrad(x, dy, filterShape, 2, 'same');
        const cmp = compareToReference(dw.dataSync(), ref.value, {
          magnitude: ref.magnitude,
          rtol: RTOL,
        });
        expect(cmp.ok, cmp.message).toBe(true);
      });
    } finally {
      setConvWorkspaceLimit(previous);
    }
  });

  const mergedCases: readonly {
    strides: number | [number, number];
    pad: Pad;
    limit: number;
  }[] = [
    { strides: 1, pad: 'same', limit: 50 },
    { strides: 1, pad: PADDINGS[2] ?? 'same', limit: 300 },
    { strides: [1, 2], pad: 'same', limit: 1 << 24 },
    { strides: [1, 3], pad: 'same', limit: 100 },
    { strides: [1, 2], pad: PADDINGS[2] ?? 'same', limit: 1 << 24 },
  ];
  it.each(mergedCases)(
    'stride $strides, workspace $limit: the one-copy-per-tap im2col matches the definition',
    ({ strides, pad, limit }) => {
      const filterShape = [3, 3, X_SHAPE[3], OUT_CHANNELS] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(X_SHAPE, filterShape, strides, 1, pad);
      const previous = setConvWorkspaceLimit(limit);
      try {
        tf.tidy(() => {
          const x = randn(X_SHAPE, 18);
          const dy = randn(info.outShape, 19);
          const ref = conv2dFilterGradRef(
            x.dataSync(),
            dy.dataSync(),
            refGeometry(info),
            OUT_CHANNELS,
          );
          const dw = conv2dFilterGrad(x, dy, filterShape, strides, pad);
          const cmp = compareToReference(dw.dataSync(), ref.value, {
            magnitude: ref.magnitude,
            rtol: RTOL,
          });
          expect(cmp.ok, cmp.message).toBe(true);
        });
      } finally {
        setConvWorkspaceLimit(previous);
      }
    },
  );

  it('supports NCHW by transposing', () => {
    tf.tidy(() => {
      const filterShape = [3, 3, X_SHAPE[3], OUT_CHANNELS];
      const x = randn(X_SHAPE, 18);
      const w = randn(filterShape, 19);
      const dy = randn([2, 4, 3, OUT_CHANNELS], 20);
      const toNchw = [0, 3, 1, 2];
      const dwNchw = conv2dFilterGrad(
        x.transpose(toNchw),
        dy.transpose(toNchw),
        filterShape,
        2,
        'same',
        'NCHW',
      );
      const dwNhwc = conv2dFilterGrad(x, dy, filterShape, 2, 'same');
      expect(Array.from(dwNchw.dataSync())).toEqual(Array.from(dwNhwc.dataSync()));
      const dxNchw = conv2dInputGrad(dy.transpose(toNchw), w, [2, 3, 7, 5], 2, 'same', 'NCHW');
      const dxNhwc = conv2dInputGrad(dy, w, X_SHAPE, 2, 'same');
      expect(Array.from(dxNchw.transpose([0, 2, 3, 1]).dataSync())).toEqual(
        Array.from(dxNhwc.dataSync()),
      );
    });
  });

  it('handles batch 1, a single output pixel and a filter as large as the input', () => {
    tf.tidy(() => {
      const xShape = [1, 4, 3, 2] as [number, number, number, number];
      const filterShape = [4, 3, 2, 5] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, 1, 1, 'valid');
      const x = randn(xShape, 21);
      const w = randn(filterShape, 22);
      const dy = randn(info.outShape, 23);
      const g = refGeometry(info);
      const refW = conv2dFilterGradRef(x.dataSync(), dy.dataSync(), g, 5);
      const cmpW = compareToReference(
        conv2dFilterGrad(x, dy, filterShape, 1, 'valid').dataSync(),
        refW.value,
        { magnitude: refW.magnitude, rtol: RTOL },
      );
      expect(cmpW.ok, cmpW.message).toBe(true);
      const refX = conv2dInputGradRef(dy.dataSync(), w.dataSync(), g, 5);
      const cmpX = compareToReference(
        conv2dInputGrad(dy, w, xShape, 1, 'valid').dataSync(),
        refX.value,
        { magnitude: refX.magnitude, rtol: RTOL },
      );
      expect(cmpX.ok, cmpX.message).toBe(true);
    });
  });
});
