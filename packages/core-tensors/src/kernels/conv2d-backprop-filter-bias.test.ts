import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { compareToReference } from '../testing/grad-check.js';
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
import { conv2dFilterGradRef } from './__fixtures__/reference.js';
import { CONV2D_BACKPROP_FILTER_BIAS } from './conv2d-backprop-filter.js';
import { setConvWorkspaceLimit } from './index.js';

useWasmBackend();

type Pad = (typeof PADDINGS)[number];

/** Batch 2, 7×5 spatial, 3 input channels, 4 output channels. */
const X_SHAPE = [2, 7, 5, 3] as [number, number, number, number];
const OUT_CHANNELS = 4;

/** `Σ_{n,i,j} dy[n, i, j, o]` in float64. */
function biasGradRef(dy: ArrayLike<number>, o: number): { value: number[]; magnitude: number[] } {
  const value = Array.from({ length: o }, () => 0);
  const magnitude = Array.from({ length: o }, () => 0);
  for (let k = 0; k < dy.length; k++) {
    const v = dy[k] ?? 0;
    value[k % o] = (value[k % o] ?? 0) + v;
    magnitude[k % o] = (magnitude[k % o] ?? 0) + Math.abs(v);
  }
  return { value, magnitude };
}

function filterBiasGrad(
  x: tf.Tensor,
  dy: tf.Tensor,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: Pad,
): [tf.Tensor, tf.Tensor] {
  return tf
    .engine()
    .runKernel(
      CONV2D_BACKPROP_FILTER_BIAS,
      { x, dy },
      { strides, pad, filterShape },
    ) as unknown as [tf.Tensor, tf.Tensor];
}

describe('wasm MtuConv2DBackpropFilterBias', () => {
  useLeakGuard({ beforeEach, afterEach });

  const cases = ([1, 2, [1, 2]] as (number | [number, number])[]).flatMap((strides) =>
    PADDINGS.flatMap((pad) =>
      [1 << 24, 60].map((limit) => ({ strides, pad, limit, padding: padName(pad) })),
    ),
  );
  it.each(cases)(
    'stride $strides, $padding padding, workspace $limit: filter and bias gradients match the definition',
    ({ strides, pad, limit }) => {
      const filterShape: [number, number, number, number] = [3, 3, X_SHAPE[3], OUT_CHANNELS];
      const info = tf.backend_util.computeConv2DInfo(X_SHAPE, filterShape, strides, 1, pad);
      const previous = setConvWorkspaceLimit(limit);
      try {
        tf.tidy(() => {
          const x = randn(X_SHAPE, 21);
          const dy = randn(info.outShape, 22);
          const [dw, db] = filterBiasGrad(x, dy, filterShape, strides, pad);
          expect(dw.shape).toEqual(filterShape);
          expect(db.shape).toEqual([OUT_CHANNELS]);
          const wRef = conv2dFilterGradRef(
            x.dataSync(),
            dy.dataSync(),
            refGeometry(info),
            OUT_CHANNELS,
          );
          const w = compareToReference(dw.dataSync(), wRef.value, {
            magnitude: wRef.magnitude,
            rtol: RTOL,
          });
          expect(w.ok, w.message).toBe(true);
          const bRef = biasGradRef(dy.dataSync(), OUT_CHANNELS);
          const b = compareToReference(db.dataSync(), bRef.value, {
            magnitude: bRef.magnitude,
            rtol: RTOL,
          });
          expect(b.ok, b.message).toBe(true);
        });
      } finally {
        setConvWorkspaceLimit(previous);
      }
    },
  );

  it('handles an empty filter gradient: zeros, and the bias gradient still sums dy', () => {
    tf.tidy(() => {
      const x = tf.zeros([2, 4, 4, 0]);
      const dy = randn([2, 4, 4, 3], 23);
      const [dw, db] = filterBiasGrad(x, dy, [3, 3, 0, 3], 1, 'same');
      expect(dw.shape).toEqual([3, 3, 0, 3]);
      const ref = biasGradRef(dy.dataSync(), 3);
      const b = compareToReference(db.dataSync(), ref.value, {
        magnitude: ref.magnitude,
        rtol: RTOL,
      });
      expect(b.ok, b.message).toBe(true);
    });
  });
});
