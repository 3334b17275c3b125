/**
 * Gradient checks that need no second backend as an oracle: finite differences, directional
 * derivatives, adjoint identities and comparisons with float64 references, all evaluated in
 * float64 from the float32 values the active backend computes.
 *
 * **Tolerances for float32.** With unit roundoff `u = 2⁻²⁴ ≈ 6.0e-8` ({@link FLOAT32_UNIT_ROUNDOFF}),
 * a float32 sum of `n` products has an error of at most about `n·u·Σ|terms|` (recursive summation;
 * blocked or pairwise summation, as in XNNPACK, does much better, and random rounding errors grow
 * like `√n·u`). So a kernel output is compared with its float64 reference relative to the
 * *magnitude* `Σ|terms|` of that output, not to its value (which may cancel to ~0): e.g.
 * `rtol = 2⁻¹⁶ ≈ 1.5e-5 = 256·u` covers the worst case for sums of up to 256 terms and typical
 * errors for far longer ones. Finite differences of a function evaluated in float32 lose
 * `≈ u·F / h` (F: magnitude of the function's value) to cancellation, so they need `h` not too small
 * and a tolerance relative to F; for functions that are linear in `x` the step can be large (even
 * `h = 1`), making the check as tight as the evaluation itself.
 *
 * Every helper disposes the tensors it creates; the caller keeps ownership of its arguments.
 *
 * @module
 */
import { createRng } from '../rng.js';
import { tf } from '../tf.js';

/** The unit roundoff of float32, `2⁻²⁴`: the largest relative error of one rounding. */
export const FLOAT32_UNIT_ROUNDOFF: number = 2 ** -24;

/** A scalar function of one tensor, evaluated on the active backend. */
export type ScalarFn = (x: tf.Tensor) => tf.Scalar;

/** Reads a tensor's values into a float64 array. */
function toFloat64(t: tf.Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/** Runs `fn` in a scope and returns its tensor's values as float64, disposing everything. */
function readFloat64(fn: () => tf.Tensor): Float64Array {
  const t = tf.tidy(fn);
  try {
    return toFloat64(t);
  } finally {
    t.dispose();
  }
}

/** `f(x)` as a float64 number; intermediates disposed. */
function evalScalar(f: ScalarFn, x: tf.Tensor): number {
  return tf.tidy(() => f(x).dataSync()[0] ?? Number.NaN);
}

/** Options of {@link finiteDifferenceGrad}. */
export interface FiniteDifferenceOptions {
  /** Step `h` added to and subtracted from each element. Default `1e-2`. */
  readonly h?: number;
}

/**
 * The gradient of a scalar function by central differences, one element at a time:
 * `g[i] = (f(x + h·eᵢ) − f(x − h·eᵢ)) / (x⁺ᵢ − x⁻ᵢ)`, where the denominator uses the float32
 * values actually perturbed (`x ± h` rounded), computed in float64. Costs `2·size` evaluations of
 * `f`: meant for small tensors (up to a few hundred elements).
 *
 * Shapes: `x` any shape and dtype float32; the result is a `Float64Array` of `x.size` in `x`'s
 * row-major order.
 *
 * @example
 * ```ts
 * const x = tf.tensor1d([1, 2, 3]);
 * const g = finiteDifferenceGrad((t) => t.square().sum() as tf.Scalar, x, { h: 1e-2 });
 * // g ≈ [2, 4, 6] (exact up to float32 rounding: the function is quadratic)
 * x.dispose();
 * ```
 */
export function finiteDifferenceGrad(
  f: ScalarFn,
  x: tf.Tensor,
  options: FiniteDifferenceOptions = {},
): Float64Array {
  const h = options.h ?? 1e-2;
  const base = Float32Array.from(x.dataSync());
  const grad = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) {
    const xi = base[i] ?? 0;
    const plus = Math.fround(xi + h);
    const minus = Math.fround(xi - h);
    const values = base.slice();
    values[i] = plus;
    const fPlus = evalWith(f, values, x.shape);
    values[i] = minus;
    const fMinus = evalWith(f, values, x.shape);
    grad[i] = (fPlus - fMinus) / (plus - minus);
  }
  return grad;
}

function evalWith(f: ScalarFn, values: Float32Array, shape: readonly number[]): number {
  return tf.tidy(() => evalScalar(f, tf.tensor(values, [...shape], 'float32')));
}

/** Options of {@link directionalDerivativeCheck}. */
export interface DirectionalDerivativeOptions {
  /** Step along the direction. Default `1e-2`. Use a large step (e.g. 1) for linear functions. */
  readonly h?: number;
  /** Direction `v` (same size as `x`); default: standard normal draws from `seed`. */
  readonly direction?: ArrayLike<number>;
  /** Seed of the random direction. Default 0. */
  readonly seed?: number;
  /** Relative tolerance (see {@link DirectionalDerivativeResult.ok}). Default `1e-3`. */
  readonly rtol?: number;
  /** Absolute tolerance. Default 0. */
  readonly atol?: number;
}

/** What {@link directionalDerivativeCheck} measured. */
export interface DirectionalDerivativeResult {
  /** `⟨∇f(x), δ⟩` from `tf.grad`, with `δ = x⁺ − x⁻` the float32 perturbation actually applied. */
  readonly analytic: number;
  /** `f(x⁺) − f(x⁻)`, both evaluated on the backend. */
  readonly numeric: number;
  /** `|numeric − analytic|`. */
  readonly error: number;
  /** `atol + rtol·max(|numeric|, |analytic|)`. */
  readonly bound: number;
  /** `error ≤ bound`. */
  readonly ok: boolean;
}

/**
 * Checks `tf.grad(f)` along one direction: compares the central difference
 * `f(x + h·v) − f(x − h·v)` with `⟨∇f(x), x⁺ − x⁻⟩` (both in float64; `x⁺ − x⁻ ≈ 2h·v` is the
 * perturbation after rounding to float32, so rounding of the inputs is not an error). For `f`
 * quadratic or linear in `x` the two agree up to float32 evaluation error whatever `h`;
 * otherwise the truncation error is `O(h³)` relative.
 *
 * Shapes: `x` any shape (float32); `direction`, when given, has `x.size` elements in row-major
 * order.
 *
 * @example
 * ```ts
 * const w = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 1);
 * const x = tf.randomNormal([2, 7, 5, 2], 0, 1, 'float32', 2);
 * const r = directionalDerivativeCheck(
 *   (t) => tf.conv2d(x as tf.Tensor4D, t as tf.Tensor4D, 2, 'same').square().sum() as tf.Scalar,
 *   w,
 *   { h: 1e-2, rtol: 1e-3 },
 * );
 * if (!r.ok) throw new Error(`directional derivative off by ${r.error} > ${r.bound}`);
 * ```
 */
export function directionalDerivativeCheck(
  f: ScalarFn,
  x: tf.Tensor,
  options: DirectionalDerivativeOptions = {},
): DirectionalDerivativeResult {
  const h = options.h ?? 1e-2;
  const rtol = options.rtol ?? 1e-3;
  const atol = options.atol ?? 0;
  const base = Float32Array.from(x.dataSync());
  const v = options.direction ?? randomDirection(base.length, options.seed ?? 0);
  if (v.length !== base.length) {
    throw new RangeError(`direction has ${v.length} elements, x has ${base.length}`);
  }
  const plus = new Float32Array(base.length);
  const minus = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    plus[i] = (base[i] ?? 0) + h * (v[i] ?? 0);
    minus[i] = (base[i] ?? 0) - h * (v[i] ?? 0);
  }
  const numeric = evalWith(f, plus, x.shape) - evalWith(f, minus, x.shape);
  const grad = readFloat64(() => tf.grad(f)(x));
  let analytic = 0;
  for (let i = 0; i < base.length; i++) {
    analytic += (grad[i] ?? 0) * ((plus[i] ?? 0) - (minus[i] ?? 0));
  }
  const error = Math.abs(numeric - analytic);
  const bound = atol + rtol * Math.max(Math.abs(numeric), Math.abs(analytic));
  return { analytic, numeric, error, bound, ok: error <= bound };
}

/** `n` standard normal draws from `seed`, as float64. */
function randomDirection(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: n }, () => rng.normal());
}

/** Options of {@link adjointCheck} and {@link vjpAdjointCheck}. */
export interface AdjointCheckOptions {
  /**
   * Tolerance relative to the magnitude `Σ|A(x)ᵢ·rᵢ| + Σ|xᵢ·A*(r)ᵢ|`. Default `2⁻¹⁶` (256 float32
   * roundoffs; see the module documentation).
   */
  readonly rtol?: number;
}

/** What {@link adjointCheck} measured. */
export interface AdjointCheckResult {
  /** `⟨A(x), r⟩` in float64. */
  readonly lhs: number;
  /** `⟨x, A*(r)⟩` in float64. */
  readonly rhs: number;
  /** `Σ|A(x)ᵢ·rᵢ| + Σ|xᵢ·A*(r)ᵢ|`: the scale rounding errors are relative to. */
  readonly magnitude: number;
  /** `|lhs − rhs|`. */
  readonly error: number;
  /** `rtol · magnitude`. */
  readonly bound: number;
  /** `error ≤ bound`. */
  readonly ok: boolean;
}

/**
 * Checks that `adjoint` is the adjoint (transpose) of the linear map `forward`:
 * `⟨forward(x), r⟩ = ⟨x, adjoint(r)⟩`, both sides accumulated in float64 from the float32 results.
 * A wrong gradient kernel (wrong index, weight, padding or stride handling) breaks the identity
 * for random `x` and `r` with overwhelming probability.
 *
 * Shapes: `forward` maps `x`'s shape to `r`'s shape, `adjoint` maps `r`'s shape to `x`'s shape.
 *
 * @example
 * ```ts
 * const x = tf.randomNormal([2, 7, 5, 3], 0, 1, 'float32', 1);
 * const r = tf.randomNormal([2, 14, 10, 3], 0, 1, 'float32', 2);
 * const res = adjointCheck(
 *   (t) => tf.image.resizeBilinear(t as tf.Tensor4D, [14, 10]),
 *   (s) => tf.engine().runKernel('ResizeBilinearGrad', { images: x, dy: s }, {
 *     alignCorners: false, halfPixelCenters: true, size: [14, 10] }) as tf.Tensor,
 *   x,
 *   r,
 * );
 * ```
 */
export function adjointCheck(
  forward: (x: tf.Tensor) => tf.Tensor,
  adjoint: (r: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  r: tf.Tensor,
  options: AdjointCheckOptions = {},
): AdjointCheckResult {
  const rtol = options.rtol ?? 2 ** -16;
  const fx = readFloat64(() => forward(x));
  const ar = readFloat64(() => adjoint(r));
  const xs = toFloat64(x);
  const rs = toFloat64(r);
  if (fx.length !== rs.length || ar.length !== xs.length) {
    throw new RangeError(
      `adjointCheck: forward gives ${fx.length} values for r's ${rs.length}, adjoint gives ${ar.length} for x's ${xs.length}`,
    );
  }
  let lhs = 0;
  let rhs = 0;
  let magnitude = 0;
  for (let i = 0; i < fx.length; i++) {
    const t = (fx[i] ?? 0) * (rs[i] ?? 0);
    lhs += t;
    magnitude += Math.abs(t);
  }
  for (let i = 0; i < xs.length; i++) {
    const t = (xs[i] ?? 0) * (ar[i] ?? 0);
    rhs += t;
    magnitude += Math.abs(t);
  }
  const error = Math.abs(lhs - rhs);
  const bound = rtol * magnitude;
  return { lhs, rhs, magnitude, error, bound, ok: error <= bound };
}

/**
 * {@link adjointCheck} of a map that is linear in `x`, against its vector–Jacobian product from
 * `tf.grad`: `Σ f(x)·r = Σ x·∇ₓ⟨f(x), r⟩`. This checks the registered gradient kernels of every
 * op inside `f`. `r` defaults to standard normal draws (seed `seed`, default 0).
 *
 * @example
 * ```ts
 * const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 1);
 * const x = tf.randomNormal([2, 7, 5, 3], 0, 1, 'float32', 2);
 * const res = vjpAdjointCheck((t) => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'), x);
 * console.log(res.ok, res.error / res.magnitude);
 * ```
 */
export function vjpAdjointCheck(
  f: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  options: AdjointCheckOptions & { readonly r?: tf.Tensor; readonly seed?: number } = {},
): AdjointCheckResult {
  const outShape = tf.tidy(() => f(x).shape);
  const r =
    options.r ??
    tf.tensor(
      Float32Array.from(
        randomDirection(
          outShape.reduce((a, b) => a * b, 1),
          options.seed ?? 0,
        ),
      ),
      outShape,
    );
  try {
    return adjointCheck(
      f,
      (rr) => tf.grad((t: tf.Tensor) => f(t).mul(rr).sum())(x),
      x,
      r,
      options.rtol === undefined ? {} : { rtol: options.rtol },
    );
  } finally {
    if (options.r === undefined) r.dispose();
  }
}

/** Options of {@link compareToReference}. */
export interface ReferenceComparisonOptions {
  /**
   * Per-element magnitude the error is relative to, typically `Σ|terms|` of the float64 reference
   * (see the module documentation). Default: `|expected[i]|`.
   */
  readonly magnitude?: ArrayLike<number>;
  /** Relative tolerance. */
  readonly rtol: number;
  /** Absolute tolerance added to every element's bound. Default 0. */
  readonly atol?: number;
}

/** What {@link compareToReference} measured. */
export interface ReferenceComparison {
  /** Every element within its bound. */
  readonly ok: boolean;
  /** Largest `|actual − expected|`. */
  readonly maxError: number;
  /** Largest `|actual − expected| / bound` (≤ 1 when ok). */
  readonly worstRatio: number;
  /** Index of the element with the largest ratio (−1 when there are none). */
  readonly worstIndex: number;
  /** A one-line summary naming the worst element. */
  readonly message: string;
}

/**
 * Compares float32 results with a float64 reference element by element:
 * `|actual[i] − expected[i]| ≤ atol + rtol · magnitude[i]`. Non-finite values must match exactly.
 *
 * @example
 * ```ts
 * const cmp = compareToReference(dx.dataSync(), refDx, { magnitude: refMagnitude, rtol: 2 ** -16 });
 * if (!cmp.ok) throw new Error(cmp.message);
 * ```
 */
export function compareToReference(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  options: ReferenceComparisonOptions,
): ReferenceComparison {
  if (actual.length !== expected.length) {
    return {
      ok: false,
      maxError: Number.POSITIVE_INFINITY,
      worstRatio: Number.POSITIVE_INFINITY,
      worstIndex: -1,
      message: `length ${actual.length} differs from the reference's ${expected.length}`,
    };
  }
  const atol = options.atol ?? 0;
  let maxError = 0;
  let worstRatio = 0;
  let worstIndex = -1;
  let ok = true;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? Number.NaN;
    const e = expected[i] ?? Number.NaN;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) {
        ok = false;
        worstRatio = Number.POSITIVE_INFINITY;
        worstIndex = i;
      }
      continue;
    }
    const error = Math.abs(a - e);
    const bound = atol + options.rtol * (options.magnitude?.[i] ?? Math.abs(e));
    const ratio = error === 0 ? 0 : error / bound;
    maxError = Math.max(maxError, error);
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worstIndex = i;
    }
    if (!(error <= bound)) ok = false;
  }
  const message =
    worstIndex < 0
      ? `all ${actual.length} elements exact`
      : `worst element ${worstIndex}: actual ${actual[worstIndex]}, expected ${expected[worstIndex]}, ` +
        `error/bound ${worstRatio.toPrecision(3)} (max abs error ${maxError.toPrecision(3)})`;
  return { ok, maxError, worstRatio, worstIndex, message };
}
