/**
 * Small float64 linear algebra for the unlearning methods: orthonormal bases of gradient subspaces
 * (through the n×n Gram matrix), energy ranks, and projections.
 *
 * Matrices of vectors are stored as tfjs tensors of shape `[D, n]` (one vector per *column*,
 * row-major data: entry (i, j) at `i * n + j`). `D` may be large (10⁵–10⁶); `n` is small (≲ 200).
 * Nothing of size D×D is ever formed.
 *
 * **How a basis is computed** ({@link orthonormalBasisF64}; the tensor functions call it):
 * 1. `G` is read as float32/float64 data and scaled by an exact power of two so its largest entry
 *    is in [1, 2) (no overflow or underflow for any finite scale).
 * 2. The Gram matrix `GᵀG` (n×n) is accumulated in float64. Products of float32 numbers are exact in
 *    float64, so the only error is float64 summation.
 * 3. A symmetric eigendecomposition (ml-matrix, tred2/tql2) gives `GᵀG = V Λ Vᵀ`; eigenvalues are
 *    sorted descending, clamped at 0, and every `λᵢ ≤ rtol · λ_max` is dropped (numerical rank `r`).
 *    The default `rtol = 1e-10` ({@link DEFAULT_RTOL}) keeps directions with `σᵢ/σ_max > 1e-5`; it is
 *    far above float32 rounding noise (~1e-7 relative) so rounding never adds spurious directions.
 * 4. `k = energyRank(√λ, energy)` of the kept values.
 * 5. `U = G V_k Λ_k^{-1/2}` is formed in float64.
 * 6. Because the Gram route squares the condition number, one modified Gram–Schmidt pass in
 *    float64 re-orthonormalises `U` (a column that lost more than half its norm is projected a second
 *    time; a column that vanishes entirely is dropped, so `k` can shrink in pathological cases).
 *
 * Costs for G of D×n: `D·n²/2` (Gram) + `D·n·k` (U) + `D·k²` (re-orthogonalisation) float64
 * multiply-adds. Steps 2, 5 and 6 run in MTU's float64 host kernels (`host-kernels/`: wasm SIMD,
 * bit-identical to their JavaScript reference loops, which run where WebAssembly is unavailable or
 * after `setHostKernels('js')`). Memory: the float64 basis (`8·D·k` bytes) and, for the tensor
 * functions, its float32 copy (`4·D·k` bytes); in wasm also a copy of G and room for `n` float64
 * columns in the module's memory. `G` is read once with `dataSync()` and never converted to a
 * float64 array.
 *
 * @module
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { ConfigError, ShapeError } from './errors.js';
import { basisStage } from './host-kernels/index.js';
import type { BasisStage } from './host-kernels/reference.js';
import { tf } from './tf.js';
import type { Rank, Tensor, Tensor1D, Tensor2D } from './tf.js';

/** Default relative eigenvalue cut-off of the Gram matrix: `λ ≤ 1e-10·λ_max` (σ ≤ 1e-5·σ_max) is dropped. */
export const DEFAULT_RTOL: number = 1e-10;

/** Relative slack of {@link energyRank} against summation rounding. */
const ENERGY_SLACK = 1e-12;

/** Options of {@link orthonormalBasis}. */
export interface BasisOptions {
  /**
   * Fraction of the squared Frobenius norm ‖G‖²_F the basis must capture, in [0, 1]. Default 1 (the
   * whole numerical span). 0 gives an empty basis.
   */
  readonly energy?: number;
  /**
   * Relative cut-off on the Gram eigenvalues (= squared singular values): `λᵢ ≤ rtol·λ_max` is
   * treated as zero. Must be ≥ 0. Default {@link DEFAULT_RTOL}.
   */
  readonly rtol?: number;
}

/** Options of {@link orthonormalBasisF64}. */
export interface BasisF64Options extends BasisOptions {
  /**
   * Run the float64 modified Gram–Schmidt pass after `U = G V Λ^{-1/2}`. Default `true`. Turning it
   * off is only meant for diagnostics and tests: the columns then lose orthogonality like
   * `ε·κ(G)²`.
   */
  readonly reorthogonalize?: boolean;
}

/** Result of {@link orthonormalBasisF64}. */
export interface BasisF64Result {
  /** The basis, `D × k`, row-major (entry (i, j) at `i * k + j`), orthonormal columns. */
  readonly basis: Float64Array;
  /** Number of rows (the vector length). */
  readonly D: number;
  /** Number of basis vectors (columns). */
  readonly k: number;
  /**
   * Singular values of G above the `rtol` cut-off, descending (length = numerical rank `r ≥ k`),
   * in the units of G.
   */
  readonly singularValues: Float64Array;
}

type Data = Float32Array | Float64Array;

function checkEnergy(energy: number): void {
  if (typeof energy !== 'number' || !(energy >= 0 && energy <= 1)) {
    throw new ConfigError('energy', energy, 'must be a number in [0, 1]');
  }
}

function checkRtol(rtol: number): void {
  if (typeof rtol !== 'number' || !(rtol >= 0) || !Number.isFinite(rtol)) {
    throw new ConfigError('rtol', rtol, 'must be a finite number ≥ 0');
  }
}

function checkDim(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(name, value, 'must be a non-negative integer');
  }
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * The smallest `k` such that the first `k` squared singular values hold at least the fraction
 * `energy` of the total: `Σ_{i<k} σᵢ² ≥ energy · Σ σᵢ²`.
 *
 * `energy = 0` or an all-zero input gives 0; `energy = 1` gives the number of non-zero values (the
 * rank). For `0 < energy < 1` a relative slack of 1e-12 of the total absorbs summation rounding. `k`
 * never decreases as `energy` grows. Values are scaled by the largest one first, so huge or tiny
 * singular values neither overflow nor underflow.
 *
 * @param singularValues - Finite, non-negative values sorted in descending order (validated:
 *   {@link ConfigError} naming the offending index).
 * @param energy - Fraction in [0, 1].
 * @returns `k` in `[0, singularValues.length]`.
 *
 * @example
 * ```ts
 * energyRank([3, 2, 1, 0], 0.5);   // 1  (9 / 14 ≥ 0.5)
 * energyRank([3, 2, 1, 0], 0.9);   // 2  (13 / 14 ≥ 0.9)
 * energyRank([3, 2, 1, 0], 1);     // 3  (the rank)
 * ```
 */
export function energyRank(singularValues: ArrayLike<number>, energy: number): number {
  checkEnergy(energy);
  const n = singularValues.length;
  let prev = Infinity;
  let positive = 0;
  for (let i = 0; i < n; i++) {
    const s = singularValues[i] as number;
    if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) {
      throw new ConfigError(`singularValues[${i}]`, s, 'must be finite and ≥ 0');
    }
    if (s > prev) {
      throw new ConfigError(
        `singularValues[${i}]`,
        s,
        `singular values must be sorted in descending order (previous value ${prev})`,
      );
    }
    if (s > 0) positive = i + 1;
    prev = s;
  }
  if (energy === 0 || positive === 0) return 0;
  if (energy === 1) return positive;
  const top = singularValues[0] as number;
  let total = 0;
  for (let i = 0; i < positive; i++) {
    const r = (singularValues[i] as number) / top;
    total += r * r;
  }
  const threshold = energy * total - ENERGY_SLACK * total;
  let cum = 0;
  for (let i = 0; i < positive; i++) {
    const r = (singularValues[i] as number) / top;
    cum += r * r;
    if (cum >= threshold) return i + 1;
  }
  return positive;
}

/** Precision of the basis a {@link basisCore} call returns. */
type Precision = 'float64' | 'float32';

/** Internal result: the `D × k` basis, row-major, in the requested precision. */
interface CoreResult {
  readonly basis: Float64Array | Float32Array;
  readonly k: number;
  readonly singularValues: Float64Array;
}

/**
 * Exact power-of-two factors (f1·f2 = 2^-e) that bring `maxAbs` into [1, 2), split in two so that
 * neither overflows.
 */
function scaleFactors(maxAbs: number): [number, number] {
  const e = Math.floor(Math.log2(maxAbs));
  const a = Math.trunc(-e / 2);
  const b = -e - a;
  return [2 ** a, 2 ** b];
}

function findNonFinite(data: Data, n: number): never {
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as number;
    if (!Number.isFinite(x)) {
      const row = Math.floor(i / n);
      throw new ConfigError(
        'G',
        `${x} at row ${row}, column ${i - row * n}`,
        'entries must be finite',
      );
    }
  }
  throw new ConfigError('G', 'non-finite', 'entries must be finite');
}

function basisCore(
  data: Data,
  D: number,
  n: number,
  energy: number,
  rtol: number,
  reorthogonalize: boolean,
  precision: Precision,
): CoreResult {
  const empty: CoreResult = {
    basis: emptyBasis(precision),
    k: 0,
    singularValues: new Float64Array(0),
  };
  if (D === 0 || n === 0) return empty;

  // 1. Exact power-of-two scaling; also detects NaN/Inf.
  let maxAbs = 0;
  for (let i = 0; i < data.length; i++) {
    const x = Math.abs(data[i] as number);
    if (x > maxAbs) maxAbs = x;
    else if (x !== x) findNonFinite(data, n);
  }
  if (!Number.isFinite(maxAbs)) findNonFinite(data, n);
  if (maxAbs === 0) return empty;
  const [f1, f2] = scaleFactors(maxAbs);
  const scale = 1 / f1 / f2; // G = scale · Gs

  // Steps 2, 5 and 6 run in the float64 host kernels (wasm, or the identical JavaScript loops of
  // host-kernels/reference.ts).
  const stage = basisStage(data, D, n, f1, f2);
  try {
    return basisSteps(stage, n, energy, rtol, reorthogonalize, scale, precision);
  } finally {
    stage.release();
  }
}

function basisSteps(
  stage: BasisStage,
  n: number,
  energy: number,
  rtol: number,
  reorthogonalize: boolean,
  scale: number,
  precision: Precision,
): CoreResult {
  const empty: CoreResult = {
    basis: emptyBasis(precision),
    k: 0,
    singularValues: new Float64Array(0),
  };
  // 2. Gram of Gs in float64, upper triangle, four rows at a time.
  const C = stage.gram();

  // 3. Symmetric eigendecomposition, descending, cut-off.
  const evd = new EigenvalueDecomposition(Matrix.from1DArray(n, n, C), { assumeSymmetric: true });
  const lambdas = evd.realEigenvalues;
  const V = evd.eigenvectorMatrix;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => (lambdas[j] as number) - (lambdas[i] as number),
  );
  const lambdaMax = Math.max(0, lambdas[order[0] as number] as number);
  if (!(lambdaMax > 0)) return empty;
  const cutoff = rtol * lambdaMax;
  const kept: number[] = [];
  for (const i of order) {
    const l = lambdas[i] as number;
    if (l > cutoff && l > 0) kept.push(i);
    else break;
  }
  const r = kept.length;
  const sigmaScaled = new Float64Array(r);
  for (let j = 0; j < r; j++) sigmaScaled[j] = Math.sqrt(lambdas[kept[j] as number] as number);
  const singularValues = sigmaScaled.map((s) => s * scale);

  // 4. Energy rank.
  let k = energyRank(sigmaScaled, energy);
  if (k === 0) return { basis: emptyBasis(precision), k: 0, singularValues };

  // 5. U = Gs V_k Σ_k^{-1}, column-major; Wt holds the columns of V_k Σ_k^{-1} contiguously.
  const Wt = new Float64Array(k * n);
  for (let j = 0; j < k; j++) {
    const col = kept[j] as number;
    const inv = 1 / (sigmaScaled[j] as number);
    for (let a = 0; a < n; a++) Wt[j * n + a] = V.get(a, col) * inv;
  }
  stage.columns(Wt, k);

  // 6. Modified Gram–Schmidt in float64 ("twice is enough" for columns that lose > half their norm).
  if (reorthogonalize) k = stage.mgs();
  const basis = precision === 'float32' ? stage.rowMajorF32(k) : stage.rowMajorF64(k);
  return { basis, k, singularValues };
}

function emptyBasis(precision: Precision): Float64Array | Float32Array {
  return precision === 'float32' ? new Float32Array(0) : new Float64Array(0);
}

function resolveOptions(options: BasisF64Options): {
  energy: number;
  rtol: number;
  reorthogonalize: boolean;
} {
  const energy = options.energy ?? 1;
  const rtol = options.rtol ?? DEFAULT_RTOL;
  checkEnergy(energy);
  checkRtol(rtol);
  const reorthogonalize = options.reorthogonalize ?? true;
  return { energy, rtol, reorthogonalize };
}

/**
 * The float64 core of {@link orthonormalBasis}, on plain arrays: an orthonormal basis of the
 * columns of `G` (D×n, row-major) holding the fraction `energy` of ‖G‖²_F, computed through the
 * float64 Gram matrix (see the module notes for the algorithm, costs and tolerances).
 *
 * Returns `k = 0` (an empty basis, never NaN) when G is all zeros, `n = 0`, `D = 0` or `energy = 0`.
 * Throws {@link ShapeError} if `data.length ≠ D·n`, {@link ConfigError} for a bad option or a
 * non-finite entry of G (naming its row and column).
 *
 * @param data - G, `D × n` row-major (entry (i, j) at `i * n + j`), float32 or float64. Not modified.
 * @param D - Number of rows (vector length).
 * @param n - Number of columns (vectors).
 * @param options - `energy` (default 1), `rtol` (default {@link DEFAULT_RTOL}), `reorthogonalize`
 *   (default true).
 * @returns The `D × k` basis (row-major float64), `k`, and the kept singular values of G.
 *
 * @example
 * ```ts
 * const g = grads.dataSync() as Float32Array;               // grads: [D, n]
 * const { basis, k, singularValues } = orthonormalBasisF64(g, D, n, { energy: 0.99 });
 * ```
 */
export function orthonormalBasisF64(
  data: Float32Array | Float64Array,
  D: number,
  n: number,
  options: BasisF64Options = {},
): BasisF64Result {
  checkDim('D', D);
  checkDim('n', n);
  if (data.length !== D * n) {
    throw new ShapeError(
      `orthonormalBasisF64: data has length ${data.length}, expected D·n = ${D}·${n} = ${D * n}`,
      { expected: [D, n], actual: [data.length] },
    );
  }
  const o = resolveOptions(options);
  const core = basisCore(data, D, n, o.energy, o.rtol, o.reorthogonalize, 'float64');
  return { basis: core.basis as Float64Array, D, k: core.k, singularValues: core.singularValues };
}

function readMatrix(fn: string, name: string, G: Tensor): Data {
  if (G.rank !== 2) {
    throw new ShapeError(`${fn}: ${name} must be 2-D [D, n], got shape ${shapeString(G.shape)}`, {
      actual: G.shape,
    });
  }
  const values = G.dataSync();
  if (values instanceof Float32Array) return values;
  if (values instanceof Int32Array || values instanceof Uint8Array)
    return Float64Array.from(values);
  throw new ConfigError(`${name}.dtype`, G.dtype, `${fn}: expected a numeric tensor`);
}

/**
 * An orthonormal basis of the directions holding the fraction `energy` of ‖G‖²_F: the leading left
 * singular vectors of G, computed through the n×n Gram matrix in float64 (see the module notes).
 *
 * `k = energyRank(σ, energy)` over the singular values above the `rtol` cut-off. `k = 0` (G all
 * zeros, `n = 0` or `energy = 0`) gives a `[D, 0]` tensor, never NaN. The basis of `αG` spans the
 * same subspace as that of `G` for every `α ≠ 0` (the cut-off is relative). The result is stored in
 * float32, so `‖BᵀB − I‖` is ~1e-7 rather than ~1e-15.
 *
 * @param G - `Tensor2D` of shape `[D, n]`: one vector per column (e.g. per-example gradients).
 * @param options - `energy` in [0, 1] (default 1) and `rtol ≥ 0` (default {@link DEFAULT_RTOL});
 *   invalid values throw {@link ConfigError}.
 * @returns `Tensor2D` of shape `[D, k]` with orthonormal columns, owned by the caller.
 *
 * @example
 * ```ts
 * const G = tf.stack(perExampleGrads, 1) as Tensor2D;     // [D, n]
 * const B = orthonormalBasis(G, { energy: 0.97 });        // [D, k]
 * const g2 = projectOut(g, B);                             // g with the span of B removed
 * ```
 */
export function orthonormalBasis(G: Tensor2D, options: BasisOptions = {}): Tensor2D {
  const o = resolveOptions(options);
  const data = readMatrix('orthonormalBasis', 'G', G);
  const [D, n] = G.shape;
  const core = basisCore(data, D, n, o.energy, o.rtol, true, 'float32');
  return tf.tensor2d(core.basis as Float32Array, [D, core.k], 'float32');
}

/**
 * An orthonormal basis of the whole (numerical) column span of `G`: {@link orthonormalBasis} with
 * `energy = 1`.
 *
 * @param G - `Tensor2D` of shape `[D, n]`.
 * @param options - `rtol` (default {@link DEFAULT_RTOL}).
 * @returns `Tensor2D` of shape `[D, r]`, `r` the numerical rank of G.
 *
 * @example
 * ```ts
 * const B = orthonormalize(tf.tensor2d([[1, 1], [0, 1], [0, 0]]));  // [3, 2]
 * ```
 */
export function orthonormalize(G: Tensor2D, options: { readonly rtol?: number } = {}): Tensor2D {
  return orthonormalBasis(
    G,
    options.rtol === undefined ? { energy: 1 } : { energy: 1, rtol: options.rtol },
  );
}

/**
 * An orthonormal basis of the sum of subspaces: `orth([B₁, B₂, …])` (the span of all columns of all
 * bases). Directions shared by several bases appear once. The inputs need not be orthonormal.
 *
 * @param bases - At least one `Tensor2D`, all of shape `[D, kᵢ]` with the same `D` (kᵢ may be 0).
 * @param options - `rtol` (default {@link DEFAULT_RTOL}).
 * @returns `Tensor2D` of shape `[D, k]`, `k ≤ Σ kᵢ`.
 *
 * @example
 * ```ts
 * const B = unionBasis([basisTaskA, basisTaskB]);  // B Bᵀ basisTaskA ≈ basisTaskA
 * ```
 */
export function unionBasis(
  bases: readonly Tensor2D[],
  options: { readonly rtol?: number } = {},
): Tensor2D {
  const asUnknown: unknown = bases;
  if (!Array.isArray(asUnknown) || asUnknown.length === 0) {
    throw new ConfigError(
      'bases',
      Array.isArray(asUnknown) ? 'empty array' : typeof asUnknown,
      'unionBasis needs at least one basis',
    );
  }
  const first = bases[0] as Tensor2D;
  bases.forEach((B, i) => {
    if (B.rank !== 2 || B.shape[0] !== first.shape[0]) {
      throw new ShapeError(
        `unionBasis: bases[${i}] has shape ${shapeString(B.shape)}, expected [${first.shape[0]}, k]`,
        { expected: [first.shape[0], -1], actual: B.shape },
      );
    }
  });
  const cat = bases.length === 1 ? first : tf.concat<Tensor2D>([...bases], 1);
  try {
    return orthonormalize(cat, options);
  } finally {
    if (cat !== first) cat.dispose();
  }
}

function checkProjection(fn: string, v: Tensor, B: Tensor): void {
  if (v.rank !== 1 || B.rank !== 2 || B.shape[0] !== v.shape[0]) {
    throw new ShapeError(
      `${fn}: v must be [D] and B [D, k]; got v ${shapeString(v.shape)} and B ${shapeString(B.shape)}`,
      { expected: [B.shape[0] ?? -1], actual: v.shape },
    );
  }
}

/**
 * The component of `v` orthogonal to the span of `B`: `v − B(Bᵀv)`, for `B` with orthonormal
 * columns. Costs two matrix–vector products; no D×D matrix is formed. `k = 0` returns a copy of `v`.
 *
 * @param v - `Tensor1D` of shape `[D]`.
 * @param B - `Tensor2D` of shape `[D, k]`, orthonormal columns (not checked).
 * @returns `Tensor1D` of shape `[D]`, owned by the caller.
 *
 * @example
 * ```ts
 * const B = orthonormalBasis(retainGrads, { energy: 0.99 });
 * const safe = projectOut(forgetGrad, B);   // does not move the retained directions
 * ```
 */
export function projectOut(v: Tensor1D, B: Tensor2D): Tensor1D {
  checkProjection('projectOut', v, B);
  if (B.shape[1] === 0) return tf.clone(v);
  return tf.tidy(() => tf.sub(v, projectOntoUnchecked(v, B)));
}

/**
 * The orthogonal projection of `v` onto the span of `B`: `B(Bᵀv)`, for `B` with orthonormal columns.
 * `k = 0` returns zeros.
 *
 * @param v - `Tensor1D` of shape `[D]`.
 * @param B - `Tensor2D` of shape `[D, k]`, orthonormal columns (not checked).
 * @returns `Tensor1D` of shape `[D]`, owned by the caller.
 *
 * @example
 * ```ts
 * const inSpan = projectOnto(g, B);
 * ```
 */
export function projectOnto(v: Tensor1D, B: Tensor2D): Tensor1D {
  checkProjection('projectOnto', v, B);
  if (B.shape[1] === 0) return tf.zeros<Rank.R1>(v.shape, 'float32');
  return tf.tidy(() => projectOntoUnchecked(v, B));
}

function projectOntoUnchecked(v: Tensor1D, B: Tensor2D): Tensor1D {
  const D = v.shape[0];
  const c = tf.matMul(B, tf.reshape(v, [D, 1]), true, false); // [k, 1]
  return tf.reshape<Rank.R1>(tf.matMul(B, c), [D]);
}

/**
 * The largest absolute entry of `BᵀB − I` (computed in float64 from B's data): 0 for a perfectly
 * orthonormal basis; ~1e-7 is float32 rounding. A diagnostic for checks and tests.
 *
 * @param B - `Tensor2D` of shape `[D, k]`.
 * @returns `max |BᵀB − I|` (0 for k = 0).
 *
 * @example
 * ```ts
 * if (orthonormalityError(B) > 1e-5) throw new Error('basis is not orthonormal');
 * ```
 */
export function orthonormalityError(B: Tensor2D): number {
  const data = readMatrix('orthonormalityError', 'B', B);
  const [D, k] = B.shape;
  return orthonormalityErrorF64(data, D, k);
}

/**
 * {@link orthonormalityError} on plain row-major data of a `D × k` matrix.
 *
 * @param data - `D × k`, row-major.
 * @param D - Rows.
 * @param k - Columns.
 * @returns `max |BᵀB − I|`.
 *
 * @example
 * ```ts
 * const { basis, D, k } = orthonormalBasisF64(g, D0, n);
 * orthonormalityErrorF64(basis, D, k); // ~1e-15
 * ```
 */
export function orthonormalityErrorF64(
  data: Float32Array | Float64Array,
  D: number,
  k: number,
): number {
  checkDim('D', D);
  checkDim('k', k);
  if (data.length !== D * k) {
    throw new ShapeError(
      `orthonormalityErrorF64: data has length ${data.length}, expected ${D}·${k}`,
      {
        expected: [D, k],
        actual: [data.length],
      },
    );
  }
  const C = new Float64Array(k * k);
  for (let i = 0; i < D; i++) {
    const r = i * k;
    for (let a = 0; a < k; a++) {
      const x = data[r + a] as number;
      for (let b = a; b < k; b++)
        C[a * k + b] = (C[a * k + b] as number) + x * (data[r + b] as number);
    }
  }
  let err = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      const e = Math.abs((C[a * k + b] as number) - (a === b ? 1 : 0));
      if (!(e <= err)) err = e; // NaN propagates
    }
  }
  return err;
}
