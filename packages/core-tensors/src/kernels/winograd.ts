/**
 * Winograd F(4×4, 3×3) convolutions for the wasm backend: the forward pass, the input gradient and
 * the filter (+ bias) gradient of 3×3, stride-1, dilation-1 NHWC convolutions.
 *
 * Direct convolution spends 9 multiplications per output pixel and channel pair. F(4×4, 3×3)
 * computes a 4×4 output tile from a 6×6 input tile with 36 instead of 144: the input tiles and
 * filters are transformed (`Bᵀ d B`, `G g Gᵀ`), 36 independent matrix products
 * `[tiles, C] × [C, O]` multiply them, and an output transform (`Aᵀ M A`, with bias and ReLU
 * fused) folds the tiles back. The input gradient is the same convolution of `dy` with the filter
 * rotated by 180°. The filter gradient is the transposed algorithm:
 * `Gᵀ [Σ_tiles (A e Aᵀ) ⊙ (Bᵀ d B)] G`, 36 products `[O, tiles] × [tiles, C]`. The products have
 * 4× fewer flops than the direct convolution; the transforms cost little in comparison.
 *
 * All of it runs in MTU's own wasm SIMD module, compiled from AssemblyScript
 * (`assembly/winograd.ts`, embedded by `scripts/build-wasm.mjs` as `winograd-wasm.ts`). It imports
 * the wasm backend's memory, so it reads and writes tensors in place (no copies between heaps),
 * and a helper thread (`winograd-helper.ts`) takes part of each transform and product. The
 * products do not go to XNNPACK: its fully-connected operator packs its right operand on every
 * call (both operands change every call here), and its thread pool competes with the helper.
 *
 * Rounding: the transforms scale and add inputs before multiplying (by up to 5 and 8), so results
 * differ from the direct convolution's in the last bits: errors relative to Σ|x·w| stay within
 * 1.5e-5 in the tests (float64 definitions as reference), and the reference step's losses over 5
 * steps match the cpu backend's to 3.1e-6.
 *
 * @module
 */
import { BackendError, ConfigError } from '../errors.js';
import { tf } from '../tf.js';
import { convGeometry, type ConvGeometry } from './conv-geometry.js';
import {
  HELPER_OPS,
  instantiate,
  startKernelHelper,
  type KernelHelper,
  type WasmFn,
  unsharedMemoryVariant,
  type WasmMemory,
} from './winograd-helper.js';
import { WINOGRAD_WASM } from './winograd-wasm.js';
import { convWorkspaceLimit } from './workspace.js';
import {
  allocOutput,
  asWasmBackend,
  byteOffset,
  disposeInfos,
  i32View,
  requireInputs,
  sizeOf,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/** Which kernels compute wasm convolutions: see {@link setWasmConvolutions}. */
export type WasmConvolutions = 'xnnpack' | 'mtu';

let enabled = false;

/**
 * Chooses the kernels of wasm convolutions and returns the previous choice:
 *
 * - `'xnnpack'` (the default): tfjs' XNNPACK convolutions and MTU's gradient kernels built on them
 *   (every result recorded in MTU's READMEs was computed this way);
 * - `'mtu'`: MTU's own wasm SIMD kernels where they apply — Winograd F(4×4, 3×3) for the forward
 *   pass, input gradient and filter + bias gradients of 3×3 convolutions with stride 1, dilation 1
 *   and at least 16 input and output channels (multiples of 4), and a packing-free product for the
 *   other filter gradients — shared with a helper thread. The reference step takes ~40% less time;
 *   float32 results differ from `'xnnpack'`'s in the last bits.
 *
 * `initBackend({ convolutions })` calls this.
 *
 * @example
 * ```ts
 * const before = setWasmConvolutions('mtu');
 * // ... train ...
 * setWasmConvolutions(before);
 * ```
 */
export function setWasmConvolutions(kind: WasmConvolutions): WasmConvolutions {
  if (kind !== 'xnnpack' && kind !== 'mtu') {
    throw new ConfigError('convolutions', String(kind), "expected 'xnnpack' or 'mtu'");
  }
  const before = wasmConvolutions();
  enabled = kind === 'mtu';
  return before;
}

/**
 * The kernels wasm convolutions currently use (see {@link setWasmConvolutions}).
 *
 * @example
 * ```ts
 * if (wasmConvolutions() === 'mtu') console.log('3×3 convolutions use Winograd F(4×4, 3×3)');
 * ```
 */
export function wasmConvolutions(): WasmConvolutions {
  return enabled ? 'mtu' : 'xnnpack';
}

/** The exports of `assembly/winograd.ts`. */
interface WinogradExports {
  /** `(x, b0, b1, h, w, c, padT, padL, th, tw, outs)` */
  readonly inputTransform: WasmFn;
  /** `(filter, c, o, flip, outs)` */
  readonly filterTransform: WasmFn;
  /** `(ins, y, b0, b1, oh, ow, o, th, tw, bias, relu)` */
  readonly outputTransform: WasmFn;
  /** `(dy, n, b0, b1, oh, ow, o, th, tw, outs)` */
  readonly gradTransformT: WasmFn;
  /** `(ins, dw, c, o)` */
  readonly filterGradOutput: WasmFn;
  /** `(dy, rows, o, out)` */
  readonly channelSums: WasmFn;
  /** `(dt, v, mt, o, c, tiles, from, to)` */
  readonly filterGradProducts: WasmFn;
  /** `(v, u, m, tiles, c, o, from, to)` */
  readonly forwardProducts: WasmFn;
  /** `(a, b, c, m, n, k, from, to)`: rows `[4·from, 4·to)` of C = A·B */
  readonly gemmRows: WasmFn;
  /** `(to, toStride, from, fromStride, n, count)`: strided block copy (bytes; strides in words) */
  readonly copyBlocks: WasmFn;
  /**
   * `(dst, src, n, h, w, c, ow, kH, kW, sh, sw, padT, padL, i0, i1, rowStride, chStride,
   * phaseStride, onesRow)`: a filter gradient's transposed im2col rows (byte addresses; strides in
   * words)
   */
  readonly im2colRows: WasmFn;
  /** `(dw, db, x, dy, params, from, to)`: per-example filter and bias gradients, examples [from, to) */
  readonly filterGradDirect: WasmFn;
}

/** Output tile size m of F(m×m, 3×3), and its number of products (m + 2)². */
const TILE = 4;
const PRODUCTS = 36;

/** The functions {@link parallel} splits between two threads (indices of `HELPER_OPS`). */
type SplitOp =
  | 'filterGradProducts'
  | 'inputTransform'
  | 'outputTransform'
  | 'gradTransformT'
  | 'forwardProducts'
  | 'gemmRows'
  | 'filterGradDirect';

/**
 * Runs `op(...before, from, to, ...after)` over the items `[0, count)` (images of a batch, the 36
 * products, row blocks), shared with the helper thread when there is one.
 */
function parallel(
  instance: Instance,
  op: SplitOp,
  count: number,
  before: readonly number[],
  after: readonly number[] = [],
): void {
  const fn = instance.exports[op];
  const args = [...before, 0, count, ...after];
  // The helper thread starts with the first operation it can share (never for copies alone).
  if (instance.helper === undefined && instance.startHelper !== undefined) {
    instance.helper = instance.startHelper();
    instance.startHelper = undefined;
  }
  if (instance.helper === undefined) fn(...args);
  else instance.helper.run(HELPER_OPS.indexOf(op), fn, args, before.length, count);
}

/** The wasm backend's module object, as far as finding its memory goes. */
interface EmscriptenMemoryHolder {
  readonly wasmMemory?: WasmMemory;
  readonly asm?: { readonly memory?: WasmMemory };
}

/** The transforms instantiated on one wasm backend memory, and the helper thread if shared. */
interface Instance {
  readonly exports: WinogradExports;
  helper: KernelHelper | undefined;
  /** Starts the helper (shared memory only) on first use; then undefined. */
  startHelper: (() => KernelHelper) | undefined;
}

const instances = new Map<WasmMemory, Instance>();

/** The wasm backend's `WebAssembly.Memory` (threaded builds expose it, others export it). */
function backendMemory(backend: WasmBackend): WasmMemory | undefined {
  const holder = backend.wasm as unknown as EmscriptenMemoryHolder;
  return holder.wasmMemory ?? holder.asm?.memory;
}

/**
 * Stops the helper threads of the Winograd kernels and forgets their instances (called by
 * `shutdownBackend`, and when the wasm backend is recreated).
 *
 * @example
 * ```ts
 * releaseWinogradHelpers();
 * ```
 */
export function releaseWinogradHelpers(): void {
  for (const instance of instances.values()) instance.helper?.terminate();
  instances.clear();
}

function decode(base64: string): Uint8Array {
  return Uint8Array.from(Buffer.from(base64, 'base64'));
}

/**
 * Items the helper thread of this backend's Winograd kernels has run, or `undefined` when there is
 * no helper (single-threaded wasm, or no Winograd kernel has run yet). For tests and diagnostics.
 *
 * @example
 * ```ts
 * winogradHelperItems(backend); // e.g. 120 after a few convolutions on 2 threads
 * ```
 */
export function winogradHelperItems(backend: WasmBackend): number | undefined {
  const memory = backendMemory(backend);
  return memory === undefined ? undefined : instances.get(memory)?.helper?.items();
}

/** The module, instantiated once per wasm backend memory (compiled synchronously: 8 KB). */
function instanceFor(backend: WasmBackend): Instance {
  const memory = backendMemory(backend);
  if (memory === undefined) {
    throw new BackendError('wasm', 'Winograd kernels: cannot find the wasm backend memory');
  }
  let instance = instances.get(memory);
  if (instance === undefined) {
    const shared = memory.buffer instanceof SharedArrayBuffer;
    const bytes = shared ? decode(WINOGRAD_WASM) : unsharedMemoryVariant(decode(WINOGRAD_WASM));
    const exports = instantiate(bytes, memory) as WinogradExports;
    instance = {
      exports,
      helper: undefined,
      startHelper: shared ? () => startKernelHelper(memory, bytes) : undefined,
    };
    instances.set(memory, instance);
  }
  return instance;
}

/**
 * Copies `count` blocks of `n` 32-bit words on the wasm heap, block `b` from word
 * `from + b·fromStride` to word `to + b·toStride` (non-overlapping), in MTU's wasm module (SIMD
 * loads and stores, `memory.copy` for long blocks): the copies of `Concat` and `SplitV`. Offsets
 * are in words (a tensor's `memoryOffset / 4`).
 *
 * @example
 * ```ts
 * // the columns [0, 8) of a row-major [rows, 24] matrix, from a [rows, 8] one
 * copyWords(backend, outAt, 24, partAt, 8, 8, rows);
 * ```
 */
export function copyWords(
  backend: WasmBackend,
  to: number,
  toStride: number,
  from: number,
  fromStride: number,
  n: number,
  count: number,
): void {
  if (n <= 0 || count <= 0) return;
  instanceFor(backend).exports.copyBlocks(to * 4, toStride, from * 4, fromStride, n, count);
}

/** The window of `g` as MTU's wasm kernels take it: `kH, kW, sh, sw, padT, padL`. */
function windowWords(g: ConvGeometry): number[] {
  return [g.filterHeight, g.filterWidth, g.strideHeight, g.strideWidth, g.padTop, g.padLeft];
}

/** Where {@link im2colWords} reads the phase-split input: word strides of its rows, channels, phases. */
export interface PhaseSplitStrides {
  readonly row: number;
  readonly channel: number;
  readonly phase: number;
}

/**
 * Fills the transposed im2col matrix of a filter gradient for output rows `[i0, i1)` in MTU's
 * wasm module: row `(kh, kw, ch)`, column `(i − i0, j, b)`, i.e. a `[KH·KW·C (+1), (i1 − i0)·OW·N]`
 * matrix from word `to` on, the value `x[b, i·sh + kh − padT, j·sw + kw − padL, ch]` (zero outside
 * the input); with `onesRow`, one more row of ones. `from` is the word offset of the phase-split
 * input, whose input row `hs`, column phase `r`, channel `ch`, phase index `q` and example `b` sit
 * at word `hs·row + r·phase + ch·channel + q·N + b` (`strides`). Pure copies: the same bits as
 * filling it element by element.
 *
 * @example
 * ```ts
 * // x transposed to [H, sw, C, Wq, N]:
 * im2colWords(backend, colsAt, xTAt, g, 0, g.outHeight, { row: sw * c * wq * n, channel: wq * n, phase: c * wq * n }, true);
 * ```
 */
export function im2colWords(
  backend: WasmBackend,
  to: number,
  from: number,
  g: ConvGeometry,
  i0: number,
  i1: number,
  strides: PhaseSplitStrides,
  onesRow: boolean,
): void {
  if (i1 <= i0) return;
  instanceFor(backend).exports.im2colRows(
    to * 4,
    from * 4,
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.outWidth,
    ...windowWords(g),
    i0,
    i1,
    strides.row,
    strides.channel,
    strides.phase,
    onesRow ? 1 : 0,
  );
}

/**
 * Per-example filter and bias gradients of an NHWC conv2d (dilation 1) + bias, computed directly in
 * MTU's wasm module (no im2col matrix, no packing), shared with the helper thread by example:
 * `dw[e] = Σ_{i,j} x[e, i·sh + kh − pt, j·sw + kw − pl, c] · dy[e, i, j, o]` into the
 * `[N, KH, KW, C, O]` tensor `dw`, `db[e] = Σ_{i,j} dy[e, i, j]` into the `[N, O]` tensor `db`.
 *
 * The arithmetic is that of the im2col product it replaces (XNNPACK's f32 GEMM sums each output
 * from +0 over the im2col columns in order, one multiply and one add per term): output rows in
 * chunks of `chunkRows` (the im2col path's workspace chunks), chunk sums added in order. So the
 * results are the same bits for finite `dy` (padding terms, `0 · dy`, are skipped).
 *
 * @example
 * ```ts
 * filterGradDirectInto(backend, dw, db, x, dy, g, g.outHeight);
 * ```
 */
export function filterGradDirectInto(
  backend: WasmBackend,
  dw: TensorInfo,
  db: TensorInfo,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  chunkRows: number,
): void {
  const instance = instanceFor(backend);
  const params = allocOutput(backend, [13], 'int32');
  try {
    i32View(backend, params).set([
      g.inHeight,
      g.inWidth,
      g.inChannels,
      g.outHeight,
      g.outWidth,
      g.outChannels,
      ...windowWords(g),
      Math.max(1, chunkRows),
    ]);
    parallel(instance, 'filterGradDirect', g.batch, [
      byteOffset(backend, dw),
      byteOffset(backend, db),
      byteOffset(backend, x),
      byteOffset(backend, dy),
      byteOffset(backend, params),
    ]);
  } finally {
    disposeInfos(backend, params);
  }
}

/**
 * True when the Winograd kernels compute this convolution: 3×3 filter, stride 1, dilation 1, and
 * channel counts that are multiples of 4 (the SIMD width), at least `minChannels` each (below
 * that the transforms cost more than the products save).
 *
 * @example
 * ```ts
 * if (winogradApplies(g)) y = winogradConv2d(backend, x, filter, bias, true, g);
 * ```
 */
export function winogradApplies(
  g: ConvGeometry,
  minChannels: number = WINOGRAD_MIN_CHANNELS,
): boolean {
  return (
    enabled &&
    g.filterHeight === 3 &&
    g.filterWidth === 3 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.dilationHeight === 1 &&
    g.dilationWidth === 1 &&
    g.inChannels % 4 === 0 &&
    g.outChannels % 4 === 0 &&
    g.inChannels >= minChannels &&
    g.outChannels >= minChannels &&
    g.batch * g.outHeight * g.outWidth > 0
  );
}

/** Default smallest channel count for {@link winogradApplies}. */
export const WINOGRAD_MIN_CHANNELS = 16;

/**
 * `count` matrices `[rows, cols]` in one flat tensor (each followed by {@link BANK_PAD} floats),
 * and a table of their byte addresses (the wasm functions address each matrix through it).
 */
interface Bank {
  readonly data: TensorInfo;
  readonly table: TensorInfo;
}

function bank(backend: WasmBackend, count: number, rows: number, cols: number): Bank {
  // One cache line between consecutive matrices: at a power-of-two size apart, the 36
  // elements a transform touches at once would all map to the same cache set.
  const stride = rows * cols + BANK_PAD;
  const data = allocOutput(backend, [count * stride]);
  const table = allocOutput(backend, [count], 'int32');
  const base = byteOffset(backend, data);
  const at = byteOffset(backend, table) >>> 2;
  const heap = backend.wasm.HEAP32;
  for (let k = 0; k < count; k++) heap[at + k] = base + 4 * k * stride;
  return { data, table };
}

/** Floats between consecutive matrices of a {@link Bank} (one 64-byte cache line). */
const BANK_PAD = 16;

function disposeBank(backend: WasmBackend, b: Bank): void {
  disposeInfos(backend, b.data, b.table);
}

/** A stride-1 3×3 convolution of `x` `[N, H, W, C]` into `[N, OH, OW, O]` (shared by forward and input gradient). */
function convolve(
  backend: WasmBackend,
  x: TensorInfo,
  filter: TensorInfo,
  flip: boolean,
  dims: {
    n: number;
    h: number;
    w: number;
    c: number;
    oh: number;
    ow: number;
    o: number;
    padT: number;
    padL: number;
  },
  bias: TensorInfo | undefined,
  relu: boolean,
): TensorInfo {
  const instance = instanceFor(backend);
  const wg = instance.exports;
  const { n, h, w, c, oh, ow, o, padT, padL } = dims;
  const th = Math.ceil(oh / TILE);
  const tw = Math.ceil(ow / TILE);
  const chunk = imagesPerChunk(n, th * tw * Math.max(c, o));
  const u = bank(backend, PRODUCTS, c, o);
  const y = allocOutput(backend, [n, oh, ow, o]);
  try {
    const fc = flip ? o : c; // filter [3, 3, fc, fo]
    const fo = flip ? c : o;
    wg.filterTransform(
      byteOffset(backend, filter),
      fc,
      fo,
      flip ? 1 : 0,
      byteOffset(backend, u.table),
    );
    const uAt = byteOffset(backend, u.table);
    const biasAt = bias === undefined ? 0 : byteOffset(backend, bias);
    for (let b0 = 0; b0 < n; b0 += chunk) {
      const images = Math.min(chunk, n - b0);
      const tiles = images * th * tw;
      const v = bank(backend, PRODUCTS, tiles, c);
      const m = bank(backend, PRODUCTS, tiles, o);
      try {
        const [vAt, mAt] = [byteOffset(backend, v.table), byteOffset(backend, m.table)];
        const xAt = byteOffset(backend, x) + 4 * b0 * h * w * c;
        const yAt = byteOffset(backend, y) + 4 * b0 * oh * ow * o;
        parallel(instance, 'inputTransform', images, [xAt], [h, w, c, padT, padL, th, tw, vAt]);
        parallel(instance, 'forwardProducts', PRODUCTS, [vAt, uAt, mAt, tiles, c, o]);
        const tail = [oh, ow, o, th, tw, biasAt, relu ? 1 : 0];
        parallel(instance, 'outputTransform', images, [mAt, yAt], tail);
      } finally {
        disposeBank(backend, v);
        disposeBank(backend, m);
      }
    }
    return y;
  } catch (error) {
    disposeInfos(backend, y);
    throw error;
  } finally {
    disposeBank(backend, u);
  }
}

/**
 * How many images one set of 36 Winograd matrices may hold (at least 1): each image adds
 * `elementsPerImage` elements to each of the 36 (see `setConvWorkspaceLimit`).
 */
function imagesPerChunk(n: number, elementsPerImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(convWorkspaceLimit() / (PRODUCTS * elementsPerImage))));
}

/**
 * Forward convolution `x` `[N, H, W, C]` ⊛ `filter` `[3, 3, C, O]` (+ `bias` `[O]`, then ReLU
 * when `relu`) → `[N, OH, OW, O]`, owned by the caller. Requires {@link winogradApplies}.
 *
 * @example
 * ```ts
 * const y = winogradConv2d(backend, x, filter, bias, true, g); // relu(conv2d(x, filter) + bias)
 * ```
 */
export function winogradConv2d(
  backend: WasmBackend,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
  g: ConvGeometry,
): TensorInfo {
  return convolve(
    backend,
    x,
    filter,
    false,
    {
      n: g.batch,
      h: g.inHeight,
      w: g.inWidth,
      c: g.inChannels,
      oh: g.outHeight,
      ow: g.outWidth,
      o: g.outChannels,
      padT: g.padTop,
      padL: g.padLeft,
    },
    bias,
    relu,
  );
}

/**
 * Input gradient of that convolution: `dy` `[N, OH, OW, O]`, `filter` `[3, 3, C, O]` →
 * `dx` `[N, H, W, C]`, owned by the caller: the stride-1 convolution of `dy` with the filter
 * rotated by 180° and its channels swapped, padded by `2 − pad`. Requires {@link winogradApplies}.
 *
 * @example
 * ```ts
 * const dx = winogradConv2dBackpropInput(backend, dy, filter, g);
 * ```
 */
export function winogradConv2dBackpropInput(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  return convolve(
    backend,
    dy,
    filter,
    true,
    {
      n: g.batch,
      h: g.outHeight,
      w: g.outWidth,
      c: g.outChannels,
      oh: g.inHeight,
      ow: g.inWidth,
      o: g.inChannels,
      padT: 2 - g.padTop,
      padL: 2 - g.padLeft,
    },
    undefined,
    false,
  );
}

/**
 * Filter gradient of that convolution: `x` `[N, H, W, C]`, `dy` `[N, OH, OW, O]` → `dW`
 * `[3, 3, C, O]` (owned by the caller). Requires {@link winogradApplies}.
 *
 * @example
 * ```ts
 * const dw = winogradConv2dBackpropFilter(backend, x, dy, g);
 * ```
 */
export function winogradConv2dBackpropFilter(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
): TensorInfo {
  const instance = instanceFor(backend);
  const { batch: n, inHeight: h, inWidth: w, inChannels: c } = g;
  const { outHeight: oh, outWidth: ow, outChannels: o, padTop: padT, padLeft: padL } = g;
  const th = Math.ceil(oh / TILE);
  const tw = Math.ceil(ow / TILE);
  const chunk = imagesPerChunk(n, th * tw * Math.max(c, o));
  const m = bank(backend, PRODUCTS, o, c);
  // Chunks of images add their products up here (only when there is more than one chunk).
  const sum = chunk < n ? allocOutput(backend, [PRODUCTS * (o * c + BANK_PAD)]) : undefined;
  try {
    const mt = byteOffset(backend, m.table);
    for (let b0 = 0; b0 < n; b0 += chunk) {
      const images = Math.min(chunk, n - b0);
      const tiles = images * th * tw;
      const v = bank(backend, PRODUCTS, tiles, c);
      const d = bank(backend, PRODUCTS, o, tiles);
      try {
        const [vt, dt] = [byteOffset(backend, v.table), byteOffset(backend, d.table)];
        const xAt = byteOffset(backend, x) + 4 * b0 * h * w * c;
        const dyAt = byteOffset(backend, dy) + 4 * b0 * oh * ow * o;
        parallel(instance, 'inputTransform', images, [xAt], [h, w, c, padT, padL, th, tw, vt]);
        parallel(instance, 'gradTransformT', images, [dyAt, images], [oh, ow, o, th, tw, dt]);
        parallel(instance, 'filterGradProducts', PRODUCTS, [dt, vt, mt, o, c, tiles]);
      } finally {
        disposeBank(backend, v);
        disposeBank(backend, d);
      }
      if (sum !== undefined) {
        const heap = backend.wasm.HEAPF32;
        const [from, to] = [byteOffset(backend, m.data) >>> 2, byteOffset(backend, sum) >>> 2];
        const size = PRODUCTS * (o * c + BANK_PAD);
        if (b0 === 0) heap.copyWithin(to, from, from + size);
        else for (let k = 0; k < size; k++) heap[to + k] = heap[to + k]! + heap[from + k]!;
      }
    }
    if (sum !== undefined) {
      const heap = backend.wasm.HEAPF32;
      const [from, to] = [byteOffset(backend, sum) >>> 2, byteOffset(backend, m.data) >>> 2];
      heap.copyWithin(to, from, from + PRODUCTS * (o * c + BANK_PAD));
    }
    const dw = allocOutput(backend, [3, 3, c, o]);
    instance.exports.filterGradOutput(mt, byteOffset(backend, dw), c, o);
    return dw;
  } finally {
    disposeBank(backend, m);
    if (sum !== undefined) disposeInfos(backend, sum);
  }
}

/** The stock wasm kernels the forward configs delegate to, captured at registration. */
const stockForward = new Map<string, tf.KernelConfig>();

/**
 * Remembers the stock wasm `Conv2D` / `FusedConv2D` kernel that the Winograd forward configs
 * delegate to. Called by `registerWasmGradientKernels` before it replaces them.
 *
 * @example
 * ```ts
 * const current = tf.getKernel('Conv2D', 'wasm');
 * if (current !== undefined && current !== winogradConv2DConfig) setStockForwardConv(current);
 * ```
 */
export function setStockForwardConv(config: tf.KernelConfig): void {
  stockForward.set(config.kernelName, config);
}

function delegate(args: KernelArgs, name: string): TensorInfo {
  const stock = stockForward.get(name);
  if (stock === undefined) {
    throw new BackendError('wasm', `${name}: the stock wasm kernel was not captured`);
  }
  const out = stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
  if (Array.isArray(out))
    throw new BackendError('wasm', `${name}: the stock kernel returned a list`);
  return out;
}

/** The geometry of a forward NHWC conv2d with these attributes, or undefined for NCHW. */
function forwardGeometry(
  x: TensorInfo,
  filter: TensorInfo,
  attrs: tf.Conv2DAttrs,
): ConvGeometry | undefined {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') return undefined;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  return convGeometry(info);
}

function conv2dKernel(args: KernelArgs): TensorInfo {
  if (enabled) {
    const backend = asWasmBackend(args.backend, tf.Conv2D);
    const [x, filter] = requireInputs(tf.Conv2D, args.inputs, ['x', 'filter']);
    const g = forwardGeometry(x, filter, args.attrs as unknown as tf.Conv2DAttrs);
    if (g !== undefined && winogradApplies(g)) {
      return winogradConv2d(backend, x, filter, undefined, false, g);
    }
  }
  return delegate(args, tf.Conv2D);
}

function fusedConv2dKernel(args: KernelArgs): TensorInfo {
  if (enabled) {
    const backend = asWasmBackend(args.backend, tf.FusedConv2D);
    const [x, filter] = requireInputs(tf.FusedConv2D, args.inputs, ['x', 'filter']);
    const { bias, preluActivationWeights } = args.inputs as Partial<Record<string, TensorInfo>>;
    const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
    const activation = attrs.activation;
    const g = forwardGeometry(x, filter, attrs);
    if (
      g !== undefined &&
      winogradApplies(g) &&
      (activation === 'linear' || activation === 'relu') &&
      preluActivationWeights === undefined &&
      (bias === undefined || (bias.dtype === 'float32' && sizeOf(bias.shape) === g.outChannels))
    ) {
      return winogradConv2d(backend, x, filter, bias, activation === 'relu', g);
    }
  }
  return delegate(args, tf.FusedConv2D);
}

/** `Conv2D` for wasm: Winograd where it applies and is on, else the stock kernel. */
export const winogradConv2DConfig: tf.KernelConfig = {
  kernelName: tf.Conv2D,
  backendName: 'wasm',
  // The stock kernel looks its wasm function up in its setup; run it for every new backend.
  setupFunc: (backend) => stockForward.get(tf.Conv2D)?.setupFunc?.(backend),
  kernelFunc: conv2dKernel,
};

/** `FusedConv2D` for wasm: Winograd where it applies and is on, else the stock kernel. */
export const winogradFusedConv2DConfig: tf.KernelConfig = {
  kernelName: tf.FusedConv2D,
  backendName: 'wasm',
  // The stock kernel looks its wasm function up in its setup; run it for every new backend.
  setupFunc: (backend) => stockForward.get(tf.FusedConv2D)?.setupFunc?.(backend),
  kernelFunc: fusedConv2dKernel,
};

/**
 * Bias gradient of that convolution: `dy` `[N, OH, OW, O]` → `[O]` (sums over all but the
 * channel axis; O a multiple of 4), owned by the caller.
 *
 * @example
 * ```ts
 * const db = winogradBiasGradient(backend, dy);
 * ```
 */
export function winogradBiasGradient(backend: WasmBackend, dy: TensorInfo): TensorInfo {
  const o = dy.shape[dy.shape.length - 1] ?? 0;
  const db = allocOutput(backend, [o]);
  instanceFor(backend).exports.channelSums(
    byteOffset(backend, dy),
    sizeOf(dy.shape) / o,
    o,
    byteOffset(backend, db),
  );
  return db;
}

/**
 * `C = A · B` for row-major float32 `a` `[m, k]` and `b` `[k, n]` (any leading 1-dims), `n` a
 * multiple of 4, on MTU's packing-free SIMD kernel (both threads): for products whose operands
 * both change every call, like the filter gradient's `colsᵀ · dy`, where XNNPACK would first pack
 * the `[k, n]` operand. Returns `[m, n]`, owned by the caller. Used while
 * {@link setWasmConvolutions} is `'mtu'`.
 *
 * @example
 * ```ts
 * const rows = mtuMatMul(backend, cols, dyT, kc + 1, o, n * oh * ow);
 * ```
 */
export function mtuMatMul(
  backend: WasmBackend,
  a: TensorInfo,
  b: TensorInfo,
  m: number,
  n: number,
  k: number,
): TensorInfo {
  if (n % 4 !== 0 || sizeOf(a.shape) !== m * k || sizeOf(b.shape) !== n * k) {
    throw new BackendError('wasm', `mtuMatMul: bad sizes m=${m} n=${n} k=${k}`);
  }
  const instance = instanceFor(backend);
  const c = allocOutput(backend, [m, n]);
  const [aAt, bAt, cAt] = [byteOffset(backend, a), byteOffset(backend, b), byteOffset(backend, c)];
  parallel(instance, 'gemmRows', Math.ceil(m / 4), [aAt, bAt, cAt, m, n, k]);
  return c;
}
