/**
 * Float64 host kernels: the inner loops of the Gram-route bases (`linalg.ts`) and of the
 * constraint products of `@mtu/orthogonalization`, on plain typed arrays.
 *
 * Each kernel runs in MTU's own wasm SIMD module (`assembly/f64.ts`, f64x2, its own memory, loaded
 * lazily and synchronously on first use; independent of tfjs and its backends) and falls back to
 * the JavaScript loops of `./reference.ts` where WebAssembly is unavailable. The two are
 * **bit-identical**: for every output entry the wasm code performs the same float64 operations in
 * the same order and parenthesization as the reference (wasm and V8 both do IEEE double
 * arithmetic without FMA contraction); SIMD lanes only hold independent entries or independent
 * partial sums. So the choice never changes a result, only the time.
 *
 * @module
 */
import { ConfigError, ShapeError } from '../errors.js';
import {
  basisStageJs,
  combineJs,
  gramProductsJs,
  residualProductsJs,
  type BasisStage,
  type Combination,
  type GramProducts,
  type RowMajor,
} from './reference.js';
import {
  basisStageWasm,
  combineWasm,
  gramProductsWasm,
  releaseWasmInstance,
  residualProductsWasm,
  wasmAvailable,
} from './wasm.js';

export type { Combination, GramProducts, RowMajor } from './reference.js';

/** Which implementation runs the float64 host kernels: see {@link setHostKernels}. */
export type HostKernels = 'wasm' | 'js';

let preferWasm = true;

/**
 * Chooses the implementation of the float64 host kernels ({@link gramProductsF64},
 * {@link residualProductsF64}, {@link combineF64} and the inner loops of `orthonormalBasis` and
 * friends) and returns the previous choice:
 *
 * - `'wasm'` (the default): MTU's wasm SIMD module, where WebAssembly is available (else the
 *   JavaScript loops);
 * - `'js'`: the JavaScript reference loops.
 *
 * Results are bit-identical either way; `'js'` exists for comparisons and benchmarks.
 *
 * @param kind - `'wasm'` or `'js'`.
 * @returns The previous choice.
 *
 * @example
 * ```ts
 * const before = setHostKernels('js');
 * const reference = orthonormalBasisF64(g, D, n);
 * setHostKernels(before);
 * ```
 */
export function setHostKernels(kind: HostKernels): HostKernels {
  if (kind !== 'wasm' && kind !== 'js') {
    throw new ConfigError('hostKernels', String(kind), "expected 'wasm' or 'js'");
  }
  const before: HostKernels = preferWasm ? 'wasm' : 'js';
  preferWasm = kind === 'wasm';
  return before;
}

/**
 * The implementation the float64 host kernels use now: `'wasm'` when chosen (the default) and
 * available (this instantiates the module on first call), else `'js'`.
 *
 * @returns `'wasm'` or `'js'`.
 *
 * @example
 * ```ts
 * hostKernels(); // 'wasm' in Node ≥ 16.4 (wasm SIMD)
 * ```
 */
export function hostKernels(): HostKernels {
  return preferWasm && wasmAvailable() ? 'wasm' : 'js';
}

/**
 * Frees the memory the wasm host kernels keep between calls (up to 256 MiB: the largest problem
 * so far, e.g. ≈ 137 MB after a basis of 64 columns of 106824 entries). Later calls instantiate
 * the module again (about a millisecond). `shutdownBackend` calls it.
 *
 * @example
 * ```ts
 * const B = unionBasis([U1, U2]); // the kernels' memory grows to the problem
 * releaseHostKernels();           // and is given back
 * ```
 */
export function releaseHostKernels(): void {
  releaseWasmInstance();
}

function checkDims(fn: string, D: number, M: number): void {
  for (const [name, value] of [
    ['D', D],
    ['M', M],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError(name, value, `${fn}: must be a non-negative integer`);
    }
  }
}

function checkLength(fn: string, name: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new ShapeError(`${fn}: ${name} has length ${actual}, expected ${expected}`, {
      expected: [expected],
      actual: [actual],
    });
  }
}

/**
 * `G = CᵀC`, `b = Cᵀg` and `‖g‖²` in float64 from float32 or float64 data. Products of float32
 * numbers are exact in float64, so the only rounding is the float64 summation: four rows of C at
 * a time, per entry `G ← G + ((x₀y₀ + x₁y₁) + (x₂y₂ + x₃y₃))` (the same for `b` and `‖g‖²`).
 * Non-finite inputs give non-finite entries (the caller checks).
 *
 * @param C - `D × M`, row-major (entry (i, j) at `i * M + j`), float32 or float64. Not modified.
 * @param g - Length `D`, float32 or float64. Not modified.
 * @param D - Rows.
 * @param M - Columns.
 * @returns `G` (`M × M` row-major, exactly symmetric), `b` (length M) and `gg`.
 * @throws {@link ShapeError} when `C.length ≠ D·M` or `g.length ≠ D`.
 *
 * @example
 * ```ts
 * const C = constraints.dataSync() as Float32Array; // [D, M]
 * const g = grad.dataSync() as Float32Array;        // [D]
 * const { G, b, gg } = gramProductsF64(C, g, D, M); // G[a * M + c] = ⟨c_a, c_c⟩, b[a] = ⟨c_a, g⟩
 * ```
 */
export function gramProductsF64(C: RowMajor, g: RowMajor, D: number, M: number): GramProducts {
  checkDims('gramProductsF64', D, M);
  checkLength('gramProductsF64', 'C', C.length, D * M);
  checkLength('gramProductsF64', 'g', g.length, D);
  return (preferWasm ? gramProductsWasm(C, g, D, M) : undefined) ?? gramProductsJs(C, g, D, M);
}

/**
 * `Cᵀ(g − C a)` in float64, in one pass over the rows (no D-length temporary): per row
 * `r ← gᵢ; r ← r − Cᵢⱼaⱼ` (j ascending), then `out[j] ← out[j] + Cᵢⱼ·r` (rows ascending).
 *
 * @param C - `D × M`, row-major, float32 or float64.
 * @param g - Length `D`.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients, length `M`.
 * @returns Length `M`.
 * @throws {@link ShapeError} on mismatched lengths.
 *
 * @example
 * ```ts
 * const w = residualProductsF64(C, g, D, M, a); // w[j] = ⟨c_j, g − C a⟩
 * ```
 */
export function residualProductsF64(
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Float64Array {
  checkDims('residualProductsF64', D, M);
  checkLength('residualProductsF64', 'C', C.length, D * M);
  checkLength('residualProductsF64', 'g', g.length, D);
  checkLength('residualProductsF64', 'a', a.length, M);
  return (
    (preferWasm ? residualProductsWasm(C, g, D, M, a) : undefined) ??
    residualProductsJs(C, g, D, M, a)
  );
}

/**
 * `u = g − C a` in float64 over the non-zero coefficients (j ascending), rounded once to float32,
 * and `‖u‖²` of the rounded values (float64, rows ascending).
 *
 * @param g - Length `D`, float32 or float64.
 * @param C - `D × M`, row-major.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients, length `M`.
 * @returns `u` (Float32Array of length D) and `uu = ‖u‖²`.
 * @throws {@link ShapeError} on mismatched lengths.
 *
 * @example
 * ```ts
 * const { u, uu } = combineF64(g, C, D, M, a); // u = fround(g − C a)
 * ```
 */
export function combineF64(
  g: RowMajor,
  C: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Combination {
  checkDims('combineF64', D, M);
  checkLength('combineF64', 'C', C.length, D * M);
  checkLength('combineF64', 'g', g.length, D);
  checkLength('combineF64', 'a', a.length, M);
  return (preferWasm ? combineWasm(g, C, D, M, a) : undefined) ?? combineJs(g, C, D, M, a);
}

/**
 * Steps 2, 5 and 6 of the Gram-route basis for `linalg.ts` (internal): in wasm where chosen and
 * available, else the reference loops.
 *
 * @param data - G, `D × n` row-major.
 * @param D - Rows.
 * @param n - Columns.
 * @param f1 - First power-of-two factor.
 * @param f2 - Second power-of-two factor.
 * @returns The stage.
 */
export function basisStage(
  data: RowMajor,
  D: number,
  n: number,
  f1: number,
  f2: number,
): BasisStage {
  return (
    (preferWasm ? basisStageWasm(data, D, n, f1, f2) : undefined) ??
    basisStageJs(data, D, n, f1, f2)
  );
}
