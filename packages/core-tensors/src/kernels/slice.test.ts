import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createRng } from '../rng.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { useWasmBackend } from './__fixtures__/harness.js';
import { mergedSlice, sliceConfig, splitConfig } from './slice.js';

useWasmBackend();

/** Oracle: the slice by explicit index arithmetic over the row-major values. */
function referenceSlice(
  values: ArrayLike<number>,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): number[] {
  const out: number[] = [];
  const count = size.reduce((a, b) => a * b, 1);
  for (let k = 0; k < count; k++) {
    let rest = k;
    let flat = 0;
    let stride = 1;
    const idx = new Array<number>(shape.length);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = rest % size[d]!;
      rest = Math.floor(rest / size[d]!);
    }
    for (let d = shape.length - 1; d >= 0; d--) {
      flat += (begin[d]! + idx[d]!) * stride;
      stride *= shape[d]!;
    }
    out.push(values[flat]!);
  }
  return out;
}

describe('wasm Slice (copies only the slice)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('is registered by initBackend', () => {
    expect(tf.getKernel(tf.Slice, 'wasm')).toBe(sliceConfig);
  });

  it('merges the trailing dimensions a slice covers entirely', () => {
    expect(mergedSlice([4, 3, 5], [1, 0, 0], [2, 3, 5])).toEqual({
      shape: [60],
      begin: [15],
      size: [30],
    });
    expect(mergedSlice([4, 3, 5], [0, 1, 0], [4, 2, 5])).toEqual({
      shape: [4, 15],
      begin: [0, 5],
      size: [4, 10],
    });
    expect(mergedSlice([4, 3, 5], [0, 0, 1], [4, 3, 2])).toEqual({
      shape: [4, 3, 5],
      begin: [0, 0, 1],
      size: [4, 3, 2],
    });
  });

  it('matches index arithmetic on random shapes, ranks 1–5, float32 / int32 / bool', () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 120; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(rng.uniform() * 5));
      const begin = shape.map((n) => Math.floor(rng.uniform() * n));
      // Sizes from 0 to the rest of the dimension; now and then the whole dimension.
      const size = shape.map((n, d) =>
        rng.uniform() < 0.3 ? n - begin[d]! : Math.floor(rng.uniform() * (n - begin[d]! + 1)),
      );
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
      const count = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: count }, (_, i) =>
        dtype === 'bool' ? ((i * 7) % 3 === 0 ? 1 : 0) : dtype === 'int32' ? i * 3 - 50 : i + 0.25,
      );
      tf.tidy(() => {
        const x = tf.tensor(values, shape, dtype);
        const y = tf.slice(x, begin, size);
        expect(y.shape).toEqual(size);
        expect(y.dtype).toBe(dtype);
        expect(Array.from(y.dataSync())).toEqual(referenceSlice(values, shape, begin, size));
      });
    }
  });

  it('matches index arithmetic for runs of 1–3, 4–63 and ≥ 64 words (scalar, SIMD, memory.copy)', () => {
    // The wasm block copy has three paths by run length; a NaN bit pattern must survive each.
    const cases: [number[], number[], number[]][] = [
      [
        [2, 5, 5, 32],
        [0, 0, 0, 16],
        [2, 5, 5, 16],
      ], // a U-Net skip half: runs of 16
      [
        [2, 5, 5, 32],
        [1, 1, 2, 3],
        [1, 3, 2, 7],
      ], // 7 = 4 + 3: SIMD and scalar tail
      [
        [3, 70, 9],
        [0, 3, 0],
        [3, 60, 9],
      ], // merged rows of 540 words: memory.copy
      [
        [9, 130],
        [2, 1],
        [5, 100],
      ], // runs of 100
      [
        [4, 6, 3],
        [1, 2, 1],
        [2, 3, 2],
      ], // runs of 2
    ];
    for (const [shape, begin, size] of cases) {
      for (const dtype of ['float32', 'int32'] as const) {
        const count = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: count }, (_, i) =>
          dtype === 'int32' ? (i === 5 ? 0x7fc00001 : i * 3 - 50) : i + 0.25,
        );
        tf.tidy(() => {
          const y = tf.slice(tf.tensor(values, shape, dtype), begin, size);
          expect(Array.from(y.dataSync())).toEqual(referenceSlice(values, shape, begin, size));
        });
      }
    }
  });

  it('leaves the input intact, handles -1 sizes, strings, and row blocks of a large matrix', () => {
    tf.tidy(() => {
      const x = tf.tensor2d(
        Array.from({ length: 12 }, (_, i) => i),
        [3, 4],
      );
      expect(Array.from(tf.slice(x, [1, 1], [-1, 2]).dataSync())).toEqual([5, 6, 9, 10]);
      expect(Array.from(x.dataSync())).toEqual(Array.from({ length: 12 }, (_, i) => i));
      const s = tf.tensor1d(['a', 'b', 'c'], 'string');
      expect(Array.from(tf.slice(s, [1], [2]).dataSync() as unknown as string[])).toEqual([
        'b',
        'c',
      ]);
      const big = tf.range(0, 200_000, 1, 'float32').reshape([50_000, 4]);
      const block = tf.slice(big, [30_000, 0], [10, 4]).dataSync();
      expect(block[0]).toBe(120_000);
      expect(block[39]).toBe(120_039);
    });
  });
});

describe("wasm SplitV (each part through MTU's Slice)", () => {
  useLeakGuard({ beforeEach, afterEach });

  it('is registered by initBackend', () => {
    expect(tf.getKernel(tf.SplitV, 'wasm')).toBe(splitConfig);
  });

  it('gives the parts of index arithmetic on every axis, by sizes and by count', () => {
    const shape = [2, 6, 4, 24];
    const count = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: count }, (_, i) => i * 0.5 - 7);
    for (let axis = 0; axis < shape.length; axis++) {
      const n = shape[axis]!;
      for (const splits of [[1, n - 1], n % 2 === 0 ? 2 : 1, [n - n, n]] as const) {
        tf.tidy(() => {
          const parts = tf.split(tf.tensor(values, shape), splits as number | number[], axis);
          let at = 0;
          for (const part of parts) {
            const begin = shape.map((_, d) => (d === axis ? at : 0));
            expect(Array.from(part.dataSync())).toEqual(
              referenceSlice(values, shape, begin, part.shape),
            );
            at += part.shape[axis]!;
          }
          expect(at).toBe(n);
        });
      }
    }
  });

  it('is the gradient of concat: the U-Net skip connection backward', () => {
    tf.tidy(() => {
      const a = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 16], 0, 1, 'float32', 3);
      const b = tf.randomNormal<tf.Rank.R4>([2, 4, 4, 16], 0, 1, 'float32', 4);
      const w = tf.randomNormal([2, 4, 4, 32], 0, 1, 'float32', 5);
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(tf.concat([x, y], 3), w)),
      )([a, b]);
      const [wa, wb] = tf.split(w, 2, 3);
      expect(Array.from(da!.dataSync())).toEqual(Array.from(wa!.dataSync()));
      expect(Array.from(db!.dataSync())).toEqual(Array.from(wb!.dataSync()));
      // Oracle for the split itself: the index arithmetic of w's values.
      const wv = w.dataSync();
      expect(Array.from(db!.dataSync())).toEqual(
        referenceSlice(wv, [2, 4, 4, 32], [0, 0, 0, 16], [2, 4, 4, 16]),
      );
    });
  });
});
