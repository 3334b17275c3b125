/**
 * Float64 reference implementations (oracles) and seeded test problems for the package's tests.
 * Everything here works on plain arrays: a `D × M` matrix is row-major (entry (i, j) at `i*M + j`).
 *
 * @module
 */
import { tf } from '@mtu/core-tensors';
import type { Rng, Tensor1D, Tensor2D } from '@mtu/core-tensors';

/** A test problem: float32 data (so the float64 oracles see exactly what the tensors hold). */
export interface Problem {
  readonly D: number;
  readonly M: number;
  /** Length D. */
  readonly g: Float32Array;
  /** D × M row-major. */
  readonly C: Float32Array;
}

/** Options of {@link randomProblem}. */
export interface ProblemOptions {
  /**
   * Each column is `n_j + bias_j · g/‖g‖·√D` with `bias_j` uniform in `[−bias, bias]`-ish
   * (`bias · (2u − 0.7)`), so a fraction of the constraints conflict with g. Default 0.5.
   */
  readonly bias?: number;
}

/** A seeded random problem with a mix of conflicting and non-conflicting constraints. */
export function randomProblem(
  rng: Rng,
  D: number,
  M: number,
  options: ProblemOptions = {},
): Problem {
  const bias = options.bias ?? 0.5;
  const g = new Float32Array(D);
  for (let i = 0; i < D; i++) g[i] = rng.normal();
  const C = new Float32Array(D * M);
  for (let j = 0; j < M; j++) {
    const beta = bias * (2 * rng.uniform() - 0.7);
    for (let i = 0; i < D; i++) C[i * M + j] = rng.normal() + beta * (g[i] as number);
  }
  return { D, M, g, C };
}

/** The problem as tensors (caller disposes). */
export function tensors(p: Problem): { g: Tensor1D; C: Tensor2D } {
  return { g: tf.tensor1d(p.g, 'float32'), C: tf.tensor2d(p.C, [p.D, p.M], 'float32') };
}

/** Column j as float64. */
export function column(C: ArrayLike<number>, D: number, M: number, j: number): Float64Array {
  const c = new Float64Array(D);
  for (let i = 0; i < D; i++) c[i] = C[i * M + j] as number;
  return c;
}

/** All columns as float64. */
export function columns(p: { C: ArrayLike<number>; D: number; M: number }): Float64Array[] {
  return Array.from({ length: p.M }, (_, j) => column(p.C, p.D, p.M, j));
}

/** A D × M row-major matrix from columns. */
export function fromColumns(cols: readonly ArrayLike<number>[], D: number): Float32Array {
  const M = cols.length;
  const C = new Float32Array(D * M);
  cols.forEach((c, j) => {
    for (let i = 0; i < D; i++) C[i * M + j] = c[i] as number;
  });
  return C;
}

/** ⟨a, b⟩ in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** ‖a‖ in float64. */
export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** a − b in float64. */
export function sub(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => (a[i] as number) - (b[i] as number));
}

/** ‖a − b‖ in float64. */
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return norm(sub(a, b));
}

/**
 * An orthonormal basis of span(cols) by modified Gram–Schmidt, twice, dropping columns that keep less
 * than `relTol` of their norm (float32 rounding of a dependent column leaves ~1e-7).
 */
export function orthonormalBasis64(
  cols: readonly ArrayLike<number>[],
  relTol = 1e-6,
): Float64Array[] {
  const basis: Float64Array[] = [];
  for (const c of cols) {
    const x = Float64Array.from(c);
    const n0 = norm(x);
    if (n0 === 0) continue;
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const a = dot(q, x);
        for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) - a * (q[i] as number);
      }
    }
    const n = norm(x);
    if (n <= relTol * n0) continue;
    for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) / n;
    basis.push(x);
  }
  return basis;
}

/** The orthogonal projection of g onto span(cols)^⊥, in float64. */
export function projectComplement(
  g: ArrayLike<number>,
  cols: readonly ArrayLike<number>[],
): Float64Array {
  const u = Float64Array.from(g);
  const basis = orthonormalBasis64(cols);
  for (let pass = 0; pass < 2; pass++) {
    for (const q of basis) {
      const a = dot(q, u);
      for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) - a * (q[i] as number);
    }
  }
  return u;
}

/** Result of {@link bruteForceQp}. */
export interface BruteForce {
  /** The exact optimum of min ‖u − g‖² s.t. ⟨u, c_j⟩ ≤ 0. */
  readonly u: Float64Array;
  /** The active set of the optimum's equality-constrained subproblem. */
  readonly subset: readonly number[];
  /** How many subsets were feasible. */
  readonly feasible: number;
}

/**
 * The exact non-conflict projection by enumeration (M ≤ ~10): for every subset S of the
 * constraints, the projection of g onto {u : ⟨u, c_j⟩ = 0, j ∈ S}; keep the feasible ones
 * (⟨u, c_j⟩ ≤ tol·‖g‖‖c_j‖ ∀j) and return the one closest to g. The optimum's active set is one of
 * the subsets and the optimum is unique, so this is the exact answer.
 */
export function bruteForceQp(
  g: ArrayLike<number>,
  cols: readonly ArrayLike<number>[],
  tol = 1e-10,
): BruteForce {
  const M = cols.length;
  const gn = norm(g);
  let best: BruteForce | undefined;
  let bestDist = Infinity;
  let feasible = 0;
  for (let mask = 0; mask < 1 << M; mask++) {
    const subset: number[] = [];
    for (let j = 0; j < M; j++) if ((mask >> j) & 1) subset.push(j);
    const u = projectComplement(
      g,
      subset.map((j) => cols[j] as ArrayLike<number>),
    );
    const ok = cols.every((c) => dot(u, c) <= tol * gn * norm(c));
    if (!ok) continue;
    feasible++;
    const d = distance(u, g);
    if (d < bestDist) {
      bestDist = d;
      best = { u, subset, feasible: 0 };
    }
  }
  if (best === undefined)
    throw new Error('bruteForceQp: no feasible subset (impossible: u = 0 is feasible)');
  return { ...best, feasible };
}

/** Sequential PCGrad with the unlearning sign in float64, in D-space (the definition). */
export function pcgradUnlearning(
  g: ArrayLike<number>,
  cols: readonly ArrayLike<number>[],
  order: ArrayLike<number>,
): Float64Array {
  const u = Float64Array.from(g);
  for (let t = 0; t < order.length; t++) {
    const c = cols[order[t] as number] as ArrayLike<number>;
    const cc = dot(c, c);
    if (cc === 0) continue;
    const uc = dot(u, c);
    if (uc > 0) {
      const a = uc / cc;
      for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) - a * (c[i] as number);
    }
  }
  return u;
}

/**
 * Least squares `min ‖A x − y‖` for A with columns `cols` (normal equations with Gaussian
 * elimination and partial pivoting; the columns must be independent). Returns x and the residual.
 */
export function leastSquares(
  cols: readonly ArrayLike<number>[],
  y: ArrayLike<number>,
): { x: Float64Array; residual: number } {
  const k = cols.length;
  const A: Float64Array[] = Array.from({ length: k }, (_, a) =>
    Float64Array.from({ length: k + 1 }, (_, b) =>
      b < k
        ? dot(cols[a] as ArrayLike<number>, cols[b] as ArrayLike<number>)
        : dot(cols[a] as ArrayLike<number>, y),
    ),
  );
  for (let p = 0; p < k; p++) {
    let piv = p;
    for (let r = p + 1; r < k; r++) {
      if (
        Math.abs((A[r] as Float64Array)[p] as number) >
        Math.abs((A[piv] as Float64Array)[p] as number)
      )
        piv = r;
    }
    const tmp = A[p] as Float64Array;
    A[p] = A[piv] as Float64Array;
    A[piv] = tmp;
    const rowP = A[p] as Float64Array;
    for (let r = p + 1; r < k; r++) {
      const row = A[r] as Float64Array;
      const f = (row[p] as number) / (rowP[p] as number);
      for (let c = p; c <= k; c++) row[c] = (row[c] as number) - f * (rowP[c] as number);
    }
  }
  const x = new Float64Array(k);
  for (let p = k - 1; p >= 0; p--) {
    const row = A[p] as Float64Array;
    let s = row[k] as number;
    for (let c = p + 1; c < k; c++) s -= (row[c] as number) * (x[c] as number);
    x[p] = s / (row[p] as number);
  }
  const r = Float64Array.from(y);
  cols.forEach((c, j) => {
    for (let i = 0; i < r.length; i++)
      r[i] = (r[i] as number) - (x[j] as number) * (c[i] as number);
  });
  return { x, residual: norm(r) };
}

/** What {@link kktReport} measured, all relative to ‖g‖ (and ‖c_j‖ for inner products). */
export interface KktReport {
  /** max_j ⟨u, c_j⟩ / (‖g‖‖c_j‖): primal feasibility (≤ tol). */
  readonly maxViolation: number;
  /** The constraints taken as active: |⟨u, c_j⟩| ≤ activeTol·‖g‖‖c_j‖. */
  readonly active: readonly number[];
  /** Multipliers of the active constraints from `g − u = Σ_{j∈S} v_j c_j` (least squares). */
  readonly multipliers: Float64Array;
  /** ‖g − u − Σ v_j c_j‖ / ‖g‖: stationarity with multipliers only on active constraints. */
  readonly stationarity: number;
  /** max_j |⟨u, c_j⟩| · v_j / (‖g‖²) over the active set: complementary slackness. */
  readonly slackness: number;
}

/**
 * An external KKT check of `u` as the solution of `min ‖u − g‖² s.t. ⟨u, c_j⟩ ≤ 0`: feasibility;
 * `g − u` in the cone of the active constraints (v ≥ 0, stationarity residual ≈ 0); inactive
 * constraints carry no multiplier (complementary slackness). Assumes independent active columns.
 */
export function kktReport(
  g: ArrayLike<number>,
  u: ArrayLike<number>,
  cols: readonly ArrayLike<number>[],
  activeTol = 1e-4,
): KktReport {
  const gn = norm(g);
  let maxViolation = -Infinity;
  const active: number[] = [];
  cols.forEach((c, j) => {
    const cn = norm(c);
    if (cn === 0) return;
    const r = dot(u, c) / (gn * cn);
    maxViolation = Math.max(maxViolation, r);
    if (Math.abs(r) <= activeTol) active.push(j);
  });
  const diff = sub(g, u);
  const activeCols = active.map((j) => cols[j] as ArrayLike<number>);
  const { x, residual } =
    active.length === 0
      ? { x: new Float64Array(0), residual: norm(diff) }
      : leastSquares(activeCols, diff);
  let slackness = 0;
  active.forEach((j, t) => {
    const c = cols[j] as ArrayLike<number>;
    slackness = Math.max(slackness, (Math.abs(dot(u, c)) * Math.abs(x[t] as number)) / (gn * gn));
  });
  return {
    maxViolation,
    active,
    multipliers: x,
    stationarity: gn > 0 ? residual / gn : residual,
    slackness,
  };
}

/** Float64 copy of a tensor's data. */
export function read(t: Tensor1D | Tensor2D): Float64Array {
  return Float64Array.from(t.dataSync());
}
