import { Matrix, QrDecomposition, SingularValueDecomposition } from 'ml-matrix';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from './errors.js';
import {
  DEFAULT_RTOL,
  energyRank,
  orthonormalBasis,
  orthonormalBasisF64,
  orthonormalityError,
  orthonormalityErrorF64,
  orthonormalize,
  projectOnto,
  projectOut,
  unionBasis,
} from './linalg.js';
import { createRng } from './rng.js';
import type { Rng } from './rng.js';
import { initBackend } from './backend.js';
import { useLeakGuard } from './testing/index.js';
import { tf } from './tf.js';
import type { Rank, Tensor, Tensor1D, Tensor2D } from './tf.js';

// ---------------------------------------------------------------------------------------------
// float64 helpers (row-major D×n arrays)

function randn(rng: Rng, rows: number, cols: number): Float64Array {
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

function matmul(a: Float64Array, b: Float64Array, m: number, p: number, q: number): Float64Array {
  const c = new Float64Array(m * q);
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < p; t++) {
      const x = a[i * p + t]!;
      for (let j = 0; j < q; j++) c[i * q + j] = c[i * q + j]! + x * b[t * q + j]!;
    }
  }
  return c;
}

/** A D×n matrix of exact rank r (up to float64 rounding). */
function lowRank(rng: Rng, D: number, n: number, r: number): Float64Array {
  return matmul(randn(rng, D, r), randn(rng, r, n), D, r, n);
}

/** Orthonormal columns (D×m) from a QR of a Gaussian matrix. */
function randomOrthonormal(rng: Rng, D: number, m: number): Float64Array {
  const q = new QrDecomposition(Matrix.from1DArray(D, m, randn(rng, D, m))).orthogonalMatrix;
  const out = new Float64Array(D * m);
  for (let i = 0; i < D; i++) for (let j = 0; j < m; j++) out[i * m + j] = q.get(i, j);
  return out;
}

/** G = U diag(s) Vᵀ with prescribed singular values s (D×n, n = s.length). */
function withSpectrum(rng: Rng, D: number, s: readonly number[]): Float64Array {
  const n = s.length;
  const U = randomOrthonormal(rng, D, n);
  const V = randomOrthonormal(rng, n, n);
  const US = U.map((x, idx) => x * s[idx % n]!);
  // G = (U S) Vᵀ
  const Vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Vt[j * n + i] = V[i * n + j]!;
  return matmul(US, Vt, D, n, n);
}

/** The D×D projector B Bᵀ of a row-major D×k basis (tests use small D only). */
function projector(B: ArrayLike<number>, D: number, k: number): Float64Array {
  const P = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += B[i * k + t]! * B[j * k + t]!;
      P[i * D + j] = s;
    }
  }
  return P;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Left singular vectors of G (float64 SVD by ml-matrix) for the top `k` singular values. */
function svdBasis(
  G: Float64Array,
  D: number,
  n: number,
  k?: number,
): { basis: Float64Array; k: number; s: number[] } {
  const svd = new SingularValueDecomposition(Matrix.from1DArray(D, n, G), { autoTranspose: true });
  const s = svd.diagonal;
  const U = svd.leftSingularVectors;
  const order = s.map((_, i) => i).sort((i, j) => s[j]! - s[i]!);
  const sorted = order.map((i) => s[i]!);
  const rank = sorted.filter((x) => x > 1e-10 * sorted[0]!).length;
  const kk = k ?? rank;
  const basis = new Float64Array(D * kk);
  for (let i = 0; i < D; i++) for (let j = 0; j < kk; j++) basis[i * kk + j] = U.get(i, order[j]!);
  return { basis, k: kk, s: sorted };
}

function toTensor(G: ArrayLike<number>, D: number, n: number): Tensor2D {
  return tf.tensor2d(Float32Array.from(G), [D, n]);
}

function hasNaN(t: Tensor): boolean {
  return t.dataSync().some((x) => Number.isNaN(x));
}

// ---------------------------------------------------------------------------------------------

describe('energyRank', () => {
  it('returns the smallest k reaching the energy fraction', () => {
    expect(energyRank([3, 2, 1, 0], 0.5)).toBe(1);
    expect(energyRank([3, 2, 1, 0], 9 / 14)).toBe(1); // exactly reached (slack absorbs rounding)
    expect(energyRank([3, 2, 1, 0], 0.65)).toBe(2);
    expect(energyRank([3, 2, 1, 0], 0.9)).toBe(2);
    expect(energyRank([3, 2, 1, 0], 0.99)).toBe(3);
    expect(energyRank([3, 2, 1, 0], 1)).toBe(3);
    expect(energyRank([1, 1, 1, 1], 0.75)).toBe(3);
    expect(energyRank(Float64Array.of(1e-200, 1e-201), 1)).toBe(2);
    expect(energyRank(Float64Array.of(1e200, 1e199), 0.995)).toBe(2);
  });

  it('gives 0 at energy 0, for all-zero and for empty input', () => {
    expect(energyRank([3, 2, 1], 0)).toBe(0);
    expect(energyRank([0, 0, 0], 1)).toBe(0);
    expect(energyRank([0, 0, 0], 0.5)).toBe(0);
    expect(energyRank([], 1)).toBe(0);
    expect(energyRank([5], 1e-15)).toBe(1);
  });

  it('energy = 1 gives the rank even with tiny trailing values', () => {
    expect(energyRank([1, 1e-9, 0], 1)).toBe(2);
  });

  it('G3: k is minimal and does not decrease as the energy grows', () => {
    const rng = createRng(31);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + rng.int(0, 12);
      const s = Array.from({ length: n }, () =>
        rng.uniform() < 0.2 ? 0 : rng.uniform() * 10,
      ).sort((a, b) => b - a);
      const total = s.reduce((a, x) => a + x * x, 0);
      let prevK = 0;
      for (let e = 0; e <= 1.0000001; e += 0.01) {
        const energy = Math.min(e, 1);
        const k = energyRank(s, energy);
        expect(k).toBeGreaterThanOrEqual(prevK);
        prevK = k;
        const cum = (m: number): number => s.slice(0, m).reduce((a, x) => a + x * x, 0);
        expect(cum(k)).toBeGreaterThanOrEqual(energy * total * (1 - 1e-9));
        if (k > 0) expect(cum(k - 1)).toBeLessThan(energy * total);
      }
      expect(energyRank(s, 1)).toBe(s.filter((x) => x > 0).length);
      expect(energyRank(s, 0)).toBe(0);
    }
  });

  it('validates its input, naming the offending value', () => {
    expect(() => energyRank([1, 2], 0.5)).toThrow(/singularValues\[1\] = 2.*descending/);
    expect(() => energyRank([1, -1], 0.5)).toThrow(/singularValues\[1\]/);
    expect(() => energyRank([Number.NaN], 0.5)).toThrow(ConfigError);
    expect(() => energyRank([Infinity, 1], 0.5)).toThrow(ConfigError);
    expect(() => energyRank([1], 1.5)).toThrow(/energy = 1\.5/);
    expect(() => energyRank([1], -0.1)).toThrow(ConfigError);
    expect(() => energyRank([1], Number.NaN)).toThrow(ConfigError);
  });
});

describe('orthonormalBasisF64 (float64 core)', () => {
  it('G1: the basis has orthonormal columns (float64 accuracy)', () => {
    const rng = createRng(1);
    for (const [D, n] of [
      [60, 10],
      [10, 10],
      [7, 12], // more vectors than dimensions: rank ≤ D
      [1, 3],
    ] as const) {
      const G = randn(rng, D, n);
      const { basis, k } = orthonormalBasisF64(G, D, n);
      expect(k).toBe(Math.min(D, n));
      expect(orthonormalityErrorF64(basis, D, k)).toBeLessThan(1e-12);
    }
  });

  it('G2: spans the same subspace as the SVD basis (full span and energy-truncated)', () => {
    const rng = createRng(2);
    // Known rank 5 of 8.
    const D = 50;
    const G = lowRank(rng, D, 8, 5);
    const gram = orthonormalBasisF64(G, D, 8);
    const svd = svdBasis(G, D, 8);
    expect(svd.k).toBe(5);
    expect(gram.k).toBe(5);
    expect(maxAbsDiff(projector(gram.basis, D, 5), projector(svd.basis, D, 5))).toBeLessThan(1e-6);
    // Singular values agree with the SVD.
    for (let i = 0; i < 5; i++) {
      expect(Math.abs(gram.singularValues[i]! - svd.s[i]!) / svd.s[0]!).toBeLessThan(1e-10);
    }
    // Energy truncation keeps the leading singular subspace (clear spectral gaps).
    const s = [10, 6, 3, 1, 0.3, 0.1];
    const H = withSpectrum(rng, 40, s);
    for (const energy of [0.5, 0.8, 0.95, 0.999, 1]) {
      const r = orthonormalBasisF64(H, 40, 6, { energy });
      expect(r.k).toBe(energyRank(s, energy));
      const ref = svdBasis(H, 40, 6, r.k);
      expect(maxAbsDiff(projector(r.basis, 40, r.k), projector(ref.basis, 40, r.k))).toBeLessThan(
        1e-6,
      );
    }
  });

  it('G3: energy rank on a known-rank G: 0 at ε = 0, the rank at ε = 1, monotone in between', () => {
    const rng = createRng(3);
    const G = lowRank(rng, 50, 8, 5);
    const full = orthonormalBasisF64(G, 50, 8);
    expect(full.singularValues.length).toBe(5);
    expect(orthonormalBasisF64(G, 50, 8, { energy: 0 }).k).toBe(0);
    expect(orthonormalBasisF64(G, 50, 8, { energy: 1 }).k).toBe(5);
    let prev = 0;
    for (let step = 0; step <= 20; step++) {
      const e = step / 20;
      const k = orthonormalBasisF64(G, 50, 8, { energy: e }).k;
      expect(k).toBe(energyRank(full.singularValues, e));
      expect(k).toBeGreaterThanOrEqual(prev);
      prev = k;
    }
    expect(prev).toBe(5);
  });

  it('G5: the basis of αG spans the same subspace as that of G, for negative, tiny and huge α', () => {
    const rng = createRng(5);
    const D = 30;
    const n = 6;
    const G = lowRank(rng, D, n, 4);
    const ref = orthonormalBasisF64(G, D, n);
    const P = projector(ref.basis, D, ref.k);
    for (const alpha of [-1, 3, -2.5, 1e-20, -1e-20, 1e20, 1e-300, 1e300, 2 ** -1070]) {
      const aG = G.map((x) => x * alpha);
      const r = orthonormalBasisF64(aG, D, n);
      if (alpha === 2 ** -1070) {
        // Subnormal data has a handful of significant bits: just check it stays sane.
        expect(orthonormalityErrorF64(r.basis, D, r.k)).toBeLessThan(1e-12);
        continue;
      }
      expect(r.k).toBe(ref.k);
      expect(maxAbsDiff(projector(r.basis, D, r.k), P)).toBeLessThan(1e-9);
      expect(
        Math.abs(r.singularValues[0]! / (Math.abs(alpha) * ref.singularValues[0]!) - 1),
      ).toBeLessThan(1e-9);
    }
    // Partial energy too.
    const half = orthonormalBasisF64(G, D, n, { energy: 0.7 });
    const halfScaled = orthonormalBasisF64(
      G.map((x) => -1e-20 * x),
      D,
      n,
      { energy: 0.7 },
    );
    expect(halfScaled.k).toBe(half.k);
    expect(
      maxAbsDiff(projector(half.basis, D, half.k), projector(halfScaled.basis, D, half.k)),
    ).toBeLessThan(1e-9);
  });

  it('re-orthogonalisation repairs ill-conditioned G; without it orthogonality is lost (negative control)', () => {
    const rng = createRng(6);
    const D = 200;
    const n = 4;
    const x = randn(rng, D, 1);
    const Y = randn(rng, D, n);
    const G = new Float32Array(D * n); // nearly parallel columns, stored in float32
    for (let i = 0; i < D; i++)
      for (let j = 0; j < n; j++) G[i * n + j] = x[i]! + 1e-6 * Y[i * n + j]!;
    const opts = { rtol: 1e-14 };
    const raw = orthonormalBasisF64(G, D, n, { ...opts, reorthogonalize: false });
    const fixed = orthonormalBasisF64(G, D, n, opts);
    expect(raw.k).toBe(4);
    expect(fixed.k).toBe(4);
    expect(orthonormalityErrorF64(raw.basis, D, raw.k)).toBeGreaterThan(1e-5);
    expect(orthonormalityErrorF64(fixed.basis, D, fixed.k)).toBeLessThan(1e-12);
    // Same subspace as the float64 SVD of the stored data.
    const ref = svdBasis(Float64Array.from(G), D, n, 4);
    expect(maxAbsDiff(projector(fixed.basis, D, 4), projector(ref.basis, D, 4))).toBeLessThan(1e-6);
    // With the default rtol, the directions with σ/σ_max < 1e-5 are dropped.
    expect(orthonormalBasisF64(G, D, n).k).toBe(1);
  });

  it('k = 0 edge cases give empty results, never NaN', () => {
    for (const [data, D, n, opts] of [
      [new Float64Array(0), 5, 0, {}],
      [new Float64Array(0), 0, 4, {}],
      [new Float64Array(12), 4, 3, {}],
      [Float64Array.from({ length: 12 }, (_, i) => i + 1), 4, 3, { energy: 0 }],
    ] as const) {
      const r = orthonormalBasisF64(data, D, n, opts);
      expect(r.k).toBe(0);
      expect(r.basis.length).toBe(0);
      expect(r.D).toBe(D);
    }
    const col = orthonormalBasisF64(Float64Array.of(3, -4), 2, 1);
    expect(col.k).toBe(1);
    expect(col.basis[0]).toBeCloseTo(0.6, 15);
    expect(col.basis[1]).toBeCloseTo(-0.8, 15);
    expect(col.singularValues[0]).toBeCloseTo(5, 14);
    const one = orthonormalBasisF64(Float64Array.of(0, 0, 3, 0), 2, 2);
    expect(one.k).toBe(1);
    expect(Array.from(one.basis)).toEqual([0, 1]);
    expect(Array.from(one.singularValues)).toEqual([3]);
  });

  it('validates sizes, options and finiteness', () => {
    expect(() => orthonormalBasisF64(new Float64Array(5), 2, 3)).toThrow(ShapeError);
    expect(() => orthonormalBasisF64(new Float64Array(6), 2, 3, { energy: 1.01 })).toThrow(
      /energy = 1\.01/,
    );
    expect(() => orthonormalBasisF64(new Float64Array(6), 2, 3, { energy: -0.5 })).toThrow(
      ConfigError,
    );
    expect(() => orthonormalBasisF64(new Float64Array(6), 2, 3, { rtol: -1 })).toThrow(/rtol = -1/);
    expect(() => orthonormalBasisF64(new Float64Array(6), 2, 3, { rtol: Number.NaN })).toThrow(
      ConfigError,
    );
    expect(() => orthonormalBasisF64(new Float64Array(6), -2, -3)).toThrow(ConfigError);
    expect(() => orthonormalBasisF64(Float64Array.of(1, 2, 3, Number.NaN, 5, 6), 2, 3)).toThrow(
      /row 1, column 0/,
    );
    expect(() => orthonormalBasisF64(Float64Array.of(1, Infinity, 3, 4), 2, 2)).toThrow(
      /Infinity at row 0, column 1/,
    );
    expect(DEFAULT_RTOL).toBe(1e-10);
  });
});

/** max over a few random vectors of ‖P(Pv) − Pv‖ / ‖v‖ for P = projectOut(·, B). */
function idempotencyError(B: Tensor2D, rng: Rng, trials = 5): number {
  const D = B.shape[0];
  let worst = 0;
  for (let t = 0; t < trials; t++) {
    const v = tf.tensor1d(Float32Array.from(randn(rng, D, 1)));
    const once = projectOut(v, B);
    const twice = projectOut(once, B);
    const diff = tf.tidy(
      () => tf.norm(tf.sub(twice, once)).dataSync()[0]! / tf.norm(v).dataSync()[0]!,
    );
    worst = Math.max(worst, diff);
    tf.dispose([v, once, twice]);
  }
  return worst;
}

describe('orthonormalBasis and projections (tensors)', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });
  useLeakGuard({ beforeEach, afterEach });

  it('G1/G2: tensor basis is orthonormal and spans the SVD subspace (float32 tolerances)', () => {
    const rng = createRng(11);
    const D = 50;
    const n = 8;
    const G64 = lowRank(rng, D, n, 5);
    const G = toTensor(G64, D, n);
    const B = orthonormalBasis(G);
    expect(B.shape).toEqual([D, 5]);
    expect(B.dtype).toBe('float32');
    expect(orthonormalityError(B)).toBeLessThan(1e-6);
    const svd = svdBasis(G64, D, n);
    expect(maxAbsDiff(projector(B.dataSync(), D, 5), projector(svd.basis, D, 5))).toBeLessThan(
      1e-6,
    );
    const same = orthonormalize(G);
    expect(maxAbsDiff(same.dataSync(), B.dataSync())).toBe(0);
    expect(G.isDisposed).toBe(false);
    tf.dispose([G, B, same]);
  });

  it('G3: tensor basis width follows energyRank and reaches the rank at energy 1', () => {
    const rng = createRng(12);
    const G64 = lowRank(rng, 50, 8, 5);
    const G = toTensor(G64, 50, 8);
    const sv = orthonormalBasisF64(Float32Array.from(G64), 50, 8).singularValues;
    for (const energy of [0, 0.3, 0.6, 0.9, 0.99, 1]) {
      const B = orthonormalBasis(G, { energy });
      expect(B.shape).toEqual([50, energyRank(sv, energy)]);
      tf.dispose(B);
    }
    const B1 = orthonormalBasis(G, { energy: 1 });
    expect(B1.shape[1]).toBe(5);
    tf.dispose([G, B1]);
  });

  it('G4: the union basis contains each part', () => {
    const rng = createRng(13);
    const D = 40;
    const shared = randn(rng, D, 1);
    const a = randn(rng, D, 3);
    const b = randn(rng, D, 3);
    for (let i = 0; i < D; i++) {
      a[i * 3] = shared[i]!; // both spans contain the `shared` direction
      b[i * 3 + 2] = 2 * shared[i]!;
    }
    const Ga = toTensor(a, D, 3);
    const Gb = toTensor(b, D, 3);
    const U1 = orthonormalBasis(Ga);
    const U2 = orthonormalBasis(Gb);
    const empty = tf.zeros<Rank.R2>([D, 0]);
    const B = unionBasis([U1, empty, U2]);
    expect(B.shape).toEqual([D, 5]); // 3 + 3 − 1 shared
    expect(orthonormalityError(B)).toBeLessThan(1e-6);
    for (const U of [U1, U2]) {
      const err = tf.tidy(() => {
        const back = tf.matMul(B, tf.matMul(B, U, true, false));
        return tf.max(tf.abs(tf.sub(back, U))).dataSync()[0]!;
      });
      expect(err).toBeLessThan(1e-5);
    }
    // Non-orthonormal inputs are fine too, and a single basis is re-orthonormalised.
    const viaRaw = unionBasis([Ga, Gb]);
    expect(viaRaw.shape).toEqual([D, 5]);
    expect(
      maxAbsDiff(projector(viaRaw.dataSync(), D, 5), projector(B.dataSync(), D, 5)),
    ).toBeLessThan(1e-5);
    const single = unionBasis([U1]);
    expect(single.shape).toEqual([D, 3]);
    const onlyEmpty = unionBasis([empty]);
    expect(onlyEmpty.shape).toEqual([D, 0]);
    expect(() => unionBasis([])).toThrow(ConfigError);
    const other = tf.zeros<Rank.R2>([D + 1, 2]);
    expect(() => unionBasis([U1, other])).toThrow(
      /bases\[1\] has shape \[41, 2\], expected \[40, k\]/,
    );
    tf.dispose([Ga, Gb, U1, U2, empty, B, viaRaw, single, onlyEmpty, other]);
  });

  it('G5: tensor bases of αG and G span the same subspace (negative, tiny, huge α)', () => {
    const rng = createRng(15);
    const D = 30;
    const n = 6;
    const G = toTensor(lowRank(rng, D, n, 4), D, n);
    const B = orthonormalBasis(G);
    const P = projector(B.dataSync(), D, B.shape[1]);
    for (const alpha of [-1, -2.5, 7, 1e-20, -1e-20, 1e20, 1e-30]) {
      const aG = tf.mul<Tensor2D>(G, alpha);
      const aB = orthonormalBasis(aG);
      expect(aB.shape).toEqual(B.shape);
      expect(hasNaN(aB)).toBe(false);
      expect(maxAbsDiff(projector(aB.dataSync(), D, aB.shape[1]), P)).toBeLessThan(1e-5);
      tf.dispose([aG, aB]);
    }
    tf.dispose([G, B]);
  });

  it('T4: I − BBᵀ is idempotent, symmetric and non-expansive; projectOnto + projectOut = v', () => {
    const rng = createRng(16);
    const D = 64;
    const G = toTensor(randn(rng, D, 10), D, 10);
    const B = orthonormalBasis(G, { energy: 0.8 });
    const k = B.shape[1];
    expect(k).toBeGreaterThan(0);
    expect(k).toBeLessThan(10);
    expect(idempotencyError(B, rng)).toBeLessThan(1e-5);
    for (let t = 0; t < 5; t++) {
      const u = tf.tensor1d(Float32Array.from(randn(rng, D, 1)));
      const w = tf.tensor1d(Float32Array.from(randn(rng, D, 1)));
      const pu = projectOut(u, B);
      const pw = projectOut(w, B);
      const onto = projectOnto(u, B);
      const [lhs, rhs, nu, npu, recon, ortho] = tf.tidy(() => [
        tf.sum(tf.mul(pu, w)).dataSync()[0]!,
        tf.sum(tf.mul(u, pw)).dataSync()[0]!,
        tf.norm(u).dataSync()[0]!,
        tf.norm(pu).dataSync()[0]!,
        tf.max(tf.abs(tf.sub(tf.add(onto, pu), u))).dataSync()[0]!,
        tf.max(tf.abs(tf.matMul(B, tf.reshape(pu, [D, 1]), true, false))).dataSync()[0]!,
      ]);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-5 * nu * Math.sqrt(D));
      expect(npu).toBeLessThanOrEqual(nu * (1 + 1e-6));
      expect(recon).toBeLessThan(1e-5);
      expect(ortho).toBeLessThan(1e-5 * nu); // Bᵀ projectOut(u) = 0
      tf.dispose([u, w, pu, pw, onto]);
    }
    // A basis vector is removed entirely and kept entirely by projectOnto.
    const b0 = tf.tidy(() => tf.reshape<Rank.R1>(tf.slice(B, [0, 0], [D, 1]), [D]));
    const gone = projectOut(b0, B);
    const kept = projectOnto(b0, B);
    expect(tf.tidy(() => tf.norm(gone).dataSync()[0]!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(kept.dataSync(), b0.dataSync())).toBeLessThan(1e-5);
    tf.dispose([G, B, b0, gone, kept]);
  });

  it('negative control: the idempotency check fails for non-orthonormal bases', () => {
    const rng = createRng(17);
    const D = 200;
    const n = 4;
    // (a) a deliberately wrong "basis": orthonormal columns scaled by 1.1.
    const G = toTensor(randn(rng, D, n), D, n);
    const B = orthonormalBasis(G);
    const wrong = tf.mul<Tensor2D>(B, 1.1);
    expect(idempotencyError(B, rng)).toBeLessThan(1e-5);
    expect(idempotencyError(wrong, rng)).toBeGreaterThan(1e-2);
    // (b) the Gram-route basis of ill-conditioned G without re-orthogonalisation.
    const x = randn(rng, D, 1);
    const Y = randn(rng, D, n);
    const ill = new Float32Array(D * n);
    for (let i = 0; i < D; i++)
      for (let j = 0; j < n; j++) ill[i * n + j] = x[i]! + 1e-6 * Y[i * n + j]!;
    const raw = orthonormalBasisF64(ill, D, n, { rtol: 1e-14, reorthogonalize: false });
    const fixed = orthonormalBasisF64(ill, D, n, { rtol: 1e-14 });
    const Braw = tf.tensor2d(Float32Array.from(raw.basis), [D, raw.k]);
    const Bfixed = tf.tensor2d(Float32Array.from(fixed.basis), [D, fixed.k]);
    expect(orthonormalityError(Braw)).toBeGreaterThan(1e-5);
    expect(orthonormalityError(Bfixed)).toBeLessThan(1e-6);
    // Probe with the worst column direction so the check sees the defect.
    expect(idempotencyError(Braw, rng, 20)).toBeGreaterThan(idempotencyError(Bfixed, rng, 20));
    tf.dispose([G, B, wrong, Braw, Bfixed]);
  });

  it('ill-conditioned G (nearly parallel columns) still gives ‖BᵀB − I‖ ≤ 1e-6 in float32', () => {
    const rng = createRng(18);
    const D = 300;
    const n = 5;
    const x = randn(rng, D, 1);
    const Y = randn(rng, D, n);
    for (const delta of [1e-2, 1e-3, 1e-4]) {
      const data = new Float32Array(D * n);
      for (let i = 0; i < D; i++)
        for (let j = 0; j < n; j++) data[i * n + j] = x[i]! + delta * Y[i * n + j]!;
      const G = tf.tensor2d(data, [D, n]);
      const B = orthonormalBasis(G);
      expect(B.shape).toEqual([D, n]); // σ_min/σ_max ≈ δ/√n·… > 1e-5: all kept
      expect(hasNaN(B)).toBe(false);
      expect(orthonormalityError(B)).toBeLessThan(1e-6);
      // Each column of G lies in the span.
      const resid = tf.tidy(() => {
        const back = tf.matMul(B, tf.matMul(B, G, true, false));
        return tf.max(tf.abs(tf.sub(back, G))).dataSync()[0]!;
      });
      expect(resid).toBeLessThan(1e-4);
      tf.dispose([G, B]);
    }
    // Exactly repeated columns: rank 1, no NaN.
    const rep = tf.tidy(() => tf.tile(tf.tensor2d(Float32Array.from(x), [D, 1]), [1, 4]));
    const Brep = orthonormalBasis(rep);
    expect(Brep.shape).toEqual([D, 1]);
    expect(orthonormalityError(Brep)).toBeLessThan(1e-6);
    tf.dispose([rep, Brep]);
  });

  it('D×0 edge cases: zero G, n = 0, energy 0; projections by an empty basis', () => {
    const D = 10;
    const zeros = tf.zeros<Rank.R2>([D, 3]);
    const none = tf.zeros<Rank.R2>([D, 0]);
    const G = tf.tensor2d(
      Float32Array.from({ length: D * 3 }, (_, i) => Math.sin(i + 1)),
      [D, 3],
    );
    const results = [
      orthonormalBasis(zeros),
      orthonormalBasis(none),
      orthonormalBasis(G, { energy: 0 }),
    ];
    for (const B of results) {
      expect(B.shape).toEqual([D, 0]);
      expect(orthonormalityError(B)).toBe(0);
    }
    const v = tf.tensor1d(Float32Array.from({ length: D }, (_, i) => i - 3));
    const out = projectOut(v, none);
    const onto = projectOnto(v, none);
    expect(out).not.toBe(v);
    expect(Array.from(out.dataSync())).toEqual(Array.from(v.dataSync()));
    expect(Array.from(onto.dataSync())).toEqual(new Array(D).fill(0));
    const noRows = tf.zeros<Rank.R2>([0, 4]);
    const emptyRows = orthonormalBasis(noRows);
    expect(emptyRows.shape).toEqual([0, 0]);
    tf.dispose([zeros, none, G, ...results, v, out, onto, noRows, emptyRows]);
  });

  it('validates shapes, options and finiteness (errors name the shapes)', () => {
    const v = tf.zeros<Rank.R1>([5]);
    const B = tf.zeros<Rank.R2>([4, 2]);
    const G1 = tf.zeros([5]);
    const Gnan = tf.tensor2d([1, Number.NaN, 3, 4], [2, 2]);
    expect(() => projectOut(v, B)).toThrow(/v \[5\] and B \[4, 2\]/);
    expect(() => projectOnto(v, B)).toThrow(ShapeError);
    expect(() => projectOut(B as unknown as Tensor1D, B)).toThrow(ShapeError);
    expect(() => orthonormalBasis(G1 as unknown as Tensor2D)).toThrow(/G must be 2-D.*\[5\]/);
    expect(() => orthonormalBasis(B, { energy: 2 })).toThrow(ConfigError);
    expect(() => orthonormalBasis(B, { rtol: -1e-3 })).toThrow(ConfigError);
    expect(() => orthonormalBasis(Gnan)).toThrow(/NaN at row 0, column 1/);
    tf.dispose([v, B, G1, Gnan]);
  });

  it('handles a larger D (20 000 × 24) quickly and accurately', () => {
    const rng = createRng(20);
    const D = 20_000;
    const n = 24;
    const data = new Float32Array(D * n);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal();
    const G = tf.tensor2d(data, [D, n]);
    const B = orthonormalBasis(G, { energy: 0.5 });
    expect(B.shape[1]).toBeGreaterThan(0);
    expect(B.shape[1]).toBeLessThan(n);
    expect(orthonormalityError(B)).toBeLessThan(1e-6);
    const g = tf.tensor1d(data.filter((_, i) => i % n === 0)); // column 0 of G
    const p = projectOut(g, B);
    const [ng, np] = tf.tidy(() => [tf.norm(g).dataSync()[0]!, tf.norm(p).dataSync()[0]!]);
    expect(np).toBeLessThan(ng);
    tf.dispose([G, B, g, p]);
  });
});
