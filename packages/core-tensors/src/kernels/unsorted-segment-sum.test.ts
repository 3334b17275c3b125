import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { compareToReference, vjpAdjointCheck } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { RTOL, randn, useWasmBackend } from './__fixtures__/harness.js';
import { unsortedSegmentSumRef } from './__fixtures__/reference.js';

useWasmBackend();

describe('wasm UnsortedSegmentSum', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('sums rows by segment, drops out-of-range ids, and matches the definition', () => {
    tf.tidy(() => {
      const x = randn([6, 3, 2], 1);
      const ids = [0, 2, 2, -1, 1, 4]; // -1 and 4 (= numSegments) are dropped
      const out = tf.unsortedSegmentSum(x, tf.tensor1d(ids, 'int32'), 4);
      expect(out.shape).toEqual([4, 3, 2]);
      const ref = unsortedSegmentSumRef(x.dataSync(), ids, 6, 4);
      const cmp = compareToReference(out.dataSync(), ref.value, {
        magnitude: ref.magnitude,
        rtol: RTOL,
      });
      expect(cmp.ok, cmp.message).toBe(true);
      expect(Array.from(out.slice([3], [1]).dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    });
  });

  it('supports 2-D segment ids and int32 values', () => {
    tf.tidy(() => {
      const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32');
      // tf.unsortedSegmentSum's types ask for 1-D ids; the kernel (like TensorFlow) takes any prefix.
      const ids = tf.tensor2d([1, 0, 1, 1], [2, 2], 'int32');
      const out = tf
        .engine()
        .runKernel<tf.Tensor>(tf.UnsortedSegmentSum, { x, segmentIds: ids }, { numSegments: 2 });
      expect(out.dtype).toBe('int32');
      expect(Array.from(out.dataSync())).toEqual([3, 4, 1 + 5 + 7, 2 + 6 + 8]);
    });
  });

  it('makes tf.gather trainable: its gradient is the adjoint of the gather', () => {
    tf.tidy(() => {
      const table = randn([5, 4], 2);
      const indices = tf.tensor1d([3, 0, 3, 4, 1, 3], 'int32');
      const adj = vjpAdjointCheck((t) => tf.gather(t, indices), table, { seed: 3 });
      expect(adj.ok, `error ${adj.error} > ${adj.bound}`).toBe(true);
      const adj1 = vjpAdjointCheck((t) => tf.gather(t, indices.slice([0], [3]), 1), table, {
        seed: 4,
      });
      expect(adj1.ok, `axis 1: error ${adj1.error} > ${adj1.bound}`).toBe(true);
    });
  });
});
