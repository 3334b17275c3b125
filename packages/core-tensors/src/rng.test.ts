import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { createRng } from './rng.js';
import type { Rng } from './rng.js';
import { initBackend } from './backend.js';
import { useLeakGuard } from './testing/index.js';
import { tf } from './tf.js';

function draws(rng: Rng, count: number): number[] {
  return Array.from({ length: count }, () => rng.uniform());
}

function meanVar(xs: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] as number;
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += ((xs[i] as number) - mean) ** 2;
  return { mean, variance: v / (xs.length - 1) };
}

describe('createRng', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });
  useLeakGuard({ beforeEach, afterEach });

  it('is deterministic: the same seed gives the same sequence of every kind of draw', () => {
    const run = (rng: Rng): unknown[] => [
      draws(rng, 5),
      rng.int(-3, 17),
      rng.normal(2, 3),
      rng.shuffle([1, 2, 3, 4, 5, 6]),
      rng.sample(['a', 'b', 'c', 'd'], 2),
      Array.from(rng.permutation(7)),
      rng.tensorSeed(),
    ];
    expect(run(createRng(123))).toEqual(run(createRng(123)));
    expect(createRng(123).seed).toBe(123);
  });

  it('different seeds give different sequences (also neighbouring and large seeds)', () => {
    const seeds = [
      0,
      1,
      2,
      -1,
      2 ** 32,
      2 ** 32 + 1,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
    ];
    const firsts = seeds.map((s) => draws(createRng(s), 4).join(','));
    expect(new Set(firsts).size).toBe(seeds.length);
    expect(draws(createRng(-0), 3)).toEqual(draws(createRng(0), 3));
  });

  it('rejects seeds that are not safe integers', () => {
    for (const bad of [1.5, Number.NaN, Infinity, -Infinity, 2 ** 53, '3' as unknown as number]) {
      expect(() => createRng(bad)).toThrow(ConfigError);
    }
    expect(() => createRng(0.5)).toThrow(/seed/);
  });

  it('uniform has the moments of U[0,1) over 1e5 draws', () => {
    const rng = createRng(7);
    const xs = new Float64Array(100_000);
    for (let i = 0; i < xs.length; i++) xs[i] = rng.uniform();
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const { mean, variance } = meanVar(xs);
    // σ(mean) = sqrt(1/12/1e5) ≈ 9.1e-4; σ(var) ≈ sqrt(1/180/1e5) ≈ 2.4e-4. 5σ bounds.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * 9.2e-4);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * 2.4e-4);
    // Ten equal bins: chi-square with 9 dof, p ≈ 1e-6 at 45.
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]! += 1;
    const chi2 = bins.reduce((s, b) => s + (b - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(45);
  });

  it('normal has the requested mean and std over 1e5 draws', () => {
    const rng = createRng(11);
    const xs = new Float64Array(100_000);
    for (let i = 0; i < xs.length; i++) xs[i] = rng.normal(3, 2);
    const { mean, variance } = meanVar(xs);
    // σ(mean) = 2/sqrt(1e5) ≈ 6.3e-3; σ(std) ≈ 2/sqrt(2e5) ≈ 4.5e-3. 5σ bounds.
    expect(Math.abs(mean - 3)).toBeLessThan(5 * 6.4e-3);
    expect(Math.abs(Math.sqrt(variance) - 2)).toBeLessThan(5 * 4.5e-3);
    // About 68.3 % within one std.
    const within = xs.filter((x) => Math.abs(x - 3) < 2).length / xs.length;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
    expect(xs.every(Number.isFinite)).toBe(true);
    expect(createRng(1).normal(5, 0)).toBe(5);
    expect(() => createRng(1).normal(0, -1)).toThrow(ConfigError);
    expect(() => createRng(1).normal(Number.NaN)).toThrow(ConfigError);
  });

  it('int draws every value of [lo, hi) uniformly and validates its bounds', () => {
    const rng = createRng(5);
    const counts = new Map<number, number>();
    for (let i = 0; i < 60_000; i++) {
      const v = rng.int(-2, 4);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    for (const c of counts.values()) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(rng.int(9, 10)).toBe(9);
    const big = rng.int(0, 2 ** 40);
    expect(Number.isInteger(big) && big >= 0 && big < 2 ** 40).toBe(true);
    expect(() => rng.int(3, 3)).toThrow(ConfigError);
    expect(() => rng.int(0, 1.5)).toThrow(/hiExclusive/);
    expect(() => rng.int(Number.NaN, 3)).toThrow(/lo/);
  });

  it('shuffle returns a new permutation of the input and leaves the input alone', () => {
    const rng = createRng(3);
    const input = Object.freeze(Array.from({ length: 50 }, (_, i) => i));
    const out = rng.shuffle(input);
    expect(out).not.toBe(input);
    expect([...out].sort((a, b) => a - b)).toEqual([...input]);
    expect(out).not.toEqual([...input]); // 1/50! chance of a false failure
    expect(rng.shuffle([])).toEqual([]);
    expect(rng.shuffle(['x'])).toEqual(['x']);
    const arr = [1, 2, 3, 4, 5, 6, 7, 8];
    expect(rng.shuffleInPlace(arr)).toBe(arr);
    expect([...arr].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('shuffle is uniform over the 6 permutations of 3 items', () => {
    const rng = createRng(99);
    const counts = new Map<string, number>();
    for (let i = 0; i < 60_000; i++) {
      const key = rng.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('permutation(n) is a permutation of 0..n-1', () => {
    const rng = createRng(17);
    const p = rng.permutation(1000);
    expect(p).toBeInstanceOf(Int32Array);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(rng.permutation(0).length).toBe(0);
    expect(() => rng.permutation(-1)).toThrow(ConfigError);
    expect(() => rng.permutation(2.5)).toThrow(/n/);
  });

  it('sample draws k distinct positions without replacement', () => {
    const rng = createRng(21);
    const arr = Array.from({ length: 30 }, (_, i) => `item${i}`);
    for (const k of [0, 1, 7, 30]) {
      const s = rng.sample(arr, k);
      expect(s.length).toBe(k);
      expect(new Set(s).size).toBe(k);
      for (const x of s) expect(arr).toContain(x);
    }
    expect(arr[0]).toBe('item0'); // input untouched
    expect(() => rng.sample(arr, 31)).toThrow(ConfigError);
    expect(() => rng.sample(arr, 31)).toThrow(/k = 31/);
    expect(() => rng.sample(arr, -1)).toThrow(ConfigError);
    // Each element is equally likely to be picked (k = 1 of 3).
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[rng.sample([0, 1, 2], 1)[0]!]! += 1;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('fork is deterministic and does not depend on draws from parent or siblings', () => {
    const a = createRng(42);
    const b = createRng(42);
    draws(b, 17); // the parent's draw count must not matter
    b.normal();
    const childA = a.fork('task:0');
    const childB = b.fork('task:0');
    expect(draws(childA, 5)).toEqual(draws(childB, 5));
    // Drawing from one child does not change what a re-forked child produces.
    const again = a.fork('task:0');
    expect(again.seed).toBe(childA.seed);
    expect(draws(again, 5)).toEqual(draws(b.fork('task:0'), 5));
    // A child is reproducible from its seed alone.
    expect(draws(createRng(childA.seed), 3)).toEqual(draws(a.fork('task:0'), 3));
  });

  it('forks with different labels, parents or kinds of label differ from each other and the parent', () => {
    const root = createRng(42);
    const streams = [
      root,
      root.fork('a'),
      root.fork('b'),
      root.fork(1),
      root.fork('1'),
      root.fork(-1),
      createRng(43).fork('a'),
      root.fork('a').fork('a'),
    ];
    const firsts = streams.map((s) => draws(s, 3).join(','));
    expect(new Set(firsts).size).toBe(streams.length);
    expect(() => root.fork(1.5)).toThrow(ConfigError);
  });

  it('split gives two independent, deterministic children; unlabelled forks are numbered', () => {
    const [a1, b1] = createRng(8).split();
    const [a2, b2] = createRng(8).split();
    expect(draws(a1, 4)).toEqual(draws(a2, 4));
    expect(draws(b1, 4)).toEqual(draws(b2, 4));
    expect(a1.seed).not.toBe(b1.seed);
    const parent = createRng(8);
    const f1 = parent.fork();
    const f2 = parent.fork();
    expect(f1.seed).toBe(a1.seed); // the i-th unlabelled fork, whether through split or fork
    expect(f2.seed).toBe(b1.seed);
    // Streams of sibling children are uncorrelated.
    const x = draws(createRng(8).fork('x'), 20_000);
    const y = draws(createRng(8).fork('y'), 20_000);
    let cov = 0;
    for (let i = 0; i < x.length; i++) cov += (x[i]! - 0.5) * (y[i]! - 0.5);
    const corr = cov / x.length / (1 / 12);
    expect(Math.abs(corr)).toBeLessThan(5 / Math.sqrt(x.length));
  });

  it('tensorSeed gives integers for tf seeded ops, reproducibly', () => {
    const s1 = createRng(4).tensorSeed();
    const s2 = createRng(4).tensorSeed();
    expect(s1).toBe(s2);
    expect(Number.isInteger(s1) && s1 >= 0 && s1 < 2 ** 31 - 1).toBe(true);
    const t1 = tf.randomNormal([4], 0, 1, 'float32', s1);
    const t2 = tf.randomNormal([4], 0, 1, 'float32', s2);
    expect(Array.from(t1.dataSync())).toEqual(Array.from(t2.dataSync()));
    tf.dispose([t1, t2]);
    const rng = createRng(4);
    expect(rng.tensorSeed()).not.toBe(rng.tensorSeed());
  });
});
