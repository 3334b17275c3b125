import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { randn, useWasmBackend } from './__fixtures__/harness.js';
import { equalConfig, trailingRepeat } from './equal.js';

useWasmBackend();

/** The definition, element by element with right-aligned broadcasting (NaN equals nothing). */
function reference(a: tf.Tensor, b: tf.Tensor): number[] {
  const shape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const av = a.dataSync();
  const bv = b.dataSync();
  const size = shape.reduce((x, y) => x * y, 1);
  const index = (t: tf.Tensor, flat: number): number => {
    let rem = flat;
    let at = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const i = rem % shape[d]!;
      rem = Math.floor(rem / shape[d]!);
      const td = d - (shape.length - t.shape.length);
      if (td >= 0) {
        at += (t.shape[td] === 1 ? 0 : i) * stride;
        stride *= t.shape[td]!;
      }
    }
    return at;
  };
  return Array.from({ length: size }, (_, k) => (av[index(a, k)] === bv[index(b, k)] ? 1 : 0));
}

describe('wasm Equal (trailing-axis broadcasts in one loop)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('is registered by initBackend', () => {
    expect(tf.getKernel(tf.Equal, 'wasm')).toBe(equalConfig);
  });

  it('finds the trailing repeat, and refuses other patterns', () => {
    expect(trailingRepeat([8, 32, 32, 6], [8, 32, 32, 1])).toBe(6);
    expect(trailingRepeat([4, 5, 6], [4, 1, 1])).toBe(30);
    expect(trailingRepeat([4, 5, 6], [1, 1, 1])).toBe(120);
    expect(trailingRepeat([4, 5, 6], [4, 5, 6])).toBeUndefined();
    expect(trailingRepeat([4, 5, 6], [4, 1, 6])).toBeUndefined();
    expect(trailingRepeat([4, 5, 6], [5, 1])).toBeUndefined();
  });

  it('equals the definition: the max-reduction pattern, both operand orders, several trailing axes, ties and NaN', () => {
    tf.tidy(() => {
      const x = tf.round(tf.mul(randn([3, 4, 5, 6], 2), 2)); // many ties
      const m = tf.max(x, -1, true);
      for (const [a, b] of [
        [x, m],
        [m, x],
        [x, tf.max(x, [2, 3], true)],
        [x, tf.reshape(tf.max(x), [1, 1, 1, 1])],
      ] as const) {
        const got = tf.equal(a, b);
        expect(got.dtype).toBe('bool');
        expect(got.shape).toEqual(x.shape);
        expect(Array.from(got.dataSync())).toEqual(reference(a, b));
      }
      const withNaN = tf.tensor2d([NaN, 1, 2, NaN, 3, 3], [2, 3]);
      const col = tf.tensor2d([NaN, 3], [2, 1]);
      expect(Array.from(tf.equal(withNaN, col).dataSync())).toEqual([0, 0, 0, 0, 1, 1]);
      const ints = tf.tensor3d([1, 2, 2, 5, 5, 5, 0, 7], [2, 2, 2], 'int32');
      const intCol = tf.tensor3d([2, 5, 0, 1], [2, 2, 1], 'int32');
      expect(Array.from(tf.equal(ints, intCol).dataSync())).toEqual(reference(ints, intCol));
    });
  });

  it('delegates other shapes and dtypes to the stock kernel (same results)', () => {
    tf.tidy(() => {
      const a = tf.round(randn([4, 6], 3));
      const cases: [tf.Tensor, tf.Tensor][] = [
        [a, tf.clone(a)],
        [a, tf.round(randn([1, 6], 4))],
        [a, tf.round(randn([6], 5))],
        [tf.tensor1d([true, false], 'bool'), tf.tensor1d([true, true], 'bool')],
        [tf.zeros([0, 3]), tf.zeros([0, 1])],
      ];
      for (const [x, y] of cases) {
        expect(Array.from(tf.equal(x, y).dataSync())).toEqual(reference(x, y));
      }
    });
  });

  it('leaves the gradient of logSumExp unchanged: dy where x is its row maximum', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([1, 3, 2, 5, 5, 0], [2, 3]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.max(t, -1)))(x);
      // Ties share the gradient of the maximum: both 5s get 1 (tfjs' convention).
      expect(Array.from(g.dataSync())).toEqual([0, 1, 0, 1, 1, 0]);
    });
  });
});
