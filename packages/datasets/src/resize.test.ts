import { ConfigError, ShapeError } from '@mtu/core-tensors';
import { describe, expect, it } from 'vitest';
import { resizeBilinear, resizeNearest, resizeNormals } from './resize.js';

function close(actual: ArrayLike<number>, expected: readonly number[], digits = 5): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `index ${i}`).toBeCloseTo(e, digits));
}

describe('resizeBilinear (PyTorch bilinear, align_corners=False)', () => {
  it('is the identity at the same size', () => {
    const x = Float32Array.from({ length: 2 * 3 * 5 * 2 }, (_, i) => Math.sin(i));
    const y = resizeBilinear(x, [3, 5, 2], [3, 5]);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
  });

  it('keeps a constant image constant at any size', () => {
    const x = new Float32Array(5 * 7 * 3).fill(0.375);
    for (const size of [
      [3, 11],
      [10, 2],
      [1, 1],
      [13, 13],
    ] as const) {
      const y = resizeBilinear(x, [5, 7, 3], size);
      expect(y.length).toBe(size[0] * size[1] * 3);
      for (const v of y) expect(v).toBeCloseTo(0.375, 6);
    }
  });

  it('2× down-sampling averages each 2×2 block', () => {
    // sources sit at (2o + 0.5): halfway between pixels 2o and 2o+1 on both axes
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    close(resizeBilinear(x, [4, 4, 1], [2, 2]), [
      (1 + 2 + 5 + 6) / 4,
      (3 + 4 + 7 + 8) / 4,
      (9 + 10 + 13 + 14) / 4,
      (11 + 12 + 15 + 16) / 4,
    ]);
  });

  it('2× up-sampling matches the values of F.interpolate', () => {
    // F.interpolate([[0, 4], [8, 12]], size=(4, 4), mode='bilinear', align_corners=False):
    // source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel)
    const x = Float32Array.from([0, 4, 8, 12]);
    close(
      resizeBilinear(x, [2, 2, 1], [4, 4]),
      [0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12],
    );
    close(resizeBilinear(Float32Array.from([0, 1]), [1, 2, 1], [1, 4]), [0, 0.25, 0.75, 1]);
  });

  it('non-integer ratios use half-pixel centres', () => {
    // 3 → 2: scale 1.5, sources at 0.25 and 1.75
    close(resizeBilinear(Float32Array.from([0, 10, 20]), [1, 3, 1], [1, 2]), [2.5, 17.5]);
    // 2 → 3: scale 2/3, sources at -1/6 (clamped), 0.5, 7/6 (clamped to the last pixel)
    close(resizeBilinear(Float32Array.from([0, 6]), [1, 2, 1], [1, 3]), [0, 3, 6]);
    // 5 → 3 on the rows: scale 5/3, sources at 1/3, 2, 11/3
    const col = Float32Array.from([0, 1, 4, 9, 16]);
    close(resizeBilinear(col, [5, 1, 1], [3, 1]), [1 / 3, 4, 9 + (2 / 3) * 7]);
  });

  it('treats channels and instances independently', () => {
    // two instances of [1, 2, 2]: channel 1 is 10× channel 0, instance 1 is instance 0 + 100
    const one = [0, 0, 1, 10];
    const x = Float32Array.from([...one, ...one.map((v) => v + 100)]);
    const y = resizeBilinear(x, [1, 2, 2], [1, 4]);
    close(y, [0, 0, 0.25, 2.5, 0.75, 7.5, 1, 10, 100, 100, 100.25, 102.5, 100.75, 107.5, 101, 110]);
  });

  it('rejects bad shapes and sizes', () => {
    expect(() => resizeBilinear(new Float32Array(7), [2, 2, 1], [4, 4])).toThrow(ShapeError);
    expect(() => resizeBilinear(new Float32Array(4), [2, 2, 1], [0, 4])).toThrow(ConfigError);
    expect(() => resizeBilinear(new Float32Array(4), [2, 2.5, 1], [1, 4])).toThrow(ConfigError);
  });
});

describe('resizeNearest (PyTorch nearest)', () => {
  it('picks the exact source pixels: floor(o · in / out)', () => {
    const x = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const down = resizeNearest(x, [4, 4, 1], [2, 2]);
    expect(down).toBeInstanceOf(Int32Array);
    expect(Array.from(down)).toEqual([0, 2, 8, 10]);
    // 4 → 3 columns: floor(o · 4/3) = 0, 1, 2; 4 → 1 row: row 0
    expect(Array.from(resizeNearest(x, [4, 4, 1], [1, 3]))).toEqual([0, 1, 2]);
    // 2 → 5: floor(o · 0.4) = 0, 0, 0, 1, 1
    expect(Array.from(resizeNearest(Int32Array.from([-1, 7]), [1, 2, 1], [1, 5]))).toEqual([
      -1, -1, -1, 7, 7,
    ]);
  });

  it('up-samples a label map into blocks and is the identity at the same size', () => {
    const labels = Int32Array.from([0, 1, 2, -1]);
    expect(Array.from(resizeNearest(labels, [2, 2, 1], [4, 4]))).toEqual([
      0, 0, 1, 1, 0, 0, 1, 1, 2, 2, -1, -1, 2, 2, -1, -1,
    ]);
    expect(Array.from(resizeNearest(labels, [2, 2, 1], [2, 2]))).toEqual([0, 1, 2, -1]);
  });

  it('keeps the array type and never invents values (depth, masks, channels)', () => {
    const depth = Float32Array.from([0, 1.5, 2.25, 0, 3, 4]);
    const d = resizeNearest(depth, [2, 3, 1], [5, 7]);
    expect(d).toBeInstanceOf(Float32Array);
    for (const v of d) expect([0, 1.5, 2.25, 3, 4]).toContain(v);
    const mask = Uint8Array.from([1, 0, 0, 1]);
    expect(resizeNearest(mask, [2, 2, 1], [3, 3])).toBeInstanceOf(Uint8Array);
    // channels travel together: pixel (y, x) has channels (10 p, 10 p + 1)
    const rgb = Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]);
    expect(Array.from(resizeNearest(rgb, [2, 2, 2], [1, 2]))).toEqual([0, 1, 10, 11]);
  });
});

describe('resizeNormals', () => {
  const unit = (v: readonly number[]): number[] => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };

  it('keeps a constant unit field and is the identity at the same size', () => {
    const nv = unit([0.3, -0.4, 0.8]);
    const x = Float32Array.from({ length: 3 * 4 * 3 }, (_, i) => nv[i % 3]!);
    const y = resizeNormals(x, [3, 4, 3], [7, 5]);
    for (let p = 0; p < 35; p++) close(y.subarray(p * 3, p * 3 + 3), nv);
    expect(Array.from(resizeNormals(x, [3, 4, 3], [3, 4]))).toEqual(Array.from(x));
  });

  it('renormalises interpolated vectors to unit length', () => {
    // 1×2 → 1×4: outputs at source positions 0, 0.25, 0.75, 1 (clamped)
    const x = Float32Array.from([1, 0, 0, 0, 1, 0]);
    const y = resizeNormals(x, [1, 2, 3], [1, 4]);
    close(y, [1, 0, 0, ...unit([0.75, 0.25, 0]), ...unit([0.25, 0.75, 0]), 0, 1, 0]);
  });

  it('marks a pixel invalid when a source pixel with non-zero weight is invalid', () => {
    // 2×2 → 4×4 with source (0, 0) invalid: output rows/cols 0, 1, 2 touch source row/col 0
    const x = Float32Array.from([0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1]);
    const y = resizeNormals(x, [2, 2, 3], [4, 4]);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const v = Array.from(y.subarray((r * 4 + c) * 3, (r * 4 + c) * 3 + 3));
        if (r < 3 && c < 3) expect(v, `(${r}, ${c})`).toEqual([0, 0, 0]);
        else close(v, [0, 0, 1]);
      }
    }
    // 4×4 → 2×2 with source (0, 0) invalid: only output (0, 0) averages it
    const big = new Float32Array(16 * 3);
    for (let p = 1; p < 16; p++) big[p * 3 + 2] = -1;
    const small = resizeNormals(big, [4, 4, 3], [2, 2]);
    expect(Array.from(small)).toEqual([0, 0, 0, 0, 0, -1, 0, 0, -1, 0, 0, -1]);
  });

  it('marks cancelling normals invalid', () => {
    const x = Float32Array.from([0, 0, 1, 0, 0, -1]);
    // 1×2 → 1×1: source position 0.5, equal weights
    expect(Array.from(resizeNormals(x, [1, 2, 3], [1, 1]))).toEqual([0, 0, 0]);
  });

  it('requires 3 channels', () => {
    expect(() => resizeNormals(new Float32Array(8), [2, 2, 2], [1, 1])).toThrow(ConfigError);
  });
});
