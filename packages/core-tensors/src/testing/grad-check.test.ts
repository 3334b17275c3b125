import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend, shutdownBackend } from '../backend.js';
import { tf } from '../tf.js';
import {
  FLOAT32_UNIT_ROUNDOFF,
  adjointCheck,
  compareToReference,
  directionalDerivativeCheck,
  finiteDifferenceGrad,
  vjpAdjointCheck,
} from './grad-check.js';
import { useLeakGuard } from './leak-guard.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', threads: 1 });
});
afterAll(() => shutdownBackend());

/** x ↦ Σ x³, whose gradient 3x² is known. */
const cubeSum = (t: tf.Tensor): tf.Scalar => t.pow(3).sum();

/** The same function with a deliberately wrong gradient (2x² instead of 3x²). */
const wrongGrad = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const t = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([t]);
  return {
    value: t.pow(3).sum<tf.Scalar>(),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => dy.mul(saved[0]!.square()).mul(2),
  };
});

describe('grad-check helpers', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('FLOAT32_UNIT_ROUNDOFF is the unit roundoff of float32', () => {
    // Half the spacing of float32 numbers at 1: 1 + u rounds back to 1 (ties to even), 1 + 2u is exact.
    expect(Math.fround(1 + FLOAT32_UNIT_ROUNDOFF)).toBe(1);
    expect(Math.fround(1 + 2 * FLOAT32_UNIT_ROUNDOFF)).toBe(1 + 2 ** -23);
  });

  it('finiteDifferenceGrad recovers a known gradient', () => {
    const x = tf.tensor1d([0.5, -1, 2]);
    const g = finiteDifferenceGrad(cubeSum, x, { h: 1e-2 });
    x.dispose();
    // Central difference of x³: exact derivative 3x² plus h² = 1e-4, plus float32 evaluation error
    // of ~8 (value) / 2e-2 (step) · 2⁻²⁴ ≈ 1e-5.
    [0.75, 3, 12].forEach((expected, i) => expect(Math.abs(g[i]! - expected)).toBeLessThan(2e-4));
  });

  it('directionalDerivativeCheck accepts a correct gradient and rejects a wrong one', () => {
    const x = tf.tensor1d([0.5, -1, 2, 1.5]);
    const good = directionalDerivativeCheck(cubeSum, x, { h: 1e-2, seed: 1, rtol: 1e-3 });
    const bad = directionalDerivativeCheck(wrongGrad, x, { h: 1e-2, seed: 1, rtol: 1e-3 });
    x.dispose();
    expect(good.ok, `${good.numeric} vs ${good.analytic}`).toBe(true);
    expect(bad.ok).toBe(false);
    expect(bad.error).toBeGreaterThan(100 * bad.bound);
  });

  it('adjointCheck accepts a matrix and its transpose and rejects a wrong adjoint', () => {
    tf.tidy(() => {
      const a = tf.randomNormal<tf.Rank.R2>([5, 3], 0, 1, 'float32', 1);
      const x = tf.randomNormal([3, 1], 0, 1, 'float32', 2);
      const r = tf.randomNormal([5, 1], 0, 1, 'float32', 3);
      const forward = (t: tf.Tensor): tf.Tensor => tf.matMul(a, t);
      expect(
        adjointCheck(forward, (s) => tf.matMul(a, s as tf.Tensor2D, true, false), x, r).ok,
      ).toBe(true);
      const wrong = (s: tf.Tensor): tf.Tensor => tf.matMul(a.reverse(0), s, true, false);
      expect(adjointCheck(forward, wrong, x, r).ok).toBe(false);
      expect(vjpAdjointCheck(forward, x).ok).toBe(true);
    });
  });

  it('compareToReference bounds each element by rtol · magnitude + atol and names the worst', () => {
    const ok = compareToReference([1, 2.0001, 0], [1, 2, 0], { rtol: 1e-4, magnitude: [1, 3, 0] });
    expect(ok.ok).toBe(true);
    const bad = compareToReference([1, 2.001, 0], [1, 2, 0], { rtol: 1e-4, magnitude: [1, 3, 0] });
    expect(bad.ok).toBe(false);
    expect(bad.worstIndex).toBe(1);
    expect(bad.message).toContain('worst element 1');
    expect(compareToReference([Number.NaN], [Number.NaN], { rtol: 0 }).ok).toBe(true);
    expect(compareToReference([Number.NaN], [0], { rtol: 1 }).ok).toBe(false);
    expect(compareToReference([1e-30], [0], { rtol: 1 }).ok).toBe(false);
    expect(compareToReference([1e-30], [0], { rtol: 1, atol: 1e-20 }).ok).toBe(true);
    expect(compareToReference([1, 2], [1], { rtol: 1 }).ok).toBe(false);
  });
});
