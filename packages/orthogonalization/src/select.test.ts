// Retain-constraint selection (research/method.md §2.5).
import { ConfigError, createRng, initBackend, ShapeError, tf } from '@mtu/core-tensors';
import type { Rank, Tensor2D } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  column,
  columns,
  dot,
  fromColumns,
  randomProblem,
  tensors,
} from './__fixtures__/oracle.js';
import { selectConstraints } from './index.js';
import type { SelectConstraintsOptions } from './index.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

function select(
  pool: Float32Array,
  g: Float32Array,
  D: number,
  P: number,
  options: SelectConstraintsOptions,
) {
  const gT = tf.tensor1d(g);
  const poolT = tf.tensor2d(pool, [D, P]);
  try {
    const r = selectConstraints(poolT, gT, options);
    const shape = r.columns.shape;
    const data = Float32Array.from(r.columns.dataSync());
    r.columns.dispose();
    return { indices: r.indices, shape, data };
  } finally {
    tf.dispose([gT, poolT]);
  }
}

describe('selectConstraints', () => {
  useLeakGuard({ beforeEach, afterEach });

  it("'most-conflicting' returns the top-k by ⟨g, c⟩ (float64 reference), in descending order, with the pool's columns", () => {
    const rng = createRng(51);
    for (const [D, P, k] of [
      [30, 20, 5],
      [100, 64, 16],
      [10, 8, 8],
    ] as const) {
      const p = randomProblem(rng, D, P, { bias: 1 });
      const scores = columns(p).map((c) => dot(p.g, c));
      const expected = scores
        .map((s, j) => [s, j] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k)
        .map(([, j]) => j);
      const r = select(p.C, p.g, D, P, { count: k, strategy: 'most-conflicting' });
      expect(r.indices).toEqual(expected);
      expect(r.shape).toEqual([D, k]);
      r.indices.forEach((j, t) => {
        expect(Array.from(column(r.data, D, k, t))).toEqual(Array.from(column(p.C, D, P, j)));
      });
    }
  });

  it("'most-conflicting' breaks ties by index (duplicate columns)", () => {
    const rng = createRng(52);
    const D = 12;
    const [a, b] = columns(randomProblem(rng, D, 2));
    const g = Float32Array.from(a!);
    const pool = fromColumns([b!, a!, b!, a!, a!], D); // columns 1, 3, 4 are identical and best
    const r = select(pool, g, D, 5, { count: 4, strategy: 'most-conflicting' });
    expect(r.indices.slice(0, 3)).toEqual([1, 3, 4]);
    expect([0, 2]).toContain(r.indices[3]);
    expect(dot(g, b!)).toBeLessThan(dot(g, a!));
  });

  it("'random' is seeded (same seed → same draw, equal to rng.sample) and without replacement", () => {
    const rng = createRng(53);
    const D = 6;
    const P = 40;
    const p = randomProblem(rng, D, P);
    const a = select(p.C, p.g, D, P, { count: 15, rng: createRng(9) });
    const b = select(p.C, p.g, D, P, { count: 15, strategy: 'random', rng: createRng(9) });
    expect(a.indices).toEqual(b.indices);
    expect(a.indices).toEqual(
      createRng(9).sample(
        Array.from({ length: P }, (_, i) => i),
        15,
      ),
    );
    expect(new Set(a.indices).size).toBe(15);
    expect(a.indices.every((j) => j >= 0 && j < P)).toBe(true);
    a.indices.forEach((j, t) => {
      expect(Array.from(column(a.data, D, 15, t))).toEqual(Array.from(column(p.C, D, P, j)));
    });
    const c = select(p.C, p.g, D, P, { count: 15, rng: createRng(10) });
    expect(c.indices).not.toEqual(a.indices);
  });

  it('count > P clamps to P; count 0 gives [D, 0]', () => {
    const rng = createRng(54);
    const p = randomProblem(rng, 5, 4);
    const r1 = select(p.C, p.g, 5, 4, { count: 10, strategy: 'most-conflicting' });
    expect(r1.shape).toEqual([5, 4]);
    expect([...r1.indices].sort()).toEqual([0, 1, 2, 3]);
    const r2 = select(p.C, p.g, 5, 4, { count: 10, rng: createRng(1) });
    expect([...r2.indices].sort()).toEqual([0, 1, 2, 3]);
    const r3 = select(p.C, p.g, 5, 4, { count: 0, strategy: 'most-conflicting' });
    expect(r3.shape).toEqual([5, 0]);
    expect(r3.indices).toEqual([]);
    const r4 = select(new Float32Array(0), p.g, 5, 0, { count: 3, rng: createRng(1) });
    expect(r4.shape).toEqual([5, 0]);
  });

  it('ShapeError for a pool of the wrong height; ConfigError for bad count, strategy or a missing rng', () => {
    const rng = createRng(55);
    const { g, C } = tensors(randomProblem(rng, 6, 3));
    const g5 = tf.zeros<Rank.R1>([5]);
    const flat = tf.zeros([6]) as unknown as Tensor2D;
    try {
      expect(() => selectConstraints(C, g5, { count: 1, strategy: 'most-conflicting' })).toThrow(
        ShapeError,
      );
      expect(() => selectConstraints(C, g5, { count: 1, strategy: 'most-conflicting' })).toThrow(
        /\[6, 3\].*\[5\]/,
      );
      expect(() => selectConstraints(flat, g, { count: 1 })).toThrow(ShapeError);
      for (const count of [-1, 1.5, Number.NaN, '2']) {
        expect(() =>
          selectConstraints(C, g, { count: count as number, strategy: 'most-conflicting' }),
        ).toThrow(ConfigError);
      }
      expect(() => selectConstraints(C, g, { count: 1, strategy: 'top' as 'random' })).toThrow(
        ConfigError,
      );
      expect(() => selectConstraints(C, g, { count: 1 })).toThrow(/rng/);
      expect(() =>
        selectConstraints(C, g, undefined as unknown as SelectConstraintsOptions),
      ).toThrow(ConfigError);
    } finally {
      tf.dispose([g, C, g5, flat]);
    }
  });
});
