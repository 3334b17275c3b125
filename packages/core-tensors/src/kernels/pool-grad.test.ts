import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createRng } from '../rng.js';
import {
  compareToReference,
  directionalDerivativeCheck,
  vjpAdjointCheck,
} from '../testing/grad-check.js';
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
import { avgPoolGradRef, maxPoolGradRef } from './__fixtures__/reference.js';
import type { WasmBackend } from './wasm-backend.js';

useWasmBackend();

const X_SHAPE = [2, 7, 5, 3] as [number, number, number, number];
type Pad = (typeof PADDINGS)[number];

function maxPoolGrad(
  dy: tf.Tensor,
  x: tf.Tensor,
  y: tf.Tensor,
  filterSize: number | [number, number],
  strides: number,
  pad: Pad,
): tf.Tensor {
  return tf.engine().runKernel<tf.Tensor>(
    tf.MaxPoolGrad,
    { dy, input: x, output: y },
    {
      filterSize,
      strides,
      pad,
    },
  );
}

/**
 * Values `(π(i) − size/2) / 100` for a random permutation π: all distinct, at least 0.01 apart, so
 * a perturbation smaller than 0.005 per element cannot change any window's argmax.
 */
function distinctValues(shape: readonly number[], seed: number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const perm = createRng(seed).permutation(size);
  return tf.tensor(
    Float32Array.from(perm, (p) => (p - size / 2) / 100),
    [...shape],
  );
}

// Explicit padding only with window 3: a window that lies entirely in the padding (pad 2, window
// 2) has no defined value (XNNPACK's forward returns an arbitrary neighbour or −∞ there).
const cases = [1, 2, 3].flatMap((strides) =>
  PADDINGS.flatMap((pad) =>
    (typeof pad === 'string' ? [2, 3] : [3]).map((k) => ({
      strides,
      pad,
      k,
      padding: padName(pad),
    })),
  ),
);

describe('wasm MaxPoolGrad', () => {
  useLeakGuard({ beforeEach, afterEach });

  it.each(cases)(
    'stride $strides, $padding padding, window $k: matches the definition',
    ({ strides, pad, k }) => {
      const info = tf.backend_util.computePool2DInfo(X_SHAPE, k, strides, 1, pad);
      tf.tidy(() => {
        const x = randn(X_SHAPE, 1);
        const y = tf.maxPool(x as tf.Tensor4D, k, strides, pad);
        const dy = randn(y.shape, 2);
        const ref = maxPoolGradRef(x.dataSync(), dy.dataSync(), refGeometry(info));
        const dx = maxPoolGrad(dy, x, y, k, strides, pad);
        const cmp = compareToReference(dx.dataSync(), ref.value, {
          magnitude: ref.magnitude,
          rtol: RTOL,
        });
        expect(cmp.ok, cmp.message).toBe(true);
      });
    },
  );

  it.each(cases)(
    'stride $strides, $padding padding, window $k: tf.grad matches finite differences',
    ({ strides, pad, k }) => {
      tf.tidy(() => {
        const x = distinctValues(X_SHAPE, 3);
        const r = randn(tf.maxPool(x as tf.Tensor4D, k, strides, pad).shape, 4);
        // Piecewise linear; with |v| < 5 (210 normal draws), |h·v| < 0.005 keeps every argmax, so
        // the difference is exact up to the float32 evaluation of a ≤ 105-term sum of values < 4
        // (≲ 105·4·2⁻²⁴ ≈ 3e-5 absolute per evaluation).
        const res = directionalDerivativeCheck(
          (t) =>
            tf
              .maxPool(t as tf.Tensor4D, k, strides, pad)
              .mul(r)
              .sum(),
          x,
          { h: 1e-3, seed: 5, rtol: 0, atol: 1e-4 },
        );
        expect(res.ok, `numeric ${res.numeric} vs analytic ${res.analytic}`).toBe(true);
      });
    },
  );

  it('sends the gradient of an all-negative window to its maximum (the stock kernel does not)', () => {
    tf.tidy(() => {
      // One 3×3 window, all negative, maximum -1 at (1, 2).
      const x = tf.tensor4d([-5, -4, -3, -6, -7, -1, -9, -8, -2], [1, 3, 3, 1]);
      const y = tf.maxPool(x, 3, 1, 'valid');
      expect(y.dataSync()[0]).toBe(-1);
      const dy = tf.tensor4d([2], [1, 1, 1, 1]);
      const expected = [0, 0, 0, 0, 0, 2, 0, 0, 0];
      expect(Array.from(maxPoolGrad(dy, x, y, 3, 1, 'valid').dataSync())).toEqual(expected);
      expect(
        Array.from(
          tf
            .grad((t: tf.Tensor) =>
              tf
                .maxPool(t as tf.Tensor4D, 3, 1, 'valid')
                .mul(dy)
                .sum(),
            )(x)
            .dataSync(),
        ),
      ).toEqual(expected);

      // Negative control: the stock wasm kernel, called directly, gets this wrong.
      const backend = tf.backend() as unknown as WasmBackend;
      const stock = backend.wasm.cwrap('MaxPoolGrad', null, Array<string>(17).fill('number'));
      const dx = tf.zerosLike(x).add(0); // a fresh buffer
      const id = (t: tf.Tensor): number => backend.dataIdMap.get(t.dataId)!.id;
      stock(id(x), id(dy), id(dx), 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 0, 0);
      expect(Array.from(dx.dataSync())).not.toEqual(expected);
    });
  });

  it('breaks ties towards the first maximum in window order, like TensorFlow', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 3, 3, 0, 3, 2, 1, 0, 0, 1, 2, 3], [1, 3, 4, 1]);
      const dy = tf.tensor4d([1, 10, 100, 1000], [1, 2, 2, 1]);
      const y = tf.maxPool(x, 2, 2, 'same');
      const dx = maxPoolGrad(dy, x, y, 2, 2, 'same');
      // Windows: rows 0-1 × cols 0-1 = [1,3 / 3,2] -> first 3 at (0,1);
      //          rows 0-1 × cols 2-3 = [3,0 / 1,0] -> (0,2);
      //          row 2 × cols 0-1 = [0,1] -> (2,1); row 2 × cols 2-3 = [2,3] -> (2,3).
      expect(Array.from(dx.dataSync())).toEqual([0, 1, 10, 0, 0, 0, 0, 0, 0, 100, 0, 1000]);
    });
  });

  it('accumulates overlapping windows that share a maximum', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([0, 5, 1, 2], [1, 1, 4, 1]);
      const y = tf.maxPool(x, [1, 2], 1, 'valid'); // windows [0,5], [5,1], [1,2]
      const dx = maxPoolGrad(tf.tensor4d([1, 2, 4], [1, 1, 3, 1]), x, y, [1, 2], 1, 'valid');
      expect(Array.from(dx.dataSync())).toEqual([0, 3, 0, 4]);
    });
  });
});

describe('wasm AvgPoolGrad', () => {
  useLeakGuard({ beforeEach, afterEach });

  it.each(cases)(
    'stride $strides, $padding padding, window $k: matches the definition and is the adjoint of AvgPool',
    ({ strides, pad, k }) => {
      const info = tf.backend_util.computePool2DInfo(X_SHAPE, k, strides, 1, pad);
      tf.tidy(() => {
        const x = randn(X_SHAPE, 5);
        const dy = randn(info.outShape, 6);
        const ref = avgPoolGradRef(dy.dataSync(), refGeometry(info));
        const dx = tf.engine().runKernel<tf.Tensor>(
          tf.AvgPoolGrad,
          { dy, input: x },
          {
            filterSize: k,
            strides,
            pad,
          },
        );
        const cmp = compareToReference(dx.dataSync(), ref.value, {
          magnitude: ref.magnitude,
          rtol: RTOL,
        });
        expect(cmp.ok, cmp.message).toBe(true);
        const adj = vjpAdjointCheck((t) => tf.avgPool(t as tf.Tensor4D, k, strides, pad), x, {
          seed: 7,
        });
        expect(adj.ok, `error ${adj.error} > ${adj.bound}`).toBe(true);
      });
    },
  );
});
