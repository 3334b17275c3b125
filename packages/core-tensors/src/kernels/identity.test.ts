import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { randn, useWasmBackend } from './__fixtures__/harness.js';
import { identityConfig } from './identity.js';

useWasmBackend();

describe('wasm Identity (copy-free)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('is registered by initBackend', () => {
    expect(tf.getKernel(tf.Identity, 'wasm')).toBe(identityConfig);
  });

  it('shares the data, and each tensor keeps it alive until both are disposed', () => {
    const before = tf.memory().numDataBuffers;
    const x = randn([3, 4], 1);
    const values = Array.from(x.dataSync());
    const y = tf.clone(x);
    expect(y.dataId).toBe(x.dataId);
    expect(tf.memory().numDataBuffers - before).toBe(1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual(values);
    const z = y.add(0);
    expect(Array.from(z.dataSync())).toEqual(values);
    tf.dispose([y, z]);
    expect(tf.memory().numDataBuffers).toBe(before);
  });

  it('keeps other dtypes and shapes', () => {
    tf.tidy(() => {
      const ints = tf.clone(tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'));
      expect(ints.dtype).toBe('int32');
      expect(ints.shape).toEqual([2, 2]);
      expect(Array.from(ints.dataSync())).toEqual([1, 2, 3, 4]);
      const bools = tf.clone(tf.tensor1d([true, false], 'bool'));
      expect(Array.from(bools.dataSync())).toEqual([1, 0]);
      const strings = tf.clone(tf.tensor1d(['a', 'bc'], 'string'));
      expect(strings.arraySync()).toEqual(['a', 'bc']);
    });
  });

  it('a clone is unaffected when a variable it was taken from is assigned', () => {
    const initial = tf.tensor1d([1, 2, 3]);
    const v = tf.variable(initial);
    initial.dispose();
    const snapshot = tf.clone(v);
    const next = tf.tensor1d([4, 5, 6]);
    v.assign(next);
    next.dispose();
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([4, 5, 6]);
    tf.dispose([v, snapshot]);
  });

  it('gradients that save tensors for the backward pass stay correct across SGD updates', () => {
    const initial = tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]);
    const w = tf.variable(initial);
    initial.dispose();
    const x = tf.tensor2d([1, 2, -3, 4], [2, 2]);
    const optimizer = tf.train.sgd(0.1);
    for (let step = 0; step < 3; step++) {
      const wBefore = w.arraySync();
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.matMul(x, w))), [w]);
      // d/dw sum((x w)²) = 2 xᵀ (x w), from the values before the update.
      const expected = tf.tidy(() => {
        const wt = tf.tensor2d(wBefore);
        return tf.matMul(x, tf.matMul(x, wt), true, false).mul(2).arraySync() as number[][];
      });
      const g = grads[w.name];
      if (g === undefined) throw new Error('no gradient');
      const got = g.arraySync() as number[][];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 2; j++) expect(got[i]?.[j]).toBeCloseTo(expected[i]?.[j] ?? NaN, 3);
      }
      optimizer.applyGradients(grads);
      tf.dispose([value, grads]);
    }
    tf.dispose([w, x]);
    optimizer.dispose();
  });
});
