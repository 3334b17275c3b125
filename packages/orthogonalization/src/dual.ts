/**
 * The float64 side of instance-level orthogonalization: everything that happens in the small
 * M-dimensional space of constraint coefficients.
 *
 * With `C = [c_1 … c_M]` (D × M) every output of the package has the form `u = g − C a` for a
 * coefficient vector `a ∈ ℝ^M`, so the whole computation reduces to
 * - the Gram matrix `G = CᵀC`, the vector `b = Cᵀg` and `‖g‖²`, accumulated in float64 from the
 *   float32 data ({@link hostProducts}; products of float32 numbers are exact in float64);
 * - a small float64 solve for `a` ({@link fullCoefficients} for the full projection,
 *   {@link conflictCoefficients} for PCGrad with the unlearning sign, {@link solveNonConflictDual}
 *   for the exact non-conflict QP);
 * - one float64 pass `u = g − C a` ({@link combineHost}), rounded once to float32.
 *
 * Inner products ⟨u, c_j⟩ of the current iterate are `w = b − G a`; they are updated in O(M) per
 * step instead of O(D).
 *
 * The three O(D·M) passes ({@link hostProducts}, {@link residualProducts}, {@link combineHost}) run
 * in the float64 host kernels of `@mtu/core-tensors` (`gramProductsF64`, `residualProductsF64`,
 * `combineF64`: wasm SIMD, bit-identical to their JavaScript reference loops).
 *
 * @module
 */
import { combineF64, gramProductsF64, residualProductsF64 } from '@mtu/core-tensors';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** Column data of a `D × M` matrix stored row-major (entry (i, j) at `i * M + j`). */
export type RowMajor = Float32Array | Float64Array;

/** `G = CᵀC`, `b = Cᵀg` and `‖g‖²` in float64. */
export interface HostProducts {
  /** `M × M`, row-major, exactly symmetric. */
  readonly G: Float64Array;
  /** Length `M`: `b_j = ⟨c_j, g⟩`. */
  readonly b: Float64Array;
  /** `‖g‖²`. */
  readonly gg: number;
}

/**
 * Accumulates `CᵀC`, `Cᵀg` and `‖g‖²` in float64 (upper triangle, four rows of C at a time), with
 * `gramProductsF64` of `@mtu/core-tensors`.
 *
 * @param C - `D × M`, row-major.
 * @param g - Length `D`.
 * @param D - Rows.
 * @param M - Columns.
 * @returns The products; non-finite inputs give non-finite entries (the caller checks).
 */
export function hostProducts(C: RowMajor, g: RowMajor, D: number, M: number): HostProducts {
  return gramProductsF64(C, g, D, M);
}

/** The numerical range of a Gram matrix: its eigenpairs above the relative cut-off. */
export interface GramEigen {
  /** Numerical rank `r`: eigenvalues `λ > rtol · λ_max` (and > 0). */
  readonly rank: number;
  /** Kept eigenvalues (length r), in the units of G. */
  readonly values: Float64Array;
  /** Kept eigenvectors, `r × M` row-major (row i is the unit eigenvector of `values[i]`). */
  readonly vectors: Float64Array;
}

/**
 * Symmetric eigendecomposition of `G = CᵀC` (ml-matrix, tred2/tql2 in float64, on G scaled by its
 * largest diagonal entry), keeping the eigenvalues `λ > rtol · λ_max` — the same cut-off as
 * `orthonormalBasis` of `@mtu/core-tensors`, so `rank` is the numerical rank of C it would report.
 *
 * @param G - `M × M` symmetric positive semi-definite, row-major.
 * @param M - Order.
 * @param rtol - Relative eigenvalue cut-off, ≥ 0.
 * @returns The kept eigenpairs.
 */
export function gramEigen(G: Float64Array, M: number, rtol: number): GramEigen {
  const none: GramEigen = { rank: 0, values: new Float64Array(0), vectors: new Float64Array(0) };
  if (M === 0) return none;
  let maxDiag = 0;
  for (let j = 0; j < M; j++) maxDiag = Math.max(maxDiag, G[j * M + j] as number);
  if (!(maxDiag > 0)) return none;
  const scaled = Float64Array.from(G, (x) => x / maxDiag);
  const evd = new EigenvalueDecomposition(Matrix.from1DArray(M, M, scaled), {
    assumeSymmetric: true,
  });
  const lambdas = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const lambdaMax = Math.max(0, ...lambdas);
  if (!(lambdaMax > 0)) return none;
  const kept: number[] = [];
  lambdas.forEach((l, i) => {
    if (l > rtol * lambdaMax && l > 0) kept.push(i);
  });
  kept.sort((i, j) => (lambdas[j] as number) - (lambdas[i] as number));
  const r = kept.length;
  const values = new Float64Array(r);
  const vectors = new Float64Array(r * M);
  kept.forEach((col, i) => {
    values[i] = (lambdas[col] as number) * maxDiag;
    for (let a = 0; a < M; a++) vectors[i * M + a] = V.get(a, col);
  });
  return { rank: r, values, vectors };
}

/**
 * Numerical rank of C from its Gram matrix ({@link gramEigen}).
 *
 * @param G - `M × M` symmetric positive semi-definite, row-major.
 * @param M - Order.
 * @param rtol - Relative eigenvalue cut-off, ≥ 0.
 * @returns The rank in `[0, M]`.
 */
export function gramRank(G: Float64Array, M: number, rtol: number): number {
  return gramEigen(G, M, rtol).rank;
}

/**
 * `G⁺ x` restricted to the kept eigenpairs: `Σ_i v_i (v_iᵀ x) / λ_i`.
 *
 * @param e - The kept eigenpairs of G.
 * @param x - Length M.
 * @param M - Order.
 * @returns Length M.
 */
export function pseudoInverseApply(e: GramEigen, x: Float64Array, M: number): Float64Array {
  const out = new Float64Array(M);
  for (let i = 0; i < e.rank; i++) {
    const row = i * M;
    let s = 0;
    for (let a = 0; a < M; a++) s += (e.vectors[row + a] as number) * (x[a] as number);
    s /= e.values[i] as number;
    for (let a = 0; a < M; a++) out[a] = (out[a] as number) + (e.vectors[row + a] as number) * s;
  }
  return out;
}

/**
 * `Cᵀ(g − C a)` in float64, in one pass over the rows (no D-length temporary): the inner products
 * of the constraints with the residual of a first solve, for one step of iterative refinement.
 *
 * @param C - `D × M`, row-major.
 * @param g - Length D.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M).
 * @returns Length M.
 */
export function residualProducts(
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Float64Array {
  return residualProductsF64(C, g, D, M, a);
}

/**
 * The coefficients of the full projection, `u = g − C a` with `C a` the orthogonal projection of g
 * onto the numerical span of C: `a = G⁺ b` over the kept eigenpairs, plus one step of iterative
 * refinement (`a += G⁺ Cᵀ(g − C a)`), which removes what rounding left in the span (the float64
 * analogue of projecting twice).
 *
 * @param e - Kept eigenpairs of `G = CᵀC`.
 * @param b - `Cᵀg`.
 * @param C - `D × M`, row-major.
 * @param g - Length D.
 * @param D - Rows.
 * @param M - Columns.
 * @returns The coefficients (length M).
 */
export function fullCoefficients(
  e: GramEigen,
  b: Float64Array,
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
): Float64Array {
  const a = pseudoInverseApply(e, b, M);
  const correction = pseudoInverseApply(e, residualProducts(C, g, D, M, a), M);
  for (let j = 0; j < M; j++) a[j] = (a[j] as number) + (correction[j] as number);
  return a;
}

/** Relative guard of the conflict test: ⟨u, c_j⟩ ≤ 1e-12·‖g‖‖c_j‖ counts as no conflict. */
export const CONFLICT_GUARD = 1e-12;

/** Result of {@link conflictCoefficients}. */
export interface ConflictCoefficients {
  /** The coefficients `a` of `u = g − C a` (length M). */
  readonly a: Float64Array;
  /** How many projections were applied. */
  readonly acted: number;
}

/**
 * PCGrad with the unlearning sign, in coefficient space: for `j` in `order`, if
 * `⟨u, c_j⟩ > 0` then `u ← u − (⟨u, c_j⟩ / ‖c_j‖²) c_j`; zero columns are skipped. `u = g − C a`
 * throughout, and `⟨u, c_j⟩ = b_j − (G a)_j` is kept up to date in float64.
 *
 * A conflict smaller than `CONFLICT_GUARD · ‖g‖ ‖c_j‖` (relative 1e-12, far below float32
 * resolution) is not acted on, so rounding never triggers a projection (e.g. on a duplicate of an
 * already projected column).
 *
 * @param G - `CᵀC`, `M × M`.
 * @param b - `Cᵀg`.
 * @param gg - `‖g‖²`.
 * @param M - Number of constraints.
 * @param order - The visiting order (a permutation of `0 … M−1`).
 * @returns The coefficients and the number of projections.
 */
export function conflictCoefficients(
  G: Float64Array,
  b: Float64Array,
  gg: number,
  M: number,
  order: ArrayLike<number>,
): ConflictCoefficients {
  const a = new Float64Array(M);
  const w = Float64Array.from(b);
  const gNorm = Math.sqrt(gg);
  let acted = 0;
  for (let t = 0; t < order.length; t++) {
    const j = order[t] as number;
    const gjj = G[j * M + j] as number;
    if (!(gjj > 0)) continue;
    const wj = w[j] as number;
    if (!(wj > CONFLICT_GUARD * gNorm * Math.sqrt(gjj))) continue;
    const alpha = wj / gjj;
    a[j] = (a[j] as number) + alpha;
    for (let i = 0; i < M; i++) w[i] = (w[i] as number) - alpha * (G[i * M + j] as number);
    acted++;
  }
  return { a, acted };
}

/** Options of {@link solveNonConflictDual}. */
export interface DualOptions {
  /**
   * A constraint whose unit vector lies within squared distance `pivotTol` of the span of the
   * active ones is treated as dependent and never made active (default 1e-10, the `rtol` of
   * `@mtu/core-tensors`).
   */
  readonly pivotTol?: number;
  /** Relative violation `⟨u, c_j⟩ / (‖g‖‖c_j‖)` treated as satisfied (default 1e-9). */
  readonly violationTol?: number;
  /** Cap on the number of active-set changes, see {@link DualSolution.iterations} (default `30·M + 30`). */
  readonly maxIterations?: number;
}

/** Result of {@link solveNonConflictDual}. */
export interface DualSolution {
  /** The dual multipliers `v ≥ 0` (length M); `u = g − C v`. */
  readonly v: Float64Array;
  /** The active (passive, in Lawson–Hanson's terms) set: indices with `v_j > 0`, ascending. */
  readonly active: readonly number[];
  /**
   * Active-set changes made: additions plus inner (removal) steps. Rejected candidates are not
   * counted; at most M of them occur between two additions.
   */
  readonly iterations: number;
  /** False when `maxIterations` stopped the solver before its optimality test passed. */
  readonly converged: boolean;
}

/** Default relative violation tolerance of {@link solveNonConflictDual}. */
export const DEFAULT_VIOLATION_TOL = 1e-9;
/** Default pivot tolerance of {@link solveNonConflictDual}. */
export const DEFAULT_PIVOT_TOL = 1e-10;

/**
 * The exact non-conflict projection through its dual: `v = argmin_{v ≥ 0} ½ vᵀ G v − vᵀ b`, i.e.
 * the NNLS problem `min_{v ≥ 0} ‖C v − g‖`, by the Lawson–Hanson active-set method on the Gram
 * matrix (the "normal equations" form of Bro & De Jong, 1997), in float64.
 *
 * The problem is first normalised: columns to unit length and g to unit length (`Ĝ = S⁻¹GS⁻¹`,
 * `b̂ = S⁻¹b/‖g‖`, `S = diag √G_jj`), so `ŵ_j = ⟨u, c_j⟩/(‖g‖‖c_j‖)` is a cosine and the
 * tolerances are scale-free. Zero columns never become active.
 *
 * Each outer iteration makes the most violated constraint (`ŵ_j > violationTol`) active, appends it
 * to an incremental Cholesky factor of `Ĝ_PP` and solves `Ĝ_PP z = b̂_P`; while some `z_i ≤ 0`, it
 * moves from v towards z as far as v stays ≥ 0 and drops the constraints that reach 0 (refactoring
 * the Cholesky factor). A candidate whose Cholesky pivot is ≤ `pivotTol` (numerically dependent on
 * the active constraints) or whose first coefficient is not positive (a rounding artefact) is
 * rejected until the active set next changes. In exact arithmetic the objective decreases strictly
 * at every accepted addition, so no active set repeats and the method ends after finitely many steps
 * with the KKT conditions `v ≥ 0`, `ŵ ≤ tol`, `v_j ŵ_j = 0`; `maxIterations` guards against
 * cycling under rounding.
 *
 * @param G - `CᵀC`, `M × M` row-major (symmetric positive semi-definite).
 * @param b - `Cᵀg`.
 * @param gg - `‖g‖²`.
 * @param M - Number of constraints.
 * @param options - Tolerances and the iteration cap.
 * @returns The multipliers (in the units of the original C and g) and the active set.
 */
export function solveNonConflictDual(
  G: Float64Array,
  b: Float64Array,
  gg: number,
  M: number,
  options: DualOptions = {},
): DualSolution {
  const pivotTol = Math.max(options.pivotTol ?? DEFAULT_PIVOT_TOL, 1e-14);
  const tolW = options.violationTol ?? DEFAULT_VIOLATION_TOL;
  const maxIterations = options.maxIterations ?? 30 * M + 30;
  const v = new Float64Array(M);
  const gNorm = Math.sqrt(gg);
  if (M === 0 || !(gNorm > 0)) return { v, active: [], iterations: 0, converged: true };

  // Normalisation.
  const s = new Float64Array(M);
  for (let j = 0; j < M; j++) s[j] = Math.sqrt(Math.max(0, G[j * M + j] as number));
  const valid = new Uint8Array(M);
  let anyConflict = false;
  const bh = new Float64Array(M);
  for (let j = 0; j < M; j++) {
    if ((s[j] as number) > 0) {
      valid[j] = 1;
      bh[j] = (b[j] as number) / (s[j] as number) / gNorm;
      if ((bh[j] as number) > tolW) anyConflict = true;
    }
  }
  if (!anyConflict) return { v, active: [], iterations: 0, converged: true };
  const Gh = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    if (valid[i] === 0) continue;
    for (let j = 0; j < M; j++) {
      if (valid[j] === 0) continue;
      Gh[i * M + j] = (G[i * M + j] as number) / (s[i] as number) / (s[j] as number);
    }
  }

  // Lawson–Hanson state. `order` lists the active set in factor order; L is lower triangular with
  // row p holding the factor row of order[p] (stride M).
  const vh = new Float64Array(M);
  const w = Float64Array.from(bh);
  const inP = new Uint8Array(M);
  const rejected = new Uint8Array(M);
  const order: number[] = [];
  const L = new Float64Array(M * M);
  const z = new Float64Array(M); // indexed by position in `order`
  const y = new Float64Array(M);
  let iterations = 0;
  let converged = false;

  const updateW = (): void => {
    for (let j = 0; j < M; j++) {
      let acc = bh[j] as number;
      for (const i of order) acc -= (Gh[j * M + i] as number) * (vh[i] as number);
      w[j] = acc;
    }
  };

  /** Row `p` of L for column `j` against the first `p` rows; returns the pivot (squared). */
  const factorRow = (p: number, j: number): number => {
    const row = p * M;
    let sq = 0;
    for (let q = 0; q < p; q++) {
      const i = order[q] as number;
      let acc = Gh[i * M + j] as number;
      const rq = q * M;
      for (let r = 0; r < q; r++) acc -= (L[rq + r] as number) * (L[row + r] as number);
      const l = acc / (L[rq + q] as number);
      L[row + q] = l;
      sq += l * l;
    }
    return (Gh[j * M + j] as number) - sq;
  };

  /** Refactors L for the current `order`, dropping (and rejecting) columns that became dependent. */
  const refactor = (): void => {
    const kept = order.splice(0, order.length);
    for (const j of kept) {
      const p = order.length;
      order.push(j);
      const pivot = factorRow(p, j);
      if (pivot > pivotTol) {
        L[p * M + p] = Math.sqrt(pivot);
      } else {
        order.pop();
        inP[j] = 0;
        vh[j] = 0;
        rejected[j] = 1;
      }
    }
  };

  /** Solves Ĝ_PP z = b̂_P with the factor (z indexed by position). */
  const solve = (): void => {
    const k = order.length;
    for (let p = 0; p < k; p++) {
      let acc = bh[order[p] as number] as number;
      const row = p * M;
      for (let q = 0; q < p; q++) acc -= (L[row + q] as number) * (y[q] as number);
      y[p] = acc / (L[row + p] as number);
    }
    for (let p = k - 1; p >= 0; p--) {
      let acc = y[p] as number;
      for (let q = p + 1; q < k; q++) acc -= (L[q * M + p] as number) * (z[q] as number);
      z[p] = acc / (L[p * M + p] as number);
    }
  };

  outer: for (;;) {
    // Optimality test: the most violated constraint outside the active set.
    let j = -1;
    let best = tolW;
    for (let c = 0; c < M; c++) {
      if (valid[c] === 0 || inP[c] === 1 || rejected[c] === 1) continue;
      const wc = w[c] as number;
      if (wc > best) {
        best = wc;
        j = c;
      }
    }
    if (j < 0) {
      converged = true;
      break;
    }
    if (iterations >= maxIterations) break;

    // Append j to the factor.
    const p = order.length;
    order.push(j);
    const pivot = factorRow(p, j);
    if (!(pivot > pivotTol)) {
      order.pop();
      rejected[j] = 1;
      continue;
    }
    L[p * M + p] = Math.sqrt(pivot);
    inP[j] = 1;
    iterations++;

    for (let first = true; ; first = false) {
      solve();
      const k = order.length;
      if (first && !((z[k - 1] as number) > 0)) {
        // Cannot happen in exact arithmetic (ŵ_j > 0 implies z_j > 0): reject j.
        order.pop();
        inP[j] = 0;
        rejected[j] = 1;
        continue outer;
      }
      let allPositive = true;
      for (let q = 0; q < k; q++) {
        if (!((z[q] as number) > 0)) {
          allPositive = false;
          break;
        }
      }
      if (allPositive) {
        for (let q = 0; q < k; q++) vh[order[q] as number] = z[q] as number;
        break;
      }
      if (++iterations > maxIterations) {
        updateW();
        break outer;
      }
      // Step from v towards z, as far as v stays ≥ 0.
      let alpha = Infinity;
      let argmin = -1;
      for (let q = 0; q < k; q++) {
        const zq = z[q] as number;
        if (zq > 0) continue;
        const vq = vh[order[q] as number] as number;
        const ratio = vq / (vq - zq);
        if (ratio < alpha) {
          alpha = ratio;
          argmin = q;
        }
      }
      let vmax = 0;
      for (let q = 0; q < k; q++) {
        const i = order[q] as number;
        const vi = vh[i] as number;
        const next = vi + alpha * ((z[q] as number) - vi);
        vh[i] = next;
        vmax = Math.max(vmax, next);
      }
      const drop = 4 * Number.EPSILON * vmax;
      const remaining: number[] = [];
      for (let q = 0; q < k; q++) {
        const i = order[q] as number;
        if (q === argmin || !((vh[i] as number) > drop)) {
          vh[i] = 0;
          inP[i] = 0;
        } else {
          remaining.push(i);
        }
      }
      order.splice(0, order.length, ...remaining);
      refactor();
      if (order.length === 0) break;
    }
    rejected.fill(0);
    updateW();
  }

  const active: number[] = [];
  for (let j = 0; j < M; j++) {
    if (inP[j] === 1 && (vh[j] as number) > 0) {
      v[j] = ((vh[j] as number) * gNorm) / (s[j] as number);
      active.push(j);
    }
  }
  return { v, active, iterations, converged };
}

/** Result of {@link combineHost}. */
export interface Combined {
  /** `u = g − C a`, rounded once to float32. */
  readonly u: Float32Array;
  /** `‖u‖²` of the rounded values, in float64. */
  readonly uu: number;
}

/**
 * `u = g − C a` in float64 over the non-zero coefficients, rounded once to float32.
 *
 * @param g - Length `D`.
 * @param C - `D × M`, row-major.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M).
 * @returns The float32 vector and its squared norm.
 */
export function combineHost(
  g: RowMajor,
  C: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Combined {
  return combineF64(g, C, D, M, a);
}
