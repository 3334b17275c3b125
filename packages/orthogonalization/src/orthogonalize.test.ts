// Properties J1, J3, J5, J6, J7 of research/method.md §4 on the tensor API (float32 storage:
// tolerances ~1e-5 relative), against float64 oracles.
import {
  ConfigError,
  createRng,
  initBackend,
  orthonormalBasis,
  projectOut,
  ShapeError,
  tf,
} from '@mtu/core-tensors';
import type { Rank, Rng, Tensor1D, Tensor2D } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bruteForceQp,
  columns,
  distance,
  dot,
  fromColumns,
  kktReport,
  norm,
  pcgradUnlearning,
  projectComplement,
  randomProblem,
  read,
  tensors,
} from './__fixtures__/oracle.js';
import type { Problem } from './__fixtures__/oracle.js';
import { orthogonalize, orthogonalizeWithInfo } from './index.js';
import type { OrthogonalizeMode, OrthogonalizeOptions } from './index.js';
import { orthogonalizeCore } from './orthogonalize.js';

/** Relative tolerance for float32 results. */
const TOL = 1e-5;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** Runs `orthogonalize` on float32 data and returns the result as float64 (tensors disposed). */
function run(p: Problem, options?: OrthogonalizeOptions): Float64Array {
  const { g, C } = tensors(p);
  try {
    const u = orthogonalize(g, C, options);
    try {
      return read(u);
    } finally {
      u.dispose();
    }
  } finally {
    tf.dispose([g, C]);
  }
}

function runInfo(p: Problem, options?: OrthogonalizeOptions) {
  const { g, C } = tensors(p);
  try {
    const r = orthogonalizeWithInfo(g, C, options);
    const u = read(r.u);
    r.u.dispose();
    return { ...r, u };
  } finally {
    tf.dispose([g, C]);
  }
}

function withG(p: Problem, g: ArrayLike<number>): Problem {
  return { ...p, g: Float32Array.from(g) };
}

function permuteColumns(p: Problem, perm: ArrayLike<number>): Problem {
  const cols = columns(p);
  return {
    ...p,
    C: fromColumns(
      Array.from(perm, (j) => cols[j]!),
      p.D,
    ),
  };
}

function bits(x: Float32Array | Float64Array): Uint32Array {
  return new Uint32Array(Float32Array.from(x).buffer);
}

const MODES: readonly OrthogonalizeMode[] = ['full', 'conflict', 'qp'];
const optionsFor = (mode: OrthogonalizeMode, seed = 0): OrthogonalizeOptions =>
  mode === 'conflict' ? { mode, rng: createRng(seed) } : { mode };

describe('orthogonalize: full projection (default)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('J1 (full): |⟨u, c_j⟩| ≤ 1e-5·‖u‖‖c_j‖ for every j, hence ⟨u, −mean_j c_j⟩ ≥ −1e-5·‖u‖·mean‖c_j‖', () => {
    const rng = createRng(11);
    for (const [D, M] of [
      [64, 1],
      [64, 5],
      [64, 20],
      [200, 64],
      [20_000, 16],
    ] as const) {
      const p = randomProblem(rng, D, M);
      const u = run(p);
      const cols = columns(p);
      const un = norm(u);
      expect(un).toBeGreaterThan(0);
      const mean = new Float64Array(D);
      let meanNorm = 0;
      for (const c of cols) {
        expect(Math.abs(dot(u, c))).toBeLessThanOrEqual(TOL * un * norm(c));
        for (let i = 0; i < D; i++) mean[i] = mean[i]! + c[i]! / M;
        meanNorm += norm(c) / M;
      }
      expect(-dot(u, mean)).toBeGreaterThanOrEqual(-TOL * un * meanNorm);
    }
  });

  it('J1 (full): orthogonality is relative to ‖u‖ even when g lies almost inside the span (‖u‖ ≈ 1e-3‖g‖)', () => {
    const rng = createRng(12);
    const p0 = randomProblem(rng, 500, 8);
    const cols = columns(p0);
    const g = new Float64Array(p0.D);
    for (const c of cols) {
      const x = rng.normal();
      for (let i = 0; i < p0.D; i++) g[i] = g[i]! + x * c[i]!;
    }
    const gn = norm(g);
    for (let i = 0; i < p0.D; i++) g[i] = g[i]! + 1e-3 * gn * (rng.normal() / Math.sqrt(p0.D));
    const p = withG(p0, g);
    const u = run(p);
    const un = norm(u);
    expect(un / gn).toBeLessThan(3e-3);
    for (const c of columns(p)) expect(Math.abs(dot(u, c))).toBeLessThanOrEqual(TOL * un * norm(c));
  });

  it('J3 (full): equals the float64 projector onto span(C)^⊥ (1e-5·‖g‖); ⟨u, g⟩ = ‖u‖² ≥ 0', () => {
    const rng = createRng(13);
    for (let trial = 0; trial < 8; trial++) {
      const p = randomProblem(rng, 40, 1 + 3 * trial);
      const u = run(p);
      const ref = projectComplement(p.g, columns(p));
      const gn = norm(p.g);
      expect(distance(u, ref)).toBeLessThanOrEqual(TOL * gn);
      const ug = dot(u, p.g);
      expect(Math.abs(ug - dot(u, u))).toBeLessThanOrEqual(TOL * gn * gn);
      expect(ug).toBeGreaterThanOrEqual(0);
    }
  });

  it("J3 (full): equals core-tensors' projectOut(g, orthonormalBasis(C, { energy: 1, rtol })) (1e-5·‖g‖)", () => {
    const rng = createRng(19);
    for (const [D, M, rtol] of [
      [50, 4, 1e-10],
      [300, 32, 1e-10],
      [40, 40, 1e-10],
      [30, 60, 1e-10],
      [80, 10, 1e-3],
    ] as const) {
      const p = randomProblem(rng, D, M);
      const { g, C } = tensors(p);
      const Q = orthonormalBasis(C, { energy: 1, rtol });
      const ref = projectOut(g, Q);
      const r = orthogonalizeWithInfo(g, C, { rtol });
      expect(distance(read(r.u), read(ref))).toBeLessThanOrEqual(TOL * norm(p.g));
      expect(r.rank).toBe(Q.shape[1]);
      tf.dispose([g, C, Q, ref, r.u]);
    }
  });

  it('J3 (full): idempotent, f(u) = u (1e-5·‖u‖)', () => {
    const rng = createRng(14);
    for (const M of [1, 6, 30]) {
      const p = randomProblem(rng, 50, M);
      const u = run(p);
      const uu = run(withG(p, u));
      expect(distance(uu, u)).toBeLessThanOrEqual(TOL * norm(u));
    }
  });

  it('J3 (full): linear, f(a·g1 + b·g2) = a·f(g1) + b·f(g2) (1e-5·(|a|‖g1‖ + |b|‖g2‖))', () => {
    const rng = createRng(15);
    const p = randomProblem(rng, 60, 7);
    const g2 = Float32Array.from({ length: p.D }, () => rng.normal());
    for (const [a, b] of [
      [1, 1],
      [2.5, -0.75],
      [-3, 0.125],
    ] as const) {
      const mix = Float32Array.from(p.g, (x, i) => a * x + b * g2[i]!);
      const lhs = run(withG(p, mix));
      const f1 = run(p);
      const f2 = run(withG(p, g2));
      const rhs = f1.map((x, i) => a * x + b * f2[i]!);
      // The mix itself is rounded to float32; compare against the projection of the rounded mix.
      expect(distance(lhs, rhs)).toBeLessThanOrEqual(
        TOL * (Math.abs(a) * norm(p.g) + Math.abs(b) * norm(g2)),
      );
    }
  });

  it('J3 (full): rank-deficient C (duplicate, scaled, dependent and zero columns) projects onto the true span', () => {
    const rng = createRng(16);
    const D = 30;
    const [c0, c1, c2] = columns(randomProblem(rng, D, 3)) as [
      Float64Array,
      Float64Array,
      Float64Array,
    ];
    const g = Float32Array.from({ length: D }, () => rng.normal());
    const cases: [Float64Array[], number][] = [
      [[c0, c0, c1], 2],
      [[c0, c1, c0.map((x, i) => x - 2 * c1[i]!)], 2],
      [[c0, c0.map((x) => -4 * x), new Float64Array(D), c2], 2],
      [[new Float64Array(D), new Float64Array(D)], 0],
    ];
    for (const [cols, rank] of cases) {
      const p: Problem = { D, M: cols.length, g, C: fromColumns(cols, D) };
      const r = runInfo(p);
      expect(r.u.every(Number.isFinite)).toBe(true);
      expect(r.rank).toBe(rank);
      expect(r.projected).toBe(rank);
      const ref = projectComplement(g, columns(p));
      expect(distance(r.u, ref)).toBeLessThanOrEqual(TOL * norm(g));
      for (const c of columns(p))
        expect(Math.abs(dot(r.u, c))).toBeLessThanOrEqual(TOL * norm(r.u) * norm(c));
    }
  });

  it('J7 (full): invariant to permuting the constraint columns (1e-5·‖g‖)', () => {
    const rng = createRng(17);
    const p = randomProblem(rng, 80, 12);
    const u = run(p);
    for (let t = 0; t < 3; t++) {
      const up = run(permuteColumns(p, rng.permutation(p.M)));
      expect(distance(up, u)).toBeLessThanOrEqual(TOL * norm(p.g));
    }
  });

  it('J1 negative control: a direction that is not projected (qp keeps inactive components) fails the J1 check', () => {
    const rng = createRng(18);
    const p = randomProblem(rng, 30, 6, { bias: 1 });
    const u = run(p, { mode: 'qp' });
    const cols = columns(p);
    const worst = Math.max(...cols.map((c) => Math.abs(dot(u, c)) / (norm(u) * norm(c))));
    expect(worst).toBeGreaterThan(1e3 * TOL);
  });
});

/** The J5 check: a list of violations of J5 by `f` on the given single-constraint cases. */
function j5Violations(
  f: (g: Tensor1D, C: Tensor2D) => Tensor1D,
  cases: readonly Problem[],
): string[] {
  const failures: string[] = [];
  cases.forEach((p, k) => {
    const { g, C } = tensors(p);
    const uT = f(g, C);
    const u = uT.dataSync() as Float32Array;
    const c = columns(p)[0]!;
    const gc = dot(p.g, c);
    if (gc > 0) {
      const uc = dot(u, c);
      if (!(Math.abs(uc) <= TOL * norm(p.g) * norm(c)))
        failures.push(`case ${k}: ⟨g,c⟩ = ${gc} > 0 but ⟨u,c⟩ = ${uc}`);
    } else {
      const same = bits(u).every((x, i) => x === bits(p.g)[i]);
      if (!same) failures.push(`case ${k}: ⟨g,c⟩ = ${gc} ≤ 0 but u ≠ g`);
    }
    tf.dispose([g, C, uT]);
  });
  return failures;
}

function j5Cases(rng: Rng): Problem[] {
  const cases: Problem[] = [];
  for (let k = 0; k < 40; k++) cases.push(randomProblem(rng, 1 + (k % 9) * 7, 1, { bias: 2 }));
  // ⟨g, c⟩ exactly 0 and exactly negative/positive multiples.
  const e = (i: number, D: number) => Float32Array.from({ length: D }, (_, t) => (t === i ? 1 : 0));
  cases.push({ D: 4, M: 1, g: e(0, 4), C: e(1, 4) });
  cases.push({
    D: 4,
    M: 1,
    g: Float32Array.from([1, 2, 3, 4]),
    C: Float32Array.from([-1, -2, -3, -4]),
  });
  cases.push({
    D: 4,
    M: 1,
    g: Float32Array.from([1, 2, 3, 4]),
    C: Float32Array.from([0.5, 1, 1.5, 2]),
  });
  return cases;
}

describe('orthogonalize: conflict-only (PCGrad with the unlearning sign)', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('J5 (conflict, one constraint): ⟨g,c⟩ > 0 → ⟨u,c⟩ = 0 (1e-5·‖g‖‖c‖); ⟨g,c⟩ ≤ 0 → u = g bitwise', () => {
    const cases = j5Cases(createRng(21));
    const signs = cases.map((p) => Math.sign(dot(p.g, columns(p)[0]!)));
    expect(signs.filter((s) => s > 0).length).toBeGreaterThan(5);
    expect(signs.filter((s) => s <= 0).length).toBeGreaterThan(5);
    const rng = createRng(22);
    expect(j5Violations((g, C) => orthogonalize(g, C, { mode: 'conflict', rng }), cases)).toEqual(
      [],
    );
  });

  it('J5 NEGATIVE CONTROL: PCGrad with the descent sign (act when ⟨u,c⟩ < 0) is caught by the J5 check', () => {
    const wrongSign = (g: Tensor1D, C: Tensor2D): Tensor1D =>
      tf.tidy(() => {
        const c = tf.reshape<Rank.R1>(C, [-1]);
        const gc = tf.sum(tf.mul(g, c)).dataSync()[0]!;
        const cc = tf.sum(tf.mul(c, c)).dataSync()[0]!;
        return gc < 0 && cc > 0 ? tf.sub<Tensor1D>(g, tf.mul(c, gc / cc)) : tf.clone(g);
      });
    const cases = j5Cases(createRng(21));
    const failures = j5Violations(wrongSign, cases);
    expect(failures.length).toBeGreaterThan(10);
    expect(failures.some((f) => f.includes('> 0 but'))).toBe(true);
    expect(failures.some((f) => f.includes('≤ 0 but u ≠ g'))).toBe(true);
  });

  it('equals the sequential float64 definition in the order drawn by rng.permutation(M) (1e-5·‖g‖)', () => {
    const rng = createRng(23);
    for (let trial = 0; trial < 10; trial++) {
      const M = 1 + trial;
      const p = randomProblem(rng, 40, M, { bias: 1.5 });
      const seed = 100 + trial;
      const r = runInfo(p, { mode: 'conflict', rng: createRng(seed) });
      const order = createRng(seed).permutation(M);
      const ref = pcgradUnlearning(p.g, columns(p), order);
      expect(distance(r.u, ref)).toBeLessThanOrEqual(TOL * norm(p.g));
      expect(r.projected).toBeLessThanOrEqual(M);
      expect(r.normRatio).toBeCloseTo(norm(r.u) / norm(p.g), 6);
    }
  });

  it('the last projection holds: after acting on c_j, ⟨u, c_j⟩ = 0 when it is the last constraint visited', () => {
    const rng = createRng(24);
    const p = randomProblem(rng, 30, 4, { bias: 3 });
    const seed = 5;
    const order = createRng(seed).permutation(p.M);
    const last = order[p.M - 1]!;
    const u = run(p, { mode: 'conflict', rng: createRng(seed) });
    const c = columns(p)[last]!;
    expect(dot(u, c)).toBeLessThanOrEqual(TOL * norm(p.g) * norm(c));
  });

  it('no conflicting constraint → u = g bitwise and projected = 0', () => {
    const rng = createRng(25);
    const p = randomProblem(rng, 20, 5, { bias: 0 });
    const g = Float32Array.from(p.g);
    // Flip each column so that ⟨g, c_j⟩ ≤ 0.
    const cols = columns(p).map((c) => (dot(g, c) > 0 ? c.map((x) => -x) : c));
    const q: Problem = { ...p, C: fromColumns(cols, p.D) };
    const r = runInfo(q, { mode: 'conflict', rng });
    expect(bits(r.u)).toEqual(bits(g));
    expect(r.projected).toBe(0);
    const rq = runInfo(q, { mode: 'qp' });
    expect(bits(rq.u)).toEqual(bits(g));
    expect(rq.projected).toBe(0);
  });

  it('J7 (conflict): deterministic for a given seed (bitwise); the order matters (why J7 is not asserted here)', () => {
    const rng = createRng(26);
    const p = randomProblem(rng, 50, 10, { bias: 2 });
    const a = run(p, { mode: 'conflict', rng: createRng(77) });
    const b = run(p, { mode: 'conflict', rng: createRng(77) });
    expect(bits(a)).toEqual(bits(b));
    // Two constraints at 60°, both conflicting: the visiting order changes the result.
    const D = 3;
    const g = Float32Array.from([1, 1, 0]);
    const c1 = Float64Array.from([1, 0, 0]);
    const c2 = Float64Array.from([0.5, Math.fround(Math.sqrt(3) / 2), 0]);
    const q12 = run(
      { D, M: 2, g, C: fromColumns([c1, c2], D) },
      { mode: 'conflict', rng: createRng(1) },
    );
    const q21 = run(
      { D, M: 2, g, C: fromColumns([c2, c1], D) },
      { mode: 'conflict', rng: createRng(1) },
    );
    expect(distance(q12, q21)).toBeGreaterThan(1e-2);
  });
});

describe('orthogonalize: exact non-conflict QP', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('J6 (qp): equals the brute-force optimum over all active sets (M ≤ 6; 1e-5·‖g‖), feasible, no farther from g than full', () => {
    const rng = createRng(31);
    let fullStrictlyWorse = 0;
    for (let trial = 0; trial < 60; trial++) {
      const M = 1 + (trial % 6);
      const D = [4, 6, 10, 25][trial % 4]!;
      const p = randomProblem(rng, D, M, { bias: 1 + (trial % 3) });
      const r = runInfo(p, { mode: 'qp' });
      const cols = columns(p);
      const gn = norm(p.g);
      const bf = bruteForceQp(p.g, cols);
      expect(distance(r.u, bf.u)).toBeLessThanOrEqual(TOL * gn);
      for (const c of cols) expect(dot(r.u, c)).toBeLessThanOrEqual(TOL * gn * norm(c));
      const uFull = run(p);
      const dQp = distance(r.u, p.g);
      const dFull = distance(uFull, p.g);
      expect(dQp).toBeLessThanOrEqual(dFull + TOL * gn);
      if (dFull > dQp + 1e-2 * gn) fullStrictlyWorse++;
      expect(r.projected).toBeLessThanOrEqual(M);
    }
    // Oracle negative control: the full projection is NOT the QP optimum in many cases, so the
    // brute-force comparison discriminates.
    expect(fullStrictlyWorse).toBeGreaterThan(10);
  });

  it('J6 (qp): KKT — feasibility, g − u in the cone of the active constraints (v ≥ 0), no multiplier on inactive ones (M = 40)', () => {
    const rng = createRng(32);
    for (const [D, M, bias] of [
      [100, 40, 1],
      [300, 40, 3],
      [64, 16, 0.5],
    ] as const) {
      const p = randomProblem(rng, D, M, { bias });
      const r = runInfo(p, { mode: 'qp' });
      const cols = columns(p);
      const k = kktReport(p.g, r.u, cols, 1e-4);
      expect(k.maxViolation).toBeLessThanOrEqual(TOL);
      expect(k.active.length).toBe(r.projected);
      expect(Math.min(0, ...k.multipliers)).toBeGreaterThanOrEqual(-TOL);
      expect(k.stationarity).toBeLessThanOrEqual(1e-4);
      expect(k.slackness).toBeLessThanOrEqual(TOL);
      expect(distance(r.u, p.g)).toBeLessThanOrEqual(distance(run(p), p.g) + TOL * norm(p.g));
      expect(r.rank).toBe(M);
    }
  });

  it('J6 (qp): rank-deficient constraints (duplicates, dependent, zero) give no NaN and the exact optimum', () => {
    const rng = createRng(33);
    const D = 8;
    for (let trial = 0; trial < 10; trial++) {
      const [c0, c1, c2] = columns(randomProblem(rng, D, 3, { bias: 2 })) as [
        Float64Array,
        Float64Array,
        Float64Array,
      ];
      const g = Float32Array.from(c0, (x, i) => x + c1[i]! + 0.5 * rng.normal());
      for (const cols of [
        [c0, c0, c1],
        [c0, c1, c0.map((x, i) => x + c1[i]!)],
        [new Float64Array(D), c2, c0],
        [c0, c0.map((x) => 2 * x), c1, c2, c2],
      ]) {
        const p: Problem = { D, M: cols.length, g, C: fromColumns(cols, D) };
        const u = run(p, { mode: 'qp' });
        expect(u.every(Number.isFinite)).toBe(true);
        const bf = bruteForceQp(p.g, columns(p));
        expect(distance(u, bf.u)).toBeLessThanOrEqual(TOL * norm(g));
      }
    }
  });

  it('J7 (qp): invariant to permuting the constraints (the optimum is unique; 1e-5·‖g‖)', () => {
    const rng = createRng(34);
    const p = randomProblem(rng, 40, 15, { bias: 2 });
    const u = run(p, { mode: 'qp' });
    for (let t = 0; t < 3; t++) {
      expect(
        distance(run(permuteColumns(p, rng.permutation(p.M)), { mode: 'qp' }), u),
      ).toBeLessThanOrEqual(TOL * norm(p.g));
    }
  });

  it('falls back to the full projection (feasible) if the active-set solver hits its iteration cap', () => {
    const rng = createRng(35);
    const p = randomProblem(rng, 30, 5, { bias: 3 });
    const { g, C } = tensors(p);
    const r = orthogonalizeCore(
      'test',
      g,
      C,
      { mode: 'qp' },
      { info: true, dual: { maxIterations: 0 } },
    );
    const u = read(r.u);
    tf.dispose([g, C, r.u]);
    expect(distance(u, run(p))).toBeLessThanOrEqual(TOL * norm(p.g));
    expect(r.rank).toBe(5);
  });
});

describe('orthogonalize: edge cases, diagnostics and errors', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('M = 0 → u equals g bitwise in every mode; rank 0, projected 0, normRatio 1', () => {
    const rng = createRng(41);
    const p: Problem = { ...randomProblem(rng, 17, 0), M: 0, C: new Float32Array(0) };
    for (const mode of MODES) {
      const r = runInfo(p, optionsFor(mode));
      expect(bits(r.u)).toEqual(bits(p.g));
      expect(r).toMatchObject({ rank: 0, projected: 0, normRatio: 1 });
    }
  });

  it('g = 0 → u = 0 and normRatio 1 in every mode, no NaN', () => {
    const rng = createRng(42);
    const p = withG(randomProblem(rng, 12, 4), new Float32Array(12));
    for (const mode of MODES) {
      const r = runInfo(p, optionsFor(mode));
      expect(Array.from(r.u)).toEqual(new Array(12).fill(0));
      expect(r.normRatio).toBe(1);
    }
  });

  it('zero columns give no NaN and are ignored in every mode (same u as without them, 1e-5·‖g‖)', () => {
    const rng = createRng(43);
    const p = randomProblem(rng, 25, 4, { bias: 2 });
    const cols = columns(p);
    const D = p.D;
    const withZeros: Problem = {
      ...p,
      M: 6,
      C: fromColumns([new Float64Array(D), ...cols, new Float64Array(D)], D),
    };
    for (const mode of MODES) {
      const opts = optionsFor(mode, 3);
      const a = run(withZeros, opts);
      expect(a.every(Number.isFinite)).toBe(true);
      if (mode !== 'conflict')
        expect(distance(a, run(p, opts))).toBeLessThanOrEqual(TOL * norm(p.g));
    }
    const allZero: Problem = { ...p, M: 3, C: new Float32Array(3 * D) };
    for (const mode of MODES) {
      const r = runInfo(allZero, optionsFor(mode));
      expect(bits(r.u)).toEqual(bits(p.g));
      expect(r).toMatchObject({ rank: 0, projected: 0, normRatio: 1 });
    }
  });

  it('D = 0 works in every mode', () => {
    for (const mode of MODES) {
      const r = runInfo(
        { D: 0, M: 3, g: new Float32Array(0), C: new Float32Array(0) },
        optionsFor(mode),
      );
      expect(r.u.length).toBe(0);
      expect(r.normRatio).toBe(1);
    }
  });

  it('normRatio = ‖u‖/‖g‖ (1e-6) and the inputs are neither disposed nor modified', () => {
    const rng = createRng(44);
    const p = randomProblem(rng, 30, 6, { bias: 2 });
    for (const mode of MODES) {
      const { g, C } = tensors(p);
      const r = orthogonalizeWithInfo(g, C, optionsFor(mode));
      const u = read(r.u);
      expect(r.normRatio).toBeCloseTo(norm(u) / norm(p.g), 6);
      expect(r.normRatio).toBeLessThanOrEqual(1 + TOL);
      expect(g.isDisposed || C.isDisposed).toBe(false);
      expect(bits(read(g))).toEqual(bits(p.g));
      expect(bits(read(C))).toEqual(bits(p.C));
      tf.dispose([g, C, r.u]);
    }
  });

  it('ShapeError when C has not D rows (naming both shapes) or a rank is wrong', () => {
    const g = tf.zeros<Rank.R1>([4]);
    const C = tf.zeros<Rank.R2>([5, 3]);
    const g2 = tf.zeros([4, 1]) as unknown as Tensor1D;
    const C1 = tf.zeros([4]) as unknown as Tensor2D;
    try {
      expect(() => orthogonalize(g, C)).toThrow(ShapeError);
      expect(() => orthogonalize(g, C)).toThrow(
        /constraints has 5 rows but g has length 4.*\[5, 3\].*\[4\]/,
      );
      expect(() => orthogonalizeWithInfo(g, C, { mode: 'qp' })).toThrow(ShapeError);
      expect(() => orthogonalize(g2, C)).toThrow(ShapeError);
      expect(() => orthogonalize(g, C1)).toThrow(ShapeError);
    } finally {
      tf.dispose([g, C, g2, C1]);
    }
  });

  it('ConfigError for bad options, a missing rng in conflict mode, non-float32 dtypes and non-finite entries', () => {
    const g = tf.ones<Rank.R1>([4]);
    const C = tf.ones<Rank.R2>([4, 2]);
    const gi = tf.ones<Rank.R1>([4], 'int32');
    const gNaN = tf.tensor1d([1, Number.NaN, 0, 0]);
    const CInf = tf.tensor2d([
      [1, 0],
      [0, Infinity],
      [0, 0],
      [0, 0],
    ]);
    try {
      const bad: unknown[] = [
        { mode: 'pcgrad' },
        { rtol: -1 },
        { rtol: Number.NaN },
        { mode: 'conflict' },
        { mode: 'conflict', rng: 42 },
        'full',
      ];
      for (const o of bad)
        expect(() => orthogonalize(g, C, o as OrthogonalizeOptions)).toThrow(ConfigError);
      expect(() => orthogonalize(g, C, { mode: 'conflict' })).toThrow(/rng/);
      // rng is required in conflict mode even when there is nothing to project.
      const C0 = tf.zeros<Rank.R2>([4, 0]);
      expect(() => orthogonalize(g, C0, { mode: 'conflict' })).toThrow(ConfigError);
      C0.dispose();
      expect(() => orthogonalize(gi, C)).toThrow(ConfigError);
      for (const mode of MODES) {
        expect(() => orthogonalize(gNaN, C, optionsFor(mode))).toThrow(ConfigError);
        expect(() => orthogonalize(g, CInf, optionsFor(mode))).toThrow(/constraints/);
      }
    } finally {
      tf.dispose([g, C, gi, gNaN, CInf]);
    }
  });

  it('rng is ignored outside conflict mode; rtol changes the numerical rank', () => {
    const rng = createRng(45);
    const D = 20;
    const [c0, c1] = columns(randomProblem(rng, D, 2)) as [Float64Array, Float64Array];
    const near = c0.map((x, i) => x + 1e-4 * c1[i]!); // σ_min/σ_max ~ 1e-4
    const p: Problem = {
      D,
      M: 2,
      g: Float32Array.from({ length: D }, () => rng.normal()),
      C: fromColumns([c0, near], D),
    };
    expect(runInfo(p).rank).toBe(2);
    expect(runInfo(p, { rtol: 1e-6 }).rank).toBe(1);
    expect(runInfo(p, { mode: 'qp', rtol: 1e-6 }).rank).toBe(1);
    const a = run(p, { mode: 'qp', rng: createRng(1) });
    const b = run(p, { mode: 'qp' });
    expect(bits(a)).toEqual(bits(b));
  });
});
