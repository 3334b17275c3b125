// Float64 kernels of the M-dimensional problem, against float64 oracles at tight tolerances.
import { createRng } from '@mtu/core-tensors';
import { describe, expect, it } from 'vitest';
import {
  bruteForceQp,
  columns,
  distance,
  dot,
  fromColumns,
  norm,
  pcgradUnlearning,
  randomProblem,
} from './__fixtures__/oracle.js';
import type { Problem } from './__fixtures__/oracle.js';
import {
  combineHost,
  conflictCoefficients,
  fullCoefficients,
  gramEigen,
  gramRank,
  hostProducts,
  solveNonConflictDual,
} from './dual.js';

/** u = g − C v in float64 (the exact result of a dual solution). */
function primal(p: Problem, v: Float64Array): Float64Array {
  const u = Float64Array.from(p.g);
  for (let i = 0; i < p.D; i++) {
    for (let j = 0; j < p.M; j++) u[i] = u[i]! - p.C[i * p.M + j]! * v[j]!;
  }
  return u;
}

function solve(p: Problem, options = {}) {
  const { G, b, gg } = hostProducts(p.C, p.g, p.D, p.M);
  return solveNonConflictDual(G, b, gg, p.M, options);
}

describe('hostProducts', () => {
  it('equals the naive float64 CᵀC, Cᵀg and ‖g‖² (rel 1e-13), for D not a multiple of 4', () => {
    const rng = createRng(1);
    for (const [D, M] of [
      [1, 1],
      [7, 3],
      [33, 5],
      [0, 2],
    ] as const) {
      const p = randomProblem(rng, D, M);
      const { G, b, gg } = hostProducts(p.C, p.g, D, M);
      const cols = columns(p);
      expect(gg).toBeCloseTo(dot(p.g, p.g), 10);
      for (let a = 0; a < M; a++) {
        expect(Math.abs(b[a]! - dot(cols[a]!, p.g))).toBeLessThanOrEqual(
          1e-13 * (1 + norm(cols[a]!) * norm(p.g)),
        );
        for (let c = 0; c < M; c++) {
          const ref = dot(cols[a]!, cols[c]!);
          expect(Math.abs(G[a * M + c]! - ref)).toBeLessThanOrEqual(
            1e-13 * (1 + norm(cols[a]!) * norm(cols[c]!)),
          );
          expect(G[a * M + c]).toBe(G[c * M + a]);
        }
      }
    }
  });
});

describe('gramRank', () => {
  it('counts the numerical rank: independent, duplicate, dependent and zero columns', () => {
    const rng = createRng(2);
    const D = 12;
    const base = columns(randomProblem(rng, D, 3));
    const [c0, c1, c2] = base as [Float64Array, Float64Array, Float64Array];
    const sum = c0.map((x, i) => x + c1[i]!);
    const cases: [Float64Array[], number][] = [
      [[c0, c1, c2], 3],
      [[c0, c0, c1], 2],
      [[c0, c1, sum], 2],
      [[c0, new Float64Array(D), c2], 2],
      [[new Float64Array(D)], 0],
      [[], 0],
    ];
    for (const [cols, rank] of cases) {
      const C = fromColumns(cols, D);
      const { G } = hostProducts(C, new Float32Array(D), D, cols.length);
      expect(gramRank(G, cols.length, 1e-10)).toBe(rank);
    }
  });
});

describe('fullCoefficients (G⁺Cᵀg with one refinement step)', () => {
  it('J1/J3 in float64: ⟨g − Ca, c_j⟩ ≤ 1e-12·‖g‖‖c_j‖ and Ca is the projection onto span(C) (rel 1e-12)', () => {
    const rng = createRng(30);
    for (const [D, M] of [
      [20, 3],
      [50, 20],
      [10, 16],
    ] as const) {
      const p = randomProblem(rng, D, M);
      const { G, b } = hostProducts(p.C, p.g, D, M);
      const e = gramEigen(G, M, 1e-10);
      expect(e.rank).toBe(Math.min(D, M));
      const u = primal(p, fullCoefficients(e, b, p.C, p.g, D, M));
      const gn = norm(p.g);
      for (const c of columns(p))
        expect(Math.abs(dot(u, c))).toBeLessThanOrEqual(1e-12 * gn * norm(c));
      expect(Math.abs(dot(u, p.g) - dot(u, u))).toBeLessThanOrEqual(1e-12 * gn * gn);
    }
  });
});

describe('conflictCoefficients (PCGrad with the unlearning sign)', () => {
  it('J5/J7: equals the sequential D-space definition for the same order (rel 1e-12)', () => {
    const rng = createRng(3);
    for (let trial = 0; trial < 20; trial++) {
      const M = 1 + (trial % 7);
      const p = randomProblem(rng, 16, M, { bias: 1 });
      const order = rng.permutation(M);
      const { G, b, gg } = hostProducts(p.C, p.g, p.D, M);
      const { a, acted } = conflictCoefficients(G, b, gg, M, order);
      const u = primal(p, a);
      const ref = pcgradUnlearning(p.g, columns(p), order);
      expect(distance(u, ref)).toBeLessThanOrEqual(1e-12 * norm(p.g));
      expect(acted).toBeLessThanOrEqual(M);
    }
  });

  it('skips zero columns and does not act on a duplicate of a projected column', () => {
    const rng = createRng(4);
    const D = 10;
    const g = Float32Array.from({ length: D }, () => rng.normal());
    const c = Float64Array.from(g, (x, i) => x + (i % 3)); // ⟨g, c⟩ > 0
    const C = fromColumns([c, new Float64Array(D), c], D);
    const { G, b, gg } = hostProducts(C, g, D, 3);
    const r = conflictCoefficients(G, b, gg, 3, [0, 1, 2]);
    expect(r.acted).toBe(1);
    expect(r.a[1]).toBe(0);
    expect(r.a[2]).toBe(0);
  });
});

describe('solveNonConflictDual (Lawson–Hanson on the Gram matrix)', () => {
  it('J6: equals the brute-force optimum over all active sets (M ≤ 6, rel 1e-9), with exact KKT', () => {
    const rng = createRng(5);
    let withInactive = 0;
    for (let trial = 0; trial < 120; trial++) {
      const M = 1 + (trial % 6);
      const D = [3, 5, 8, 20][trial % 4]!;
      const p = randomProblem(rng, D, M, { bias: 1 + (trial % 3) });
      const sol = solve(p);
      expect(sol.converged).toBe(true);
      const u = primal(p, sol.v);
      const cols = columns(p);
      const bf = bruteForceQp(p.g, cols);
      const gn = norm(p.g);
      expect(distance(u, bf.u)).toBeLessThanOrEqual(1e-9 * gn);
      // KKT: v ≥ 0; ⟨u, c_j⟩ ≤ tol; v_j ⟨u, c_j⟩ = 0.
      for (let j = 0; j < M; j++) {
        const cn = norm(cols[j]!);
        const w = dot(u, cols[j]!) / (gn * cn);
        expect(sol.v[j]).toBeGreaterThanOrEqual(0);
        expect(w).toBeLessThanOrEqual(1e-9);
        expect(Math.abs(w * sol.v[j]! * cn) / gn).toBeLessThanOrEqual(1e-9);
        expect(sol.v[j]! > 0).toBe(sol.active.includes(j));
      }
      if (sol.active.length > 0 && sol.active.length < M) withInactive++;
    }
    expect(withInactive).toBeGreaterThan(20); // the problems exercise partial active sets
  });

  it('handles zero, duplicate, scaled and exactly dependent columns without NaN (rel 1e-9 vs brute force)', () => {
    const rng = createRng(6);
    // Entries on a 1/64 grid, so the dependent combinations below are exact in float32.
    const quantize = (c: Float64Array) => c.map((x) => Math.round(x * 64) / 64);
    for (let trial = 0; trial < 30; trial++) {
      const D = 6;
      const base = columns(randomProblem(rng, D, 3, { bias: 2 })).map(quantize);
      const [c0, c1, c2] = base as [Float64Array, Float64Array, Float64Array];
      const sets: Float64Array[][] = [
        [c0, c0, c1],
        [c0, c1, Float64Array.from(c0, (x, i) => x + c1[i]!)],
        [c0, new Float64Array(D), c2],
        [c0, Float64Array.from(c0, (x) => 3 * x), c2, c1],
        [c0, c1, c2, Float64Array.from(c0, (x, i) => 0.5 * x - 2 * c2[i]!), c0],
      ];
      for (const cols of sets) {
        const p: Problem = {
          D,
          M: cols.length,
          g: Float32Array.from(base[0]!, (_, i) => c0[i]! - c1[i]! + rng.normal()),
          C: fromColumns(cols, D),
        };
        const sol = solve(p);
        expect(sol.converged).toBe(true);
        const u = primal(p, sol.v);
        expect(u.every(Number.isFinite)).toBe(true);
        const bf = bruteForceQp(p.g, columns(p));
        expect(distance(u, bf.u)).toBeLessThanOrEqual(1e-9 * norm(p.g));
      }
    }
  });

  it('is scale invariant: scaling g by 1e20 and the columns by 1e-20 scales v accordingly (rel 1e-12)', () => {
    const rng = createRng(7);
    const p = randomProblem(rng, 12, 5, { bias: 2 });
    const base = solve(p);
    const D = p.D;
    const M = p.M;
    const { G, b, gg } = hostProducts(p.C, p.g, D, M);
    const sG = G.map((x) => x * 1e-40);
    const sb = b.map((x) => x * 1e-20 * 1e20);
    const scaled = solveNonConflictDual(sG, sb, gg * 1e40, M);
    for (let j = 0; j < M; j++) {
      expect(Math.abs(scaled.v[j]! - base.v[j]! * 1e40)).toBeLessThanOrEqual(
        1e-12 * 1e40 * (1 + Math.abs(base.v[j]!)),
      );
    }
    expect(scaled.active).toEqual(base.active);
  });

  it('terminates on large problems (M = 256, D = 300) with exact KKT, within the iteration cap', () => {
    const rng = createRng(8);
    const p = randomProblem(rng, 300, 256, { bias: 3 });
    const sol = solve(p);
    expect(sol.converged).toBe(true);
    expect(sol.iterations).toBeLessThanOrEqual(30 * 256 + 30);
    const u = primal(p, sol.v);
    const cols = columns(p);
    const gn = norm(p.g);
    for (let j = 0; j < p.M; j++) {
      const w = dot(u, cols[j]!) / (gn * norm(cols[j]!));
      expect(w).toBeLessThanOrEqual(1e-9);
      if (sol.v[j]! > 0) expect(Math.abs(w)).toBeLessThanOrEqual(1e-9);
    }
    expect(sol.active.length).toBeGreaterThan(0);
  });

  it('reports non-convergence when the iteration cap is hit, and returns v ≥ 0 (no conflict → 0 iterations)', () => {
    const rng = createRng(9);
    const p = randomProblem(rng, 20, 6, { bias: 3 });
    const capped = solve(p, { maxIterations: 0 });
    expect(capped.converged).toBe(false);
    expect(Array.from(capped.v).every((x) => x >= 0)).toBe(true);
    const g = new Float32Array(20);
    const zero = solve({ ...p, g });
    expect(zero).toMatchObject({ converged: true, iterations: 0, active: [] });
  });
});

describe('combineHost', () => {
  it('forms g − C a in float64 and rounds once to float32', () => {
    const rng = createRng(10);
    const p = randomProblem(rng, 9, 3);
    const a = Float64Array.from([0.5, 0, -2]);
    const { u, uu } = combineHost(p.g, p.C, p.D, p.M, a);
    const ref = primal(p, a);
    for (let i = 0; i < p.D; i++) expect(u[i]).toBe(Math.fround(ref[i]!));
    expect(uu).toBeCloseTo(dot(u, u), 12);
  });
});
