import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { compareToReference, vjpAdjointCheck } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { RTOL, randn, useWasmBackend } from './__fixtures__/harness.js';

useWasmBackend();

/** Float64 `op(A)·op(B)` for one batch of row-major matrices, with `Σ|terms|` per element. */
function matMulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  [m, k, n]: [number, number, number],
  transposeA: boolean,
  transposeB: boolean,
): { value: Float64Array; magnitude: Float64Array } {
  const value = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) {
        const t = a[transposeA ? p * m + i : i * k + p]! * b[transposeB ? j * k + p : p * n + j]!;
        value[i * n + j] = value[i * n + j]! + t;
        magnitude[i * n + j] = magnitude[i * n + j]! + Math.abs(t);
      }
    }
  }
  return { value, magnitude };
}

/**
 * `tf.matMul` of seeded operands (`op(A)` `[m, k]`, `op(B)` `[k, n]`) matches {@link matMulRef};
 * returns the operands and the product. Call inside `tf.tidy`.
 */
function expectMatMulMatchesRef(
  [m, k, n]: [number, number, number],
  [seedA, seedB]: [number, number],
  transposeA: boolean,
  transposeB: boolean,
): { a: tf.Tensor; b: tf.Tensor; out: tf.Tensor } {
  const a = randn(transposeA ? [k, m] : [m, k], seedA);
  const b = randn(transposeB ? [n, k] : [k, n], seedB);
  const ref = matMulRef(a.dataSync(), b.dataSync(), [m, k, n], transposeA, transposeB);
  const out = tf.matMul(a, b, transposeA, transposeB);
  expect(out.shape).toEqual([m, n]);
  const cmp = compareToReference(out.dataSync(), ref.value, {
    magnitude: ref.magnitude,
    rtol: RTOL,
  });
  expect(cmp.ok, cmp.message).toBe(true);
  return { a, b, out };
}

const combos = [false, true].flatMap((transposeA) =>
  [false, true].map((transposeB) => ({ transposeA, transposeB })),
);

describe('wasm BatchMatMul', () => {
  useLeakGuard({ beforeEach, afterEach });

  it.each(combos)(
    'transposeA $transposeA, transposeB $transposeB: matches the definition (rank 2 and 3)',
    ({ transposeA, transposeB }) => {
      const [m, k, n]: [number, number, number] = [7, 5, 3];
      tf.tidy(() => {
        const { a, b, out } = expectMatMulMatchesRef([m, k, n], [1, 2], transposeA, transposeB);
        const out3 = tf.matMul(a.expandDims(0), b, transposeA, transposeB);
        expect(out3.shape).toEqual([1, m, n]);
        expect(Array.from(out3.dataSync())).toEqual(Array.from(out.dataSync()));
      });
    },
  );

  it.each(combos)(
    'transposeA $transposeA, transposeB $transposeB: operands with composite rows (split transpose)',
    ({ transposeA, transposeB }) => {
      // k = 12 and n = 8 rows take the 3-D transpose path, m = 6 as well.
      tf.tidy(() => {
        expectMatMulMatchesRef([6, 12, 8], [7, 8], transposeA, transposeB);
      });
    },
  );

  it('batched products (batch 2) still match the definition', () => {
    tf.tidy(() => {
      const a = randn([2, 4, 3], 3);
      const b = randn([2, 5, 3], 4);
      const out = tf.matMul(a, b, false, true);
      expect(out.shape).toEqual([2, 4, 5]);
      for (let i = 0; i < 2; i++) {
        const ref = matMulRef(
          a.slice([i], [1]).dataSync(),
          b.slice([i], [1]).dataSync(),
          [4, 3, 5],
          false,
          true,
        );
        const got = out.slice([i], [1]).dataSync();
        expect(
          compareToReference(got, ref.value, { magnitude: ref.magnitude, rtol: RTOL }).ok,
        ).toBe(true);
      }
    });
  });

  it('the gradient of a dense layer passes the adjoint identity in both operands', () => {
    tf.tidy(() => {
      const x = randn([9, 6], 5);
      const w = randn([6, 4], 6);
      const inX = vjpAdjointCheck((t) => tf.matMul(t, w), x, {
        seed: 7,
      });
      expect(inX.ok, `x: ${inX.error} > ${inX.bound}`).toBe(true);
      const inW = vjpAdjointCheck((t) => tf.matMul(x, t), w, {
        seed: 8,
      });
      expect(inW.ok, `W: ${inW.error} > ${inW.bound}`).toBe(true);
    });
  });
});
