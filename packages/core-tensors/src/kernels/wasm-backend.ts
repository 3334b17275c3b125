/**
 * Plumbing shared by MTU's wasm kernels: the slice of `@tensorflow/tfjs-backend-wasm`'s backend
 * object they use, direct calls of other wasm kernels on `TensorInfo`s, and views of tensor data
 * on the wasm heap.
 *
 * Ownership rules (the same as the wasm backend's own composite kernels): every `TensorInfo` made
 * here (by {@link allocOutput} or {@link runWasmKernel}) holds one reference on its data; a kernel
 * disposes its intermediates with {@link disposeInfos} and returns exactly one owned `TensorInfo`,
 * which the engine wraps in a tensor. Nothing here goes through the engine, so no tensors are
 * tracked and no gradient tape is recorded for the intermediates.
 *
 * @module
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';

/** A tensor's identity on a backend plus its shape and dtype (tfjs-core's `TensorInfo`). */
export type TensorInfo = tf.TensorInfo;

/** What the wasm backend records per data id. */
interface WasmTensorData {
  readonly id: number;
  readonly memoryOffset: number;
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
  refCount: number;
}

/** The part of the wasm backend (`BackendWasm`) that MTU's kernels use. */
export interface WasmBackend {
  readonly dataIdMap: { get(dataId: tf.DataId): WasmTensorData | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  incRef(dataId: tf.DataId): void;
  readonly wasm: {
    readonly HEAPF32: Float32Array;
    readonly HEAP32: Int32Array;
    readonly HEAPU8: Uint8Array;
    cwrap(name: string, returnType: null, argTypes: string[]): (...args: number[]) => void;
  };
}

/**
 * Narrows the `backend` a kernel receives to {@link WasmBackend}.
 *
 * @throws {@link BackendError} when it is not the wasm backend (or an incompatible version).
 *
 * @example
 * ```ts
 * const kernelFunc: tf.KernelFunc = ({ backend }) => {
 *   const wasm = asWasmBackend(backend, 'MaxPoolGrad');
 *   // ...
 * };
 * ```
 */
export function asWasmBackend(backend: unknown, kernelName: string): WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  if (
    b == null ||
    typeof b.makeOutput !== 'function' ||
    typeof b.disposeData !== 'function' ||
    b.dataIdMap == null ||
    b.wasm == null
  ) {
    throw new BackendError('wasm', `${kernelName}: the backend is not a tfjs wasm backend`);
  }
  return b as WasmBackend;
}

/**
 * Runs another kernel registered for the wasm backend directly (not through the engine) and
 * returns its output, which the caller owns.
 *
 * @throws {@link BackendError} when no such wasm kernel is registered.
 *
 * @example
 * ```ts
 * const xT = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
 * // ... use xT ...
 * disposeInfos(backend, xT);
 * ```
 */
export function runWasmKernel(
  backend: WasmBackend,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const config = tf.getKernel(kernelName, 'wasm');
  if (config === undefined) {
    throw new BackendError('wasm', `kernel '${kernelName}' is not registered`);
  }
  const out = config.kernelFunc({
    inputs,
    attrs: attrs as tf.NamedAttrMap,
    backend,
  });
  if (Array.isArray(out)) throw new BackendError('wasm', `kernel '${kernelName}' returned a list`);
  return out;
}

/**
 * Drops the reference each `TensorInfo` holds (intermediates of a kernel).
 *
 * @example
 * ```ts
 * const t = runWasmKernel(backend, 'Transpose', { x }, { perm: [1, 0] });
 * disposeInfos(backend, t);
 * ```
 */
export function disposeInfos(backend: WasmBackend, ...infos: readonly TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/**
 * A new uninitialised tensor on the wasm heap, owned by the caller.
 *
 * @example
 * ```ts
 * const out = allocOutput(backend, [2, 3], 'float32');
 * f32View(backend, out).fill(0);
 * ```
 */
export function allocOutput(
  backend: WasmBackend,
  shape: readonly number[],
  dtype: tf.DataType = 'float32',
): TensorInfo {
  return backend.makeOutput([...shape], dtype);
}

/**
 * The same data under another shape of equal size. No reference is taken: use it only as an input
 * of another kernel while `info` is alive, or return it in place of `info` (which then must not be
 * disposed).
 *
 * @example
 * ```ts
 * // A [KH, KW, C, O] filter as the [1, KH·KW·C, O] matrix BatchMatMul wants:
 * const b = withShape(filter, [1, kh * kw * c, o]);
 * ```
 */
export function withShape(info: TensorInfo, shape: readonly number[]): TensorInfo {
  return { dataId: info.dataId, shape: [...shape], dtype: info.dtype };
}

/**
 * The byte address of a tensor's data on the wasm heap (what wasm functions take as a pointer).
 *
 * @example
 * ```ts
 * exports.channelSums(byteOffset(backend, dy), rows, o, byteOffset(backend, db));
 * ```
 */
export function byteOffset(backend: WasmBackend, info: TensorInfo): number {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === undefined) throw new BackendError('wasm', 'tensor data is not on the wasm backend');
  return data.memoryOffset;
}

/**
 * The number of elements of a shape (1 for a scalar).
 *
 * @example
 * ```ts
 * sizeOf([2, 3, 4]); // 24
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/**
 * A `Float32Array` view of a float32 tensor's data on the wasm heap (no copy). Take views after
 * the last allocation: growing the heap detaches earlier views.
 *
 * @example
 * ```ts
 * const out = allocOutput(backend, [4]);
 * f32View(backend, out).set([1, 2, 3, 4]);
 * ```
 */
export function f32View(backend: WasmBackend, info: TensorInfo): Float32Array {
  return new Float32Array(
    backend.wasm.HEAPF32.buffer,
    byteOffset(backend, info),
    sizeOf(info.shape),
  );
}

/**
 * The whole wasm heap as float32, and a tensor's offset in it (in elements): for copies between
 * tensors with `heap.copyWithin(dst, src, srcEnd)` (a `memmove`, much faster than `set` of a
 * `subarray`). Same caveat as {@link f32View}: take it after the last allocation.
 *
 * @example
 * ```ts
 * const heap = f32Heap(backend);
 * heap.copyWithin(f32Offset(backend, out), f32Offset(backend, x), f32Offset(backend, x) + n);
 * ```
 */
export function f32Heap(backend: WasmBackend): Float32Array {
  return backend.wasm.HEAPF32;
}

/**
 * The offset of a float32 tensor's first element in {@link f32Heap}.
 *
 * @example
 * ```ts
 * const first = f32Heap(backend)[f32Offset(backend, x)];
 * ```
 */
export function f32Offset(backend: WasmBackend, info: TensorInfo): number {
  return byteOffset(backend, info) >>> 2;
}

/**
 * An `Int32Array` view of an int32 tensor's data on the wasm heap (see {@link f32View}).
 *
 * @example
 * ```ts
 * const ids = i32View(backend, segmentIds);
 * ```
 */
export function i32View(backend: WasmBackend, info: TensorInfo): Int32Array {
  return new Int32Array(backend.wasm.HEAP32.buffer, byteOffset(backend, info), sizeOf(info.shape));
}

/**
 * `info` as float32: itself when it already is (`owned: false`), else a cast copy the caller must
 * dispose (`owned: true`).
 *
 * @example
 * ```ts
 * const xf = toFloat32(backend, x);
 * try {
 *   // ... read f32View(backend, xf.info) ...
 * } finally {
 *   if (xf.owned) disposeInfos(backend, xf.info);
 * }
 * ```
 */
export function toFloat32(
  backend: WasmBackend,
  info: TensorInfo,
): { readonly info: TensorInfo; readonly owned: boolean } {
  if (info.dtype === 'float32') return { info, owned: false };
  return { info: runWasmKernel(backend, 'Cast', { x: info }, { dtype: 'float32' }), owned: true };
}

/** The arguments tfjs passes to a kernel's `kernelFunc`. */
export interface KernelArgs {
  readonly inputs: tf.NamedTensorInfoMap;
  readonly backend: unknown;
  readonly attrs?: tf.NamedAttrMap;
}

/**
 * A kernel's named inputs, in the order of `names`.
 *
 * @throws {@link BackendError} (`"<kernelName>: inputs a and b are required"`) when one is missing.
 *
 * @example
 * ```ts
 * const [dy, filter] = requireInputs(tf.Conv2DBackpropInput, args.inputs, ['dy', 'filter']);
 * ```
 */
export function requireInputs<const N extends readonly string[]>(
  kernelName: string,
  inputs: tf.NamedTensorInfoMap,
  names: N,
): { readonly [I in keyof N]: TensorInfo } {
  const infos = names.map((name) => inputs[name]);
  if (infos.some((info) => info === undefined)) {
    throw new BackendError('wasm', `${kernelName}: inputs ${names.join(' and ')} are required`);
  }
  return infos as unknown as { readonly [I in keyof N]: TensorInfo };
}

/**
 * Runs `fn` on `infos` as float32 (see {@link toFloat32}) and disposes the cast copies afterwards,
 * also when `fn` throws. `fn`'s result must not be one of the cast copies.
 *
 * @example
 * ```ts
 * const [x, dy] = requireInputs(tf.MaxPoolGrad, args.inputs, ['input', 'dy']);
 * return withFloat32(backend, [x, dy], (xf, dyf) => maxPoolGradNhwc(backend, xf, dyf, g));
 * ```
 */
export function withFloat32<const T extends readonly TensorInfo[], R>(
  backend: WasmBackend,
  infos: T,
  fn: (...f32: { -readonly [I in keyof T]: TensorInfo }) => R,
): R {
  const owned: TensorInfo[] = [];
  try {
    const f32 = infos.map((info) => {
      const converted = toFloat32(backend, info);
      if (converted.owned) owned.push(converted.info);
      return converted.info;
    });
    return fn(...(f32 as unknown as Parameters<typeof fn>));
  } finally {
    disposeInfos(backend, ...owned);
  }
}

/**
 * A stock wasm kernel that one of MTU's kernels replaces and falls back to: captured by
 * `registerWasmGradientKernels` (`set`) before it registers MTU's, then run with `run`, and set up
 * for every new backend by the replacement's `setupFunc` (`setup`: stock kernels look their wasm
 * functions up there).
 */
export interface StockKernel {
  /** Remembers the stock config. */
  set(config: tf.KernelConfig): void;
  /** Runs the stock kernel (single output); throws a {@link BackendError} if none was captured. */
  run(
    backend: WasmBackend | tf.KernelBackend,
    inputs: tf.NamedTensorInfoMap,
    attrs?: tf.NamedAttrMap,
  ): TensorInfo;
  /** The stock kernel's setup for a backend (nothing if it has none). */
  setup(backend: object): void;
}

/**
 * The {@link StockKernel} slot of kernel `name`.
 *
 * @example
 * ```ts
 * const stock = stockKernel(tf.Equal);
 * // in registerWasmGradientKernels: stock.set(tf.getKernel(tf.Equal, 'wasm')!)
 * // in MTU's kernel: return stock.run(args.backend, args.inputs, args.attrs);
 * ```
 */
export function stockKernel(name: string): StockKernel {
  let config: tf.KernelConfig | undefined;
  return {
    set(c) {
      config = c;
    },
    run(backend, inputs, attrs = {}) {
      if (config === undefined) {
        throw new BackendError('wasm', `${name}: the stock wasm kernel was never registered`);
      }
      const out = config.kernelFunc({ inputs, attrs, backend: backend });
      if (Array.isArray(out)) throw new BackendError('wasm', `${name} returned a list`);
      return out;
    },
    setup(backend) {
      config?.setupFunc?.(backend);
    },
  };
}
