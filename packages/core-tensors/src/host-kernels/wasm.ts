/**
 * The wasm side of MTU's float64 host kernels: loads `assembly/f64.ts` (embedded as
 * {@link F64_WASM}) lazily and synchronously on first use, copies the typed-array inputs into the
 * module's own memory, runs a kernel and copies the results out. Results are bit-identical to
 * `./reference.ts` (tested).
 *
 * The module is independent of tfjs and its backends. Its memory grows to the largest problem seen
 * and is kept for later calls up to {@link RETAINED_BYTES}; after a call that needed more, the
 * instance (and its memory) is dropped and a later call instantiates a fresh one from the compiled
 * module.
 *
 * Internal: `./index.ts` dispatches to these; tests call them directly.
 *
 * @module
 */
import { F64_WASM } from '../kernels/f64-wasm.js';
import type { BasisStage, Combination, GramProducts, RowMajor } from './reference.js';

/** The part of the WebAssembly JS API used here (the project's `lib` has no WebAssembly types). */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

type Fn = (...args: number[]) => number;

/** The exports of `assembly/f64.ts` (pointers are byte addresses into `memory`). */
interface F64Exports {
  readonly memory: WasmMemory;
  readonly hostGramF32: Fn;
  readonly hostGramF64: Fn;
  readonly basisGramF32: Fn;
  readonly basisGramF64: Fn;
  readonly basisColumnsF32: Fn;
  readonly basisColumnsF64: Fn;
  readonly mgs: Fn;
  readonly residualF32: Fn;
  readonly residualF64: Fn;
  readonly combineF32: Fn;
  readonly combineF64: Fn;
  readonly transposeF64: Fn;
  readonly transposeF32: Fn;
}

/** Memory kept between calls by default; a call needing more drops the instance afterwards. */
export const RETAINED_BYTES: number = 256 * 1024 * 1024;

let retained = RETAINED_BYTES;

const PAGE = 65536;
/** The module's maximum memory (65536 pages = 4 GiB), less a page of slack. */
const MAX_BYTES = 65535 * PAGE;
/** Float64 values a chunk of rows converted for the Gram kernels holds (16 KiB, in L1). */
const GRAM_CHUNK_VALUES = 2048;
/** Rows per chunk of the residual kernel (a multiple of 16). */
const RESIDUAL_CHUNK = 256;
/** Rows past D the row-pair kernels may read (values never used). */
const ROW_PAD = 16;

let compiled: object | null | undefined;
let instance: F64Exports | undefined;

/**
 * The module's exports, instantiating it on first use; `undefined` where WebAssembly (with SIMD)
 * is unavailable.
 */
function exportsOrUndefined(): F64Exports | undefined {
  if (instance !== undefined) return instance;
  if (compiled === null) return undefined;
  const wasm = (globalThis as { readonly WebAssembly?: WasmApi }).WebAssembly;
  try {
    if (wasm === undefined) throw new Error('no WebAssembly');
    compiled ??= new wasm.Module(Uint8Array.from(Buffer.from(F64_WASM, 'base64')));
    instance = new wasm.Instance(compiled, {}).exports as F64Exports;
    return instance;
  } catch {
    compiled = null;
    return undefined;
  }
}

/** Whether the wasm kernels can run here (instantiates the module on first call). */
export function wasmAvailable(): boolean {
  return exportsOrUndefined() !== undefined;
}

/** Byte layout of one call: regions of the module memory, 16-byte aligned. */
class Layout {
  private end = 16;
  take(bytes: number): number {
    const at = this.end;
    this.end = at + Math.ceil(bytes / 16) * 16;
    return at;
  }
  get bytes(): number {
    return this.end;
  }
}

/**
 * The instance with at least `layout.bytes` of memory, or `undefined` when that cannot be had (no
 * WebAssembly, or beyond 4 GiB / out of memory: the caller falls back to JavaScript).
 */
function reserve(layout: Layout): F64Exports | undefined {
  const ex = exportsOrUndefined();
  if (ex === undefined || layout.bytes > MAX_BYTES) return undefined;
  const have = ex.memory.buffer.byteLength;
  if (have < layout.bytes) {
    try {
      ex.memory.grow(Math.ceil((layout.bytes - have) / PAGE));
    } catch {
      return undefined;
    }
  }
  return ex;
}

/** After a call: drops the instance if its memory outgrew the retained size. */
function settle(ex: F64Exports): void {
  if (ex.memory.buffer.byteLength > retained) instance = undefined;
}

/** Drops the live instance and so its memory (the compiled module stays); the next call makes a new one. */
export function releaseWasmInstance(): void {
  instance = undefined;
}

/**
 * Sets the memory kept between calls (default {@link RETAINED_BYTES}) and returns the previous
 * value; for tests.
 *
 * @param bytes - The new limit.
 * @returns The previous limit.
 */
export function setRetainedBytes(bytes: number): number {
  const before = retained;
  retained = bytes;
  return before;
}

/**
 * The byte size of the live instance's memory, or 0 when there is none (never instantiated, or
 * dropped after an oversized call); for tests.
 *
 * @returns Bytes.
 */
export function wasmMemoryBytes(): number {
  return instance === undefined ? 0 : instance.memory.buffer.byteLength;
}

function f64View(ex: F64Exports, at: number, length: number): Float64Array {
  return new Float64Array(ex.memory.buffer, at, length);
}

/** Copies `src` to `at` (its own element type) and zeroes `pad` elements after it. */
function put(ex: F64Exports, at: number, src: RowMajor, pad = 0): void {
  const Ctor = src instanceof Float64Array ? Float64Array : Float32Array;
  const view = new Ctor(ex.memory.buffer, at, src.length + pad);
  view.set(src);
  if (pad > 0) view.fill(0, src.length);
}

const bytesOf = (x: RowMajor): number => x.BYTES_PER_ELEMENT;
const flag = (x: RowMajor): number => (x instanceof Float64Array ? 1 : 0);

/**
 * {@link gramProductsJs} in wasm, or `undefined` when the wasm kernels cannot run.
 *
 * @param C - `D × M`, row-major.
 * @param g - Length D.
 * @param D - Rows.
 * @param M - Columns.
 * @returns `G = CᵀC`, `b = Cᵀg`, `‖g‖²`.
 */
export function gramProductsWasm(
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
): GramProducts | undefined {
  const mp = (M + 2) & ~1;
  const chunk = Math.max(4, Math.floor(GRAM_CHUNK_VALUES / mp) & ~3);
  const layout = new Layout();
  const pc = layout.take(D * M * bytesOf(C));
  const pg = layout.take(D * bytesOf(g));
  const pout = layout.take(mp * mp * 8);
  const pwork = layout.take(chunk * mp * 8);
  const ex = reserve(layout);
  if (ex === undefined) return undefined;
  put(ex, pc, C);
  put(ex, pg, g);
  f64View(ex, pout, mp * mp).fill(0);
  const kernel = C instanceof Float64Array ? ex.hostGramF64 : ex.hostGramF32;
  kernel(pc, pg, flag(g), D, M, pout, pwork, chunk);
  const out = f64View(ex, pout, mp * mp);
  const G = new Float64Array(M * M);
  const b = new Float64Array(M);
  for (let a = 0; a < M; a++) {
    for (let c = a; c < M; c++) G[a * M + c] = out[a * mp + c] as number;
    b[a] = out[a * mp + M] as number;
  }
  for (let a = 0; a < M; a++) {
    for (let c = a + 1; c < M; c++) G[c * M + a] = G[a * M + c] as number;
  }
  const gg = out[M * mp + M] as number;
  settle(ex);
  return { G, b, gg };
}

/**
 * {@link residualProductsJs} in wasm, or `undefined` when the wasm kernels cannot run.
 *
 * @param C - `D × M`, row-major.
 * @param g - Length D.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M).
 * @returns `Cᵀ(g − C a)`, length M.
 */
export function residualProductsWasm(
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Float64Array | undefined {
  const layout = new Layout();
  const pc = layout.take((D + ROW_PAD) * M * bytesOf(C));
  const pg = layout.take((D + ROW_PAD) * bytesOf(g));
  const pidx = layout.take(M * 4);
  const pcoef = layout.take(M * 8);
  const pout = layout.take(M * 8);
  const pwork = layout.take(RESIDUAL_CHUNK * 8);
  const ex = reserve(layout);
  if (ex === undefined) return undefined;
  put(ex, pc, C, ROW_PAD * M);
  put(ex, pg, g, ROW_PAD);
  const idx = new Int32Array(ex.memory.buffer, pidx, M);
  for (let j = 0; j < M; j++) idx[j] = j;
  f64View(ex, pcoef, M).set(a.subarray(0, M));
  f64View(ex, pout, M).fill(0);
  const kernel = C instanceof Float64Array ? ex.residualF64 : ex.residualF32;
  kernel(pc, pg, flag(g), D, M, pidx, pcoef, pout, pwork, RESIDUAL_CHUNK);
  const out = f64View(ex, pout, M).slice();
  settle(ex);
  return out;
}

/**
 * {@link combineJs} in wasm, or `undefined` when the wasm kernels cannot run.
 *
 * @param g - Length D.
 * @param C - `D × M`, row-major.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M); the zero ones are skipped.
 * @returns `u = float32(g − C a)` and `‖u‖²`.
 */
export function combineWasm(
  g: RowMajor,
  C: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Combination | undefined {
  const layout = new Layout();
  const pc = layout.take((D + ROW_PAD) * M * bytesOf(C));
  const pg = layout.take((D + ROW_PAD) * bytesOf(g));
  const pidx = layout.take(M * 4);
  const pcoef = layout.take(M * 8);
  const pu = layout.take((D + ROW_PAD) * 4);
  const pwork = layout.take(16 * 8);
  const ex = reserve(layout);
  if (ex === undefined) return undefined;
  put(ex, pc, C, ROW_PAD * M);
  put(ex, pg, g, ROW_PAD);
  const idx = new Int32Array(ex.memory.buffer, pidx, M);
  const coef = f64View(ex, pcoef, M);
  let n = 0;
  for (let j = 0; j < M; j++) {
    const aj = a[j] as number;
    if (aj !== 0) {
      idx[n] = j;
      coef[n] = aj;
      n++;
    }
  }
  const kernel = C instanceof Float64Array ? ex.combineF64 : ex.combineF32;
  const uu = kernel(pc, pg, flag(g), D, M, pidx, pcoef, n, pu, pwork);
  const u = new Float32Array(ex.memory.buffer, pu, D).slice();
  settle(ex);
  return { u, uu };
}

/**
 * {@link BasisStage} in wasm, or `undefined` when the wasm kernels cannot run.
 *
 * @param data - G, `D × n` row-major.
 * @param D - Rows.
 * @param n - Columns.
 * @param f1 - First power-of-two factor.
 * @param f2 - Second power-of-two factor.
 * @returns The stage.
 */
export function basisStageWasm(
  data: RowMajor,
  D: number,
  n: number,
  f1: number,
  f2: number,
): BasisStage | undefined {
  const np = (n + 1) & ~1;
  const chunk = Math.max(4, Math.floor(GRAM_CHUNK_VALUES / np) & ~3);
  const layout = new Layout();
  const pdata = layout.take(D * n * bytesOf(data));
  const pgram = layout.take(np * np * 8);
  const pwork = layout.take(Math.max(chunk * np, 8 * n + 8) * 8);
  const pw = layout.take(n * n * 8);
  const pcols = layout.take(n * D * 8);
  const pout = layout.take(n * D * 8);
  const ex = reserve(layout);
  if (ex === undefined) return undefined;
  put(ex, pdata, data);
  const f64 = data instanceof Float64Array;
  let k = 0;
  return {
    gram: () => {
      f64View(ex, pgram, np * np).fill(0);
      (f64 ? ex.basisGramF64 : ex.basisGramF32)(pdata, D, n, f1, f2, pgram, pwork, chunk);
      const out = f64View(ex, pgram, np * np);
      const C = new Float64Array(n * n);
      for (let a = 0; a < n; a++) {
        for (let b = a; b < n; b++) C[a * n + b] = out[a * np + b] as number;
      }
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b < n; b++) C[b * n + a] = C[a * n + b] as number;
      }
      return C;
    },
    columns: (Wt, kk) => {
      if (kk > n) throw new RangeError(`basis stage: k = ${kk} > n = ${n}`);
      k = kk;
      f64View(ex, pw, kk * n).set(Wt.subarray(0, kk * n));
      (f64 ? ex.basisColumnsF64 : ex.basisColumnsF32)(pdata, D, n, f1, f2, pw, kk, pcols, pwork);
    },
    mgs: () => (k = ex.mgs(pcols, D, k)),
    rowMajorF64: (kk) => {
      ex.transposeF64(pcols, D, kk, pout);
      return f64View(ex, pout, D * kk).slice();
    },
    rowMajorF32: (kk) => {
      ex.transposeF32(pcols, D, kk, pout);
      return new Float32Array(ex.memory.buffer, pout, D * kk).slice();
    },
    release: () => settle(ex),
  };
}

/**
 * The modified Gram–Schmidt kernel alone on given columns (for tests): copies `cols` (k columns
 * of length D, column-major) into the module, runs it, and returns the kept columns, or
 * `undefined` when the wasm kernels cannot run.
 *
 * @param cols - `k·D` values, column-major. Not modified.
 * @param D - Column length.
 * @param k - Columns.
 * @returns The kept columns (column-major) and their number.
 */
export function mgsWasm(
  cols: Float64Array,
  D: number,
  k: number,
): { readonly cols: Float64Array; readonly k: number } | undefined {
  const layout = new Layout();
  const pcols = layout.take(k * D * 8);
  const ex = reserve(layout);
  if (ex === undefined) return undefined;
  put(ex, pcols, cols);
  const kept = ex.mgs(pcols, D, k);
  const out = f64View(ex, pcols, kept * D).slice();
  settle(ex);
  return { cols: out, k: kept };
}
