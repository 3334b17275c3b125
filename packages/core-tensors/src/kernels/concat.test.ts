import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createRng } from '../rng.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { useWasmBackend } from './__fixtures__/harness.js';
import { concatConfig } from './concat.js';

useWasmBackend();

/** Oracle: concatenation along `axis` by explicit index arithmetic over row-major values. */
function referenceConcat(
  parts: readonly { values: ArrayLike<number>; shape: readonly number[] }[],
  axis: number,
): number[] {
  const outer = parts[0]!.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let b = 0; b < outer; b++) {
    for (const p of parts) {
      const inner = p.shape.slice(axis).reduce((a, c) => a * c, 1);
      for (let k = 0; k < inner; k++) out.push(p.values[b * inner + k]!);
    }
  }
  return out;
}

describe('wasm Concat (no JS call per block)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('is registered by initBackend', () => {
    expect(tf.getKernel(tf.Concat, 'wasm')).toBe(concatConfig);
  });

  const rng = createRng(5);
  const cases = [
    {
      shapes: [
        [7, 3],
        [7, 1],
        [7, 5],
      ],
      axis: 1,
    },
    {
      shapes: [
        [300, 8],
        [300, 8],
        [300, 70],
      ],
      axis: 1,
    },
    {
      shapes: [
        [2, 3],
        [4, 3],
      ],
      axis: 0,
    },
    {
      shapes: [
        [2, 3, 4],
        [2, 1, 4],
        [2, 0, 4],
      ],
      axis: 1,
    },
    {
      shapes: [
        [2, 3, 4],
        [2, 3, 1],
      ],
      axis: 2,
    },
    {
      shapes: [
        [2, 3, 4],
        [2, 3, 2],
      ],
      axis: -1,
    },
    { shapes: [[5], [0], [2]], axis: 0 },
  ];
  for (const dtype of ['float32', 'int32'] as const) {
    it.each(cases)(`${dtype} %j equals the index arithmetic`, ({ shapes, axis }) => {
      tf.tidy(() => {
        const parts = shapes.map((shape) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: n }, () =>
            dtype === 'int32'
              ? Math.floor(rng.uniform() * 2 ** 31) * (rng.uniform() < 0.5 ? -1 : 1)
              : rng.normal(),
          );
          return { values, shape, t: tf.tensor(values, shape, dtype) };
        });
        const got = tf.concat(
          parts.map((p) => p.t),
          axis,
        );
        const a = axis < 0 ? shapes[0]!.length + axis : axis;
        const want = referenceConcat(
          parts.map((p) => ({ values: p.t.dataSync(), shape: p.shape })),
          a,
        );
        expect(got.dtype).toBe(dtype);
        expect(Array.from(got.dataSync())).toEqual(want);
      });
    });
  }

  it('copies int32 bit patterns that are NaNs as float32 exactly', () => {
    tf.tidy(() => {
      const bits = [0x7fc00001, -1, 0x7f800001, 0xffc00000 | 0];
      const a = tf.tensor2d(bits, [4, 1], 'int32');
      const b = tf.tensor2d([1, 2, 3, 4], [4, 1], 'int32');
      expect(Array.from(tf.concat([a, b], 1).dataSync())).toEqual([
        bits[0],
        1,
        bits[1],
        2,
        bits[2],
        3,
        bits[3],
        4,
      ]);
    });
  });

  it('delegates bool tensors to the stock kernel', () => {
    tf.tidy(() => {
      const a = tf.tensor2d([true, false], [2, 1], 'bool');
      const b = tf.tensor2d([false, true], [2, 1], 'bool');
      const c = tf.concat([a, b], 1);
      expect(c.dtype).toBe('bool');
      expect(Array.from(c.dataSync())).toEqual([1, 0, 0, 1]);
    });
  });
});
