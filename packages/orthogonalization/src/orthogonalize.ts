/**
 * Instance-level gradient orthogonalization (research/method.md §2.5, step (b) of §2.7).
 *
 * @module
 */
import { ConfigError, DEFAULT_RTOL, tf } from '@mtu/core-tensors';
import type { Rng, Tensor1D, Tensor2D } from '@mtu/core-tensors';
import {
  combineHost,
  conflictCoefficients,
  fullCoefficients,
  gramEigen,
  gramRank,
  hostProducts,
  solveNonConflictDual,
} from './dual.js';
import type { DualOptions } from './dual.js';
import { checkFinite, checkOptionsObject, checkVectorAndMatrix } from './validate.js';

/**
 * Which orthogonalization {@link orthogonalize} applies:
 * - `'full'` (default): remove the whole span of the constraints, `u = g − QQᵀg`;
 * - `'conflict'`: PCGrad with the unlearning sign, one pass in a seeded random order;
 * - `'qp'`: the exact non-conflict projection, `min ‖u − g‖² s.t. ⟨u, c_j⟩ ≤ 0 ∀j`.
 */
export type OrthogonalizeMode = 'full' | 'conflict' | 'qp';

const MODES: readonly OrthogonalizeMode[] = ['full', 'conflict', 'qp'];

/** Options of {@link orthogonalize} and {@link orthogonalizeWithInfo}. */
export interface OrthogonalizeOptions {
  /** The variant; default `'full'`. */
  readonly mode?: OrthogonalizeMode;
  /**
   * Rank tolerance, a finite number ≥ 0; default `DEFAULT_RTOL` of `@mtu/core-tensors` (1e-10).
   * `'full'`: Gram eigenvalues `λ ≤ rtol·λ_max` of C are dropped from the basis Q. `'qp'`: a
   * constraint whose unit vector is within squared distance `rtol` of the span of the active ones
   * is treated as dependent. All modes: the reported {@link OrthogonalizeInfo.rank}.
   */
  readonly rtol?: number;
  /**
   * `'conflict'` mode: the seeded stream that draws the order of the constraints (one
   * `rng.permutation(M)` per call). Required there (`ConfigError` if missing); ignored by the
   * other modes.
   */
  readonly rng?: Rng;
}

/** Result of {@link orthogonalizeWithInfo}: the direction and diagnostics for logs and events. */
export interface OrthogonalizeInfo {
  /** The orthogonalized direction, `Tensor1D` `[D]`, float32, owned by the caller. */
  readonly u: Tensor1D;
  /**
   * Numerical rank of the constraints (Gram eigenvalues above `rtol·λ_max`, as `orthonormalBasis`
   * counts them); in `'full'` mode the dimension of the span that was projected out.
   */
  readonly rank: number;
  /**
   * `'full'`: the rank (directions removed); `'conflict'`: how many projections were applied;
   * `'qp'`: how many constraints are active (multiplier `v_j > 0`).
   */
  readonly projected: number;
  /** `‖u‖ / ‖g‖`, in [0, 1] up to rounding; 1 when `g = 0`. */
  readonly normRatio: number;
}

interface ResolvedOptions {
  readonly mode: OrthogonalizeMode;
  readonly rtol: number;
  readonly rng: Rng | undefined;
}

function resolveOptions(fn: string, options: OrthogonalizeOptions | undefined): ResolvedOptions {
  checkOptionsObject(fn, options);
  const mode: unknown = options?.mode ?? 'full';
  if (typeof mode !== 'string' || !(MODES as readonly string[]).includes(mode)) {
    throw new ConfigError('mode', mode, `must be one of ${MODES.map((m) => `'${m}'`).join(', ')}`);
  }
  const rtol: unknown = options?.rtol ?? DEFAULT_RTOL;
  if (typeof rtol !== 'number' || !Number.isFinite(rtol) || rtol < 0) {
    throw new ConfigError('rtol', rtol, 'must be a finite number ≥ 0');
  }
  const rng: unknown = options?.rng;
  if (mode === 'conflict') {
    if (rng === undefined) {
      throw new ConfigError(
        'rng',
        rng,
        "'conflict' mode needs a seeded Rng (createRng from @mtu/core-tensors) for the random order of the constraints",
      );
    }
    if (
      typeof rng !== 'object' ||
      rng === null ||
      typeof (rng as { permutation?: unknown }).permutation !== 'function'
    ) {
      throw new ConfigError('rng', rng, 'must be an Rng (createRng from @mtu/core-tensors)');
    }
  }
  return { mode: mode as OrthogonalizeMode, rtol, rng: rng as Rng | undefined };
}

/** Internal knobs for tests. */
export interface CoreOptions {
  /** Compute `rank` and `normRatio` (skipped by {@link orthogonalize}). */
  readonly info: boolean;
  /** Overrides of the QP solver's tolerances and iteration cap. */
  readonly dual?: DualOptions;
}

/** Reads a float32 tensor's values (never modified). */
function values(t: Tensor1D | Tensor2D): Float32Array {
  return t.dataSync() as Float32Array;
}

/** The coefficients `a` of `u = g − C a` for the chosen mode, with the diagnostics. */
interface Solved {
  readonly a: Float64Array;
  readonly projected: number;
  readonly rank: number;
}

function solve(
  o: ResolvedOptions,
  core: CoreOptions,
  G: Float64Array,
  b: Float64Array,
  gg: number,
  C: Float32Array,
  g: Float32Array,
  D: number,
  M: number,
): Solved {
  const fullProjection = (): Solved => {
    const e = gramEigen(G, M, o.rtol);
    const a = e.rank === 0 ? new Float64Array(M) : fullCoefficients(e, b, C, g, D, M);
    return { a, projected: e.rank, rank: e.rank };
  };
  if (o.mode === 'full') return fullProjection();
  if (o.mode === 'conflict') {
    const r = conflictCoefficients(G, b, gg, M, (o.rng as Rng).permutation(M));
    return { a: r.a, projected: r.acted, rank: core.info ? gramRank(G, M, o.rtol) : 0 };
  }
  const r = solveNonConflictDual(G, b, gg, M, { pivotTol: o.rtol, ...core.dual });
  // Never observed; the full projection is always feasible for the QP (⟨u, c_j⟩ = 0 ∀j).
  if (!r.converged) return fullProjection();
  return { a: r.v, projected: r.active.length, rank: core.info ? gramRank(G, M, o.rtol) : 0 };
}

/**
 * The shared implementation of {@link orthogonalize} and {@link orthogonalizeWithInfo}; exported for
 * the package's tests (not part of the public entry point).
 *
 * All modes read g and C once, accumulate `G = CᵀC`, `b = Cᵀg`, `‖g‖²` in float64, solve for the
 * coefficients `a` of `u = g − C a` in float64 (dual.ts), and form u in float64 before one rounding
 * to float32. When no coefficient is non-zero the result is `tf.clone(g)` (bitwise equal to g).
 *
 * @param fn - Caller name for messages.
 * @param g - `[D]`.
 * @param constraints - `[D, M]`.
 * @param options - Public options.
 * @param core - Internal knobs.
 * @returns The direction and diagnostics (`rank` is 0 in `'conflict'`/`'qp'` unless `core.info`).
 */
export function orthogonalizeCore(
  fn: string,
  g: Tensor1D,
  constraints: Tensor2D,
  options: OrthogonalizeOptions | undefined,
  core: CoreOptions,
): OrthogonalizeInfo {
  checkVectorAndMatrix(fn, 'constraints', g, constraints);
  const o = resolveOptions(fn, options);
  const D = g.shape[0];
  const M = constraints.shape[1];
  const gData = values(g);
  if (M === 0) {
    checkFinite('g', gData, 1);
    return { u: tf.clone(g), rank: 0, projected: 0, normRatio: 1 };
  }
  const CData = values(constraints);
  const { G, b, gg } = hostProducts(CData, gData, D, M);
  if (!Number.isFinite(gg)) checkFinite('g', gData, 1);
  for (let j = 0; j < M; j++) {
    if (!Number.isFinite(G[j * M + j]) || !Number.isFinite(b[j])) {
      checkFinite('constraints', CData, M);
      checkFinite('g', gData, 1);
    }
  }

  const solved = solve(o, core, G, b, gg, CData, gData, D, M);
  if (solved.a.every((x) => x === 0)) {
    return { u: tf.clone(g), rank: solved.rank, projected: solved.projected, normRatio: 1 };
  }
  const { u, uu } = combineHost(gData, CData, D, M, solved.a);
  return {
    u: tf.tensor1d(u, 'float32'),
    rank: solved.rank,
    projected: solved.projected,
    normRatio: gg > 0 ? Math.sqrt(uu) / Math.sqrt(gg) : 1,
  };
}

/**
 * Instance-level gradient orthogonalization: removes from the forget ascent direction `g` what
 * conflicts with the retain constraints `c_j` (the columns of `constraints`).
 *
 * - `'full'` (default): `u = g − QQᵀg` with Q an orthonormal basis of the numerical span of C
 *   (what `orthonormalBasis(C, { energy: 1, rtol })` of `@mtu/core-tensors` spans: Gram eigenvalues
 *   `λ > rtol·λ_max`), i.e. the orthogonal projection onto `span{c_j}^⊥`: `⟨u, c_j⟩ = 0` for every
 *   j and `⟨u, g⟩ = ‖u‖² ≥ 0`. Computed without forming Q: `u = g − C a`, `a = G⁺Cᵀg` over the kept
 *   eigenpairs of `G = CᵀC`, plus one step of iterative refinement, all in float64.
 * - `'conflict'`: PCGrad with the unlearning sign. For j in a seeded random order
 *   (`options.rng`), if `⟨u, c_j⟩ > 0` then `u ← u − (⟨u, c_j⟩/‖c_j‖²) c_j`; zero columns are
 *   skipped. Only the last projection is guaranteed to hold afterwards; the result depends on the
 *   order.
 * - `'qp'`: the exact non-conflict projection `min ‖u − g‖² s.t. ⟨u, c_j⟩ ≤ 0 ∀j`, through its
 *   dual `v = argmin_{v≥0} ½ vᵀ(CᵀC)v − vᵀ(Cᵀg)` (NNLS `min_{v≥0} ‖Cv − g‖`, Lawson–Hanson in
 *   float64), `u = g − Cv`. Keeps at least as much of g as `'full'`.
 *
 * Conflict means a **positive** inner product between the forget ascent direction and a retain-loss
 * gradient (an ascent step along g would raise that retained loss) — the opposite of PCGrad's
 * descent/descent convention. The constraints should already be pushed through the task projector
 * of step (a); that is the caller's job.
 *
 * Numerics (all modes): g and C are read once; `CᵀC`, `Cᵀg` and `‖g‖²` are accumulated in float64
 * from the float32 data (products of float32 numbers are exact in float64); the M-dimensional
 * problem is solved in float64; `u = g − Ca` is formed in float64 and rounded once to float32. Cost
 * `≈ D·M²/2` multiply-adds (plus `2·D·M` for `'full'`'s refinement) and no D×M temporaries. When
 * nothing is projected (`M = 0`, no conflict) the result is a bitwise copy of g. Zero g, zero,
 * duplicate or dependent columns never give NaN.
 *
 * @param g - `Tensor1D` `[D]`, float32: the forget ascent direction. Not disposed.
 * @param constraints - `Tensor2D` `[D, M]`, float32: one constraint `c_j` per column (e.g.
 *   per-instance retain gradients, already projected by step (a)). `M = 0` is allowed. Not disposed.
 * @param options - `mode` (default `'full'`), `rtol`, `rng` (required for `'conflict'`).
 * @returns A new `Tensor1D` `[D]`, float32, owned by the caller.
 * @throws ShapeError when `constraints` has not `D` rows (naming both shapes) or a rank is wrong.
 * @throws ConfigError for a bad option, a missing `rng` in `'conflict'` mode, a non-float32 dtype or
 *   a non-finite entry.
 *
 * @example
 * ```ts
 * import { createRng, tf } from '@mtu/core-tensors';
 * import { orthogonalize } from '@mtu/orthogonalization';
 *
 * const C = tf.stack(retainGrads, 1) as Tensor2D;                 // [D, M], already through step (a)
 * const u = orthogonalize(g, C);                                   // full projection
 * const uQp = orthogonalize(g, C, { mode: 'qp' });                 // exact non-conflict
 * const uPc = orthogonalize(g, C, { mode: 'conflict', rng: createRng(7) });
 * tf.dispose([u, uQp, uPc, C]);
 * ```
 */
export function orthogonalize(
  g: Tensor1D,
  constraints: Tensor2D,
  options?: OrthogonalizeOptions,
): Tensor1D {
  return orthogonalizeCore('orthogonalize', g, constraints, options, { info: false }).u;
}

/**
 * {@link orthogonalize} plus diagnostics of the call, for logs and events: the numerical rank of the
 * constraints, how many were projected (see {@link OrthogonalizeInfo.projected}) and `‖u‖/‖g‖`.
 * A normRatio far below 1 means the forget direction is almost inside the protected span
 * (research/method.md, pitfall 4).
 *
 * @param g - `Tensor1D` `[D]`, float32. Not disposed.
 * @param constraints - `Tensor2D` `[D, M]`, float32. Not disposed.
 * @param options - As for {@link orthogonalize}.
 * @returns `{ u, rank, projected, normRatio }`; `u` (`Tensor1D` `[D]`) is owned by the caller.
 *
 * @example
 * ```ts
 * const { u, rank, projected, normRatio } = orthogonalizeWithInfo(g, C, { mode: 'qp' });
 * events.emit({ rank, activeConstraints: projected, normRatio });
 * u.dispose();
 * ```
 */
export function orthogonalizeWithInfo(
  g: Tensor1D,
  constraints: Tensor2D,
  options?: OrthogonalizeOptions,
): OrthogonalizeInfo {
  return orthogonalizeCore('orthogonalizeWithInfo', g, constraints, options, { info: true });
}
