// The float64 host kernels: the wasm module against the JavaScript reference loops, for exact
// (bit-for-bit) equality of every output value, on awkward sizes and values; negative controls
// showing that the comparison catches a changed summation order; the module's shape; fallback.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { initBackend } from '../backend.js';
import { ConfigError, ShapeError } from '../errors.js';
import { orthonormalBasis, orthonormalBasisF64, orthonormalize, unionBasis } from '../linalg.js';
import { createRng, type Rng } from '../rng.js';
import { tf } from '../tf.js';
import { F64_WASM } from '../kernels/f64-wasm.js';
import {
  combineF64,
  gramProductsF64,
  hostKernels,
  releaseHostKernels,
  residualProductsF64,
  setHostKernels,
} from './index.js';
import {
  basisColumnsJs,
  basisGramJs,
  basisStageJs,
  combineJs,
  gramProductsJs,
  mgsJs,
  residualProductsJs,
  type RowMajor,
} from './reference.js';
import {
  basisStageWasm,
  combineWasm,
  gramProductsWasm,
  mgsWasm,
  residualProductsWasm,
  setRetainedBytes,
  wasmMemoryBytes,
} from './wasm.js';
import { sectionIds } from '../kernels/__fixtures__/wasm-sections.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Index of the first value that differs (`Object.is`: −0 ≠ +0, NaN = NaN), or −1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function defined<T>(x: T | undefined): T {
  if (x === undefined) throw new Error('the wasm kernels did not run');
  return x;
}

type Kind = 'normal' | 'spread' | 'zeros' | 'tiny' | 'huge';
const KINDS: readonly Kind[] = ['normal', 'spread', 'zeros', 'tiny', 'huge'];

/**
 * Values of a kind: normal; normal scaled by 2^[−30, 30) per entry; 40% signed zeros; subnormal
 * range of the element type (products underflow); and, in float64, magnitudes whose squares
 * overflow (so sums reach ±∞ and NaN).
 */
function fill<T extends RowMajor>(arr: T, kind: Kind, rng: Rng): T {
  const f64 = arr instanceof Float64Array;
  for (let i = 0; i < arr.length; i++) {
    let v = rng.normal();
    if (kind === 'spread') v *= 2 ** rng.int(-30, 30);
    else if (kind === 'zeros' && rng.uniform() < 0.4) v = rng.uniform() < 0.5 ? 0 : -0;
    else if (kind === 'tiny') v *= f64 ? 2 ** -1040 : 2 ** -130;
    else if (kind === 'huge') v *= f64 ? 2 ** 520 : 2 ** 120;
    arr[i] = v;
  }
  return arr;
}

function make(f64: boolean, n: number): RowMajor {
  return f64 ? new Float64Array(n) : new Float32Array(n);
}

/** Coefficients with zeros of both signs among them. */
function coefficients(rng: Rng, M: number): Float64Array {
  return Float64Array.from({ length: M }, () => {
    const u = rng.uniform();
    return u < 0.15 ? 0 : u < 0.25 ? -0 : rng.normal() * 2 ** rng.int(-4, 4);
  });
}

/** The exact power-of-two factors of linalg.ts' step 1. */
function scaleFactors(data: RowMajor): [number, number] {
  let maxAbs = 0;
  for (const x of data) maxAbs = Math.max(maxAbs, Math.abs(x));
  if (maxAbs === 0 || !Number.isFinite(maxAbs)) return [1, 1];
  const e = Math.floor(Math.log2(maxAbs));
  const a = Math.trunc(-e / 2);
  return [2 ** a, 2 ** (-e - a)];
}

const DS = [0, 1, 2, 3, 5, 7, 8, 9, 17, 33, 257, 1001] as const;
const MS = [0, 1, 2, 3, 5, 24, 64] as const;
const DTYPES = [
  [false, false],
  [true, true],
  [false, true],
  [true, false],
] as const;

afterEach(() => {
  setHostKernels('wasm');
});

// ---------------------------------------------------------------------------------------------

describe('the embedded float64 wasm module', () => {
  it('imports nothing, exports its memory, and holds no data, globals or start function', () => {
    const bytes = Uint8Array.from(Buffer.from(F64_WASM, 'base64'));
    const ids = sectionIds(bytes);
    // 2 import, 6 global, 8 start, 11 data, 12 data count; 5 memory, 7 export
    for (const forbidden of [2, 6, 8, 11, 12]) expect(ids).not.toContain(forbidden);
    expect(ids).toContain(5);
    const wasm = (globalThis as unknown as { WebAssembly: WasmStatic }).WebAssembly;
    const module = new wasm.Module(bytes);
    expect(wasm.Module.imports(module)).toEqual([]);
    expect(wasm.Module.exports(module)).toContainEqual({ name: 'memory', kind: 'memory' });
  });

  it('is up to date with assembly/f64.ts', () => {
    const script = fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url));
    expect(readFileSync(script, 'utf8')).toContain("source: 'f64.ts'");
    // Exits non-zero (and so throws) when the embedded module differs from a fresh compile.
    execFileSync(process.execPath, [script, '--check', '--only=f64.ts'], { stdio: 'pipe' });
  }, 60_000);
});

interface WasmStatic {
  readonly Module: {
    new (bytes: Uint8Array): object;
    imports(m: object): unknown[];
    exports(m: object): { name: string; kind: string }[];
  };
}

describe('gramProducts, residualProducts and combine: wasm = JavaScript, bit for bit', () => {
  it('on every size, value kind and float32/float64 mix', () => {
    const rng = createRng(101);
    let cases = 0;
    for (const D of DS) {
      for (const M of MS) {
        for (const kind of KINDS) {
          for (const [cF64, gF64] of DTYPES) {
            if (D > 100 && (M > 24 || kind === 'huge')) continue;
            const C = fill(make(cF64, D * M), kind, rng);
            const g = fill(make(gF64, D), kind, rng);
            const a = coefficients(rng, M);
            const where = `D=${D} M=${M} ${kind} C:${cF64 ? 64 : 32} g:${gF64 ? 64 : 32}`;

            const ref = gramProductsJs(C, g, D, M);
            const got = defined(gramProductsWasm(C, g, D, M));
            expect(firstDiff(got.G, ref.G), `G ${where}`).toBe(-1);
            expect(firstDiff(got.b, ref.b), `b ${where}`).toBe(-1);
            expect(Object.is(got.gg, ref.gg), `gg ${where}`).toBe(true);

            const r = defined(residualProductsWasm(C, g, D, M, a));
            expect(firstDiff(r, residualProductsJs(C, g, D, M, a)), `residual ${where}`).toBe(-1);

            const u = defined(combineWasm(g, C, D, M, a));
            const uRef = combineJs(g, C, D, M, a);
            expect(firstDiff(u.u, uRef.u), `u ${where}`).toBe(-1);
            expect(Object.is(u.uu, uRef.uu), `uu ${where}`).toBe(true);
            cases++;
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(1000);
  });

  it('at the size of an unlearning step (D = 106824, M = 24)', () => {
    const rng = createRng(102);
    const D = 106824;
    const M = 24;
    const C = fill(new Float32Array(D * M), 'normal', rng);
    const g = fill(new Float32Array(D), 'normal', rng);
    const a = coefficients(rng, M);
    const ref = gramProductsJs(C, g, D, M);
    const got = defined(gramProductsWasm(C, g, D, M));
    expect(firstDiff(got.G, ref.G)).toBe(-1);
    expect(firstDiff(got.b, ref.b)).toBe(-1);
    expect(got.gg).toBe(ref.gg);
    expect(
      firstDiff(defined(residualProductsWasm(C, g, D, M, a)), residualProductsJs(C, g, D, M, a)),
    ).toBe(-1);
    const u = defined(combineWasm(g, C, D, M, a));
    const uRef = combineJs(g, C, D, M, a);
    expect(firstDiff(u.u, uRef.u)).toBe(-1);
    expect(u.uu).toBe(uRef.uu);
  });

  it('with every coefficient zero, and with special values in C and g', () => {
    const rng = createRng(103);
    const D = 13;
    const M = 5;
    const C = fill(new Float32Array(D * M), 'normal', rng);
    const g = fill(new Float32Array(D), 'normal', rng);
    C[7] = Infinity;
    C[20] = NaN;
    g[3] = -Infinity;
    C[31] = -0;
    g[9] = -0;
    for (const a of [
      new Float64Array(M),
      Float64Array.from([-0, 0, -0, 0, -0]),
      coefficients(rng, M),
    ]) {
      expect(
        firstDiff(defined(residualProductsWasm(C, g, D, M, a)), residualProductsJs(C, g, D, M, a)),
      ).toBe(-1);
      const u = defined(combineWasm(g, C, D, M, a));
      const uRef = combineJs(g, C, D, M, a);
      expect(firstDiff(u.u, uRef.u)).toBe(-1);
      expect(Object.is(u.uu, uRef.uu)).toBe(true);
    }
    const ref = gramProductsJs(C, g, D, M);
    const got = defined(gramProductsWasm(C, g, D, M));
    expect(firstDiff(got.G, ref.G)).toBe(-1);
    expect(firstDiff(got.b, ref.b)).toBe(-1);
    expect(Object.is(got.gg, ref.gg)).toBe(true);
  });
});

describe('the basis steps (Gram, U = Gs·W, Gram–Schmidt, row-major output): wasm = JavaScript', () => {
  it('on every size, value kind, k (with dependent columns) and float32/float64', () => {
    const rng = createRng(201);
    let cases = 0;
    let dropped = 0;
    for (const D of [1, 2, 3, 5, 7, 9, 100, 1001]) {
      for (const n of [1, 2, 3, 5, 24, 64]) {
        for (const kind of ['normal', 'spread', 'zeros', 'tiny'] as const) {
          for (const f64 of [false, true]) {
            if (D === 1001 && n === 64 && kind !== 'normal') continue;
            const data = fill(make(f64, D * n), kind, rng);
            const [f1, f2] = scaleFactors(data);
            const js = basisStageJs(data, D, n, f1, f2);
            const wasm = defined(basisStageWasm(data, D, n, f1, f2));
            const where = `D=${D} n=${n} ${kind} ${f64 ? 'f64' : 'f32'}`;
            expect(firstDiff(wasm.gram(), js.gram()), `gram ${where}`).toBe(-1);
            for (const [k, repeat] of [
              [1, false],
              [Math.min(2, n), false],
              [n, false],
              [n, true],
            ] as const) {
              // With `repeat`, the second half of W's columns repeats the first: U has dependent
              // columns, which Gram–Schmidt drops or projects twice.
              const Wt = fill(new Float64Array(k * n), 'normal', rng);
              const half = Math.ceil(k / 2);
              if (repeat)
                for (let j = half; j < k; j++)
                  Wt.copyWithin(j * n, (j - half) * n, (j - half + 1) * n);
              js.columns(Wt, k);
              wasm.columns(Wt, k);
              expect(firstDiff(wasm.rowMajorF64(k), js.rowMajorF64(k)), `U ${where} k=${k}`).toBe(
                -1,
              );
              const kept = js.mgs();
              expect(wasm.mgs(), `kept ${where} k=${k}`).toBe(kept);
              if (kept < k) dropped++;
              expect(
                firstDiff(wasm.rowMajorF64(kept), js.rowMajorF64(kept)),
                `Q ${where} k=${k}`,
              ).toBe(-1);
              expect(
                firstDiff(wasm.rowMajorF32(kept), js.rowMajorF32(kept)),
                `Q32 ${where} k=${k}`,
              ).toBe(-1);
              cases++;
            }
            wasm.release();
          }
        }
      }
    }
    expect(cases).toBeGreaterThan(500);
    expect(dropped).toBeGreaterThan(50); // the drop path (and the moves after it) ran
  });

  it('Gram–Schmidt on crafted columns: duplicates, zeros, near-dependence (second pass), NaN', () => {
    const rng = createRng(202);
    for (const D of [1, 2, 3, 5, 8, 1001]) {
      const base = () => fill(new Float64Array(D), 'normal', rng);
      const x = base();
      const y = base();
      const zero = new Float64Array(D);
      const near = x.map((v, i) => v + 1e-3 * (y[i] as number)); // loses > half its norm against x
      const nan = x.map((v, i) => (i === 0 ? NaN : v));
      const sets: Float64Array[][] = [
        [x, x],
        [zero, x],
        [x, zero, y],
        [zero, zero, x, y],
        [x, near],
        [x, y, near, near],
        [y, x, near, x, zero, y, near],
        [nan, x, y],
        [x, nan, y],
        [x, y, base(), base(), base(), base(), base(), base(), base()],
      ];
      for (const set of sets) {
        const k = set.length;
        const cols = new Float64Array(k * D);
        set.forEach((c, j) => cols.set(c, j * D));
        const got = defined(mgsWasm(cols, D, k));
        const ref = Float64Array.from(cols);
        const kept = mgsJs(ref, D, k);
        expect(got.k, `D=${D} k=${k}`).toBe(kept);
        expect(firstDiff(got.cols, ref.subarray(0, kept * D)), `D=${D} k=${k}`).toBe(-1);
      }
    }
  });

  it('orthonormalBasisF64, orthonormalBasis, orthonormalize and unionBasis give the same bits', async () => {
    await initBackend({ prefer: 'cpu' });
    const rng = createRng(203);
    for (const [D, n] of [
      [1, 1],
      [7, 3],
      [1003, 24],
      [4099, 64],
    ] as const) {
      for (const kind of ['normal', 'spread'] as const) {
        const data = fill(new Float32Array(D * n), kind, rng);
        // A rank-deficient copy: every third column repeats the first.
        const deficient = Float32Array.from(data);
        for (let i = 0; i < D; i++)
          for (let j = 2; j < n; j += 3) deficient[i * n + j] = data[i * n]!;
        for (const G of [data, deficient]) {
          const results = (['js', 'wasm'] as const).map((kinds) => {
            setHostKernels(kinds);
            const f64 = orthonormalBasisF64(G, D, n, { energy: 0.9 });
            const t = tf.tensor2d(G, [D, n]);
            const b = orthonormalBasis(t, { energy: 0.97 });
            const o = orthonormalize(t);
            const u = unionBasis([b, o]);
            const out = [f64.basis, f64.singularValues, ...[b, o, u].map((x) => x.dataSync())];
            const shapes = [b, o, u].map((x) => x.shape.join('x'));
            tf.dispose([t, b, o, u]);
            return { out, shapes };
          });
          const [js, wasm] = results as [(typeof results)[0], (typeof results)[0]];
          expect(wasm.shapes).toEqual(js.shapes);
          js.out.forEach((ref, i) =>
            expect(firstDiff(wasm.out[i]!, ref), `D=${D} n=${n} #${i}`).toBe(-1),
          );
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Negative controls: a JavaScript variant that sums in another order differs from the wasm kernel
// somewhere, so the exact comparisons above would catch such a change.

/** gramProductsJs with a left-to-right sum per block instead of ((p₀ + p₁) + (p₂ + p₃)). */
function gramLeftToRight(C: Float32Array, D: number, M: number): Float64Array {
  const G = new Float64Array(M * M);
  for (let r0 = 0; r0 < D; r0 += 4) {
    const m = Math.min(4, D - r0);
    for (let a = 0; a < M; a++) {
      for (let c = a; c < M; c++) {
        let s = G[a * M + c]!;
        for (let t = 0; t < m; t++) s += C[(r0 + t) * M + a]! * C[(r0 + t) * M + c]!;
        G[a * M + c] = s;
      }
    }
  }
  for (let a = 0; a < M; a++) for (let c = a + 1; c < M; c++) G[c * M + a] = G[a * M + c]!;
  return G;
}

describe('negative controls', () => {
  const rng = createRng(301);
  const D = 1001;
  const M = 24;
  const C = fill(new Float32Array(D * M), 'spread', rng);
  const g = fill(new Float32Array(D), 'spread', rng);
  const a = coefficients(rng, M);

  it('the Gram products with the blocks summed left to right differ', () => {
    const got = defined(gramProductsWasm(C, g, D, M));
    expect(firstDiff(got.G, gramProductsJs(C, g, D, M).G)).toBe(-1);
    expect(firstDiff(got.G, gramLeftToRight(C, D, M))).toBeGreaterThanOrEqual(0);
  });

  it('the residual products with the columns subtracted in reverse order differ', () => {
    const reversed = new Float64Array(M);
    for (let i = 0; i < D; i++) {
      let r = g[i]!;
      for (let j = M - 1; j >= 0; j--) r -= C[i * M + j]! * a[j]!;
      for (let j = 0; j < M; j++) reversed[j] = reversed[j]! + C[i * M + j]! * r;
    }
    expect(
      firstDiff(defined(residualProductsWasm(C, g, D, M, a)), reversed),
    ).toBeGreaterThanOrEqual(0);
  });

  it('the combination with ‖u‖² summed in two partial sums differs', () => {
    const got = defined(combineWasm(g, C, D, M, a));
    const ref = combineJs(g, C, D, M, a);
    let s0 = 0;
    let s1 = 0;
    for (let i = 0; i < D; i++) {
      const r = ref.u[i]!;
      if (i % 2 === 0) s0 += r * r;
      else s1 += r * r;
    }
    expect(got.uu).toBe(ref.uu);
    expect(got.uu).not.toBe(s0 + s1);
  });

  it('the basis Gram with the hostProducts parenthesization differs', () => {
    const data = fill(new Float32Array(D * M), 'spread', rng);
    const [f1, f2] = scaleFactors(data);
    const got = defined(basisStageWasm(data, D, M, f1, f2));
    const gram = got.gram();
    got.release();
    expect(firstDiff(gram, basisGramJs(data, D, M, f1, f2))).toBe(-1);
    const scaled = Float64Array.from(data, (x) => x * f1 * f2);
    const pairs = gramProductsJs(scaled, new Float64Array(D), D, M);
    expect(firstDiff(gram, pairs.G)).toBeGreaterThanOrEqual(0);
  });

  it('U = Gs·W summed over a in reverse order differs', () => {
    const n = 24;
    const k = 5;
    const data = fill(new Float32Array(D * n), 'spread', rng);
    const Wt = fill(new Float64Array(k * n), 'normal', rng);
    const got = defined(basisStageWasm(data, D, n, 1, 1));
    got.columns(Wt, k);
    const U = got.rowMajorF64(k);
    got.release();
    const ref = basisColumnsJs(data, D, n, 1, 1, Wt, k);
    const reversed = new Float64Array(k * D);
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let t = n - 1; t >= 0; t--) s += data[i * n + t]! * Wt[j * n + t]!;
        reversed[j * D + i] = s;
      }
    }
    const colMajor = (rows: Float64Array) => {
      const out = new Float64Array(k * D);
      for (let i = 0; i < D; i++) for (let j = 0; j < k; j++) out[j * D + i] = rows[i * k + j]!;
      return out;
    };
    expect(firstDiff(colMajor(U), ref)).toBe(-1);
    expect(firstDiff(colMajor(U), reversed)).toBeGreaterThanOrEqual(0);
  });

  it('Gram–Schmidt with one running sum per dot product, or without the second pass, differs', () => {
    const n = 9;
    const cols = fill(new Float64Array(n * D), 'normal', rng);
    // Column 5 nearly repeats column 4: it loses > half its norm, so the reference projects it twice.
    for (let i = 0; i < D; i++) cols[5 * D + i] = cols[4 * D + i]! + 1e-6 * cols[5 * D + i]!;
    const got = defined(mgsWasm(cols, D, n));
    const ref = Float64Array.from(cols);
    expect(mgsJs(ref, D, n)).toBe(got.k);
    expect(firstDiff(got.cols, ref)).toBe(-1);
    for (const variant of ['one sum', 'one pass'] as const) {
      const x = Float64Array.from(cols);
      const dot = (p: number, q: number): number => {
        let s = 0;
        for (let t = 0; t < D; t++) s += x[p + t]! * x[q + t]!;
        return s;
      };
      for (let j = 0; j < n; j++) {
        const u = j * D;
        const norm0 = Math.sqrt(dot(u, u));
        for (let pass = 0; pass < (variant === 'one pass' ? 1 : 2); pass++) {
          for (let i = 0; i < j; i++) {
            const c = variant === 'one sum' ? dot(i * D, u) : twoSumDot(x, i * D, u, D, i === 0);
            for (let t = 0; t < D; t++) x[u + t] = x[u + t]! - c * x[i * D + t]!;
          }
          if (Math.sqrt(dot(u, u)) >= 0.5 * norm0) break;
        }
        const inv = 1 / Math.sqrt(variant === 'one sum' ? dot(u, u) : fourSumDot(x, u, u, D));
        for (let t = 0; t < D; t++) x[u + t] = x[u + t]! * inv;
      }
      expect(firstDiff(got.cols, x), variant).toBeGreaterThanOrEqual(0);
    }
  });
});

/** The reference's dot products: four partial sums (first coefficient) or axpyDot's two. */
function twoSumDot(x: Float64Array, a: number, b: number, D: number, first: boolean): number {
  if (first) return fourSumDot(x, a, b, D);
  let s0 = 0;
  let s1 = 0;
  let t = 0;
  for (; t + 1 < D; t += 2) {
    s0 += x[a + t]! * x[b + t]!;
    s1 += x[a + t + 1]! * x[b + t + 1]!;
  }
  if (t < D) s0 += x[a + t]! * x[b + t]!;
  return s0 + s1;
}

function fourSumDot(x: Float64Array, a: number, b: number, D: number): number {
  const s = [0, 0, 0, 0];
  const D4 = D - (D % 4);
  let t = 0;
  for (; t < D4; t++) s[t % 4] = s[t % 4]! + x[a + t]! * x[b + t]!;
  for (; t < D; t++) s[0] = s[0]! + x[a + t]! * x[b + t]!;
  return s[0]! + s[1]! + (s[2]! + s[3]!);
}

// ---------------------------------------------------------------------------------------------

describe('choosing and loading the kernels', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });

  it('setHostKernels switches implementations and validates its argument', () => {
    expect(hostKernels()).toBe('wasm');
    expect(setHostKernels('js')).toBe('wasm');
    expect(hostKernels()).toBe('js');
    expect(setHostKernels('wasm')).toBe('js');
    expect(() => setHostKernels('fast' as never)).toThrow(ConfigError);
    expect(() => setHostKernels('fast' as never)).toThrow(/hostKernels/);
    expect(hostKernels()).toBe('wasm');
  });

  it('the public kernels check their lengths', () => {
    const C = new Float32Array(6);
    const g = new Float32Array(3);
    expect(() => gramProductsF64(C, g, 3, 3)).toThrow(ShapeError);
    expect(() => gramProductsF64(C, new Float32Array(2), 3, 2)).toThrow(/g has length 2/);
    expect(() => residualProductsF64(C, g, 3, 2, new Float64Array(3))).toThrow(/a has length 3/);
    expect(() => combineF64(g, C, 3, 2, new Float64Array(1))).toThrow(ShapeError);
    expect(() => gramProductsF64(C, g, -1, 2)).toThrow(ConfigError);
    expect(() => combineF64(g, C, 3, 2.5, new Float64Array(2))).toThrow(ConfigError);
  });

  it('the public kernels give the same bits with either choice', () => {
    const rng = createRng(401);
    const D = 301;
    const M = 7;
    const C = fill(new Float32Array(D * M), 'spread', rng);
    const g = fill(new Float64Array(D), 'spread', rng);
    const a = coefficients(rng, M);
    const run = () => {
      const p = gramProductsF64(C, g, D, M);
      const c = combineF64(g, C, D, M, a);
      return [p.G, p.b, [p.gg], residualProductsF64(C, g, D, M, a), c.u, [c.uu]];
    };
    setHostKernels('js');
    const js = run();
    setHostKernels('wasm');
    const wasm = run();
    js.forEach((ref, i) => expect(firstDiff(wasm[i]!, ref)).toBe(-1));
  });

  it('memory grows and is re-read across calls; an oversized call drops the instance', () => {
    const rng = createRng(402);
    const check = (D: number, M: number) => {
      const C = fill(new Float32Array(D * M), 'normal', rng);
      const g = fill(new Float32Array(D), 'normal', rng);
      expect(firstDiff(defined(gramProductsWasm(C, g, D, M)).G, gramProductsJs(C, g, D, M).G)).toBe(
        -1,
      );
    };
    check(10, 3);
    check(20000, 24); // grows the memory
    const grown = wasmMemoryBytes();
    expect(grown).toBeGreaterThan(20000 * 24 * 4);
    check(10, 3);
    expect(wasmMemoryBytes()).toBe(grown); // kept
    const before = setRetainedBytes(65536);
    try {
      check(20000, 24);
      expect(wasmMemoryBytes()).toBe(0); // dropped after the call
      check(10, 3); // a fresh instance
      expect(wasmMemoryBytes()).toBe(65536);
    } finally {
      setRetainedBytes(before);
    }
    check(20000, 24);
    expect(wasmMemoryBytes()).toBeGreaterThan(20000 * 24 * 4);
    releaseHostKernels(); // given back on request
    expect(wasmMemoryBytes()).toBe(0);
    check(20000, 24); // and a fresh instance gives the same bits
  });

  it('falls back to the JavaScript loops where WebAssembly is unavailable', async () => {
    vi.resetModules();
    vi.stubGlobal('WebAssembly', undefined);
    try {
      const fresh = await import('./index.js');
      expect(fresh.hostKernels()).toBe('js');
      const rng = createRng(403);
      const C = fill(new Float32Array(33 * 5), 'normal', rng);
      const g = fill(new Float32Array(33), 'normal', rng);
      const got = fresh.gramProductsF64(C, g, 33, 5);
      expect(firstDiff(got.G, gramProductsJs(C, g, 33, 5).G)).toBe(-1);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});
