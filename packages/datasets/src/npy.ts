/**
 * Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
 *
 * Layout: the 6-byte magic `\x93NUMPY`, one byte major and one byte minor version, the header
 * length (uint16 little-endian in v1.0, uint32 in v2.0 / v3.0), an ASCII (v3.0: UTF-8) Python dict
 * literal `{'descr': '<f4', 'fortran_order': False, 'shape': (288, 384, 3), }` padded with spaces
 * and a newline, then the raw element bytes in C order (Fortran order when `fortran_order` is
 * true). Every array read here is returned in C (row-major) order in native byte order.
 *
 * Every problem with a file (missing, truncated, bad magic, unparsable header, unsupported dtype,
 * size mismatch, out-of-range conversion) is a `CheckpointError` whose `file` is the path.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { CheckpointError, ConfigError, ShapeError } from '@mtu/core-tensors';

/** The element types this module reads and writes (NumPy names). */
export type NpyDtype =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float16'
  | 'float32'
  | 'float64';

/** Every supported {@link NpyDtype}, in a stable order. */
export const NPY_DTYPES: readonly NpyDtype[] = [
  'bool',
  'int8',
  'uint8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float16',
  'float32',
  'float64',
];

/**
 * The element storage of an {@link NpyArray}, one typed array per dtype: `bool` → `Uint8Array`
 * (0 / 1), `float16` → `Float32Array` (widened on read), `int64` / `uint64` → `BigInt64Array` /
 * `BigUint64Array`, every other dtype its own typed array.
 */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/**
 * An array read from a `.npy` file: C-order data of `shape` (product of `shape` elements; a 0-d
 * array has `shape = []` and one element).
 */
export interface NpyArray {
  /** The file it was read from (or the name given to {@link parseNpy}); errors name it. */
  readonly file: string;
  /** The stored element type (byte order already resolved). */
  readonly dtype: NpyDtype;
  /** The array's shape, e.g. `[288, 384, 3]`; `[]` for a 0-d array. */
  readonly shape: readonly number[];
  /** The elements in C (row-major) order, native byte order. */
  readonly data: NpyData;
}

/** Options of {@link encodeNpy} and {@link writeNpy}. */
export interface EncodeNpyOptions {
  /**
   * The format version (default: 1.0, or 2.0 when the header does not fit a uint16 length, as
   * NumPy does). Version 3.0 differs from 2.0 only by a UTF-8 header.
   */
  readonly version?: 1 | 2 | 3;
  /** Write the elements in Fortran (column-major) order (the data given is C order). Default false. */
  readonly fortranOrder?: boolean;
  /** Byte order of multi-byte elements (default `'little'`, like NumPy on x86 and ARM). */
  readonly byteOrder?: 'little' | 'big';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;
const MAX_HEADER_BYTES = 1 << 20;

interface DtypeInfo {
  readonly dtype: NpyDtype;
  readonly kind: string;
  readonly bytes: number;
}

const DTYPE_INFO: Readonly<Record<NpyDtype, DtypeInfo>> = {
  bool: { dtype: 'bool', kind: 'b', bytes: 1 },
  int8: { dtype: 'int8', kind: 'i', bytes: 1 },
  uint8: { dtype: 'uint8', kind: 'u', bytes: 1 },
  int16: { dtype: 'int16', kind: 'i', bytes: 2 },
  uint16: { dtype: 'uint16', kind: 'u', bytes: 2 },
  int32: { dtype: 'int32', kind: 'i', bytes: 4 },
  uint32: { dtype: 'uint32', kind: 'u', bytes: 4 },
  int64: { dtype: 'int64', kind: 'i', bytes: 8 },
  uint64: { dtype: 'uint64', kind: 'u', bytes: 8 },
  float16: { dtype: 'float16', kind: 'f', bytes: 2 },
  float32: { dtype: 'float32', kind: 'f', bytes: 4 },
  float64: { dtype: 'float64', kind: 'f', bytes: 8 },
};

/** `'<f4'` → float32 etc.; the byte order is returned separately. */
function parseDescr(file: string, descr: unknown): { info: DtypeInfo; bigEndian: boolean } {
  const supported = 'supported: <f2 <f4 <f8 <i1..<i8 <u1..<u8 |b1, either byte order';
  if (typeof descr !== 'string') {
    throw new CheckpointError(
      file,
      `unsupported dtype ${pyRepr(descr)} (structured dtypes are not supported; ${supported})`,
    );
  }
  const m = /^([<>|=])?([a-zA-Z?])(\d*)$/.exec(descr);
  const order = m?.[1] ?? '|';
  const kind = m?.[2] === '?' ? 'b' : m?.[2];
  const size = m?.[3] === '' || m?.[3] === undefined ? (kind === 'b' ? 1 : NaN) : Number(m[3]);
  const info = Object.values(DTYPE_INFO).find((d) => d.kind === kind && d.bytes === size);
  if (m === null || info === undefined) {
    throw new CheckpointError(file, `unsupported dtype '${descr}' (${supported})`);
  }
  return { info, bigEndian: order === '>' && info.bytes > 1 };
}

// --- A parser of the Python literals NumPy writes in headers -------------------------------------

type PyValue = string | number | boolean | null | PyValue[] | PyTuple | Map<string, PyValue>;

/** A Python tuple (distinguished from a list, which NumPy rejects as a shape). */
class PyTuple {
  readonly items: PyValue[];
  constructor(items: PyValue[]) {
    this.items = items;
  }
}

function pyRepr(v: unknown): string {
  if (v instanceof PyTuple) {
    return v.items.length === 1
      ? `(${pyRepr(v.items[0])},)`
      : `(${v.items.map(pyRepr).join(', ')})`;
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v instanceof Map) {
    return `{${[...v.entries()].map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(', ')}}`;
  }
  if (typeof v === 'string') return `'${v}'`;
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null) return 'None';
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Parses one Python literal (dict, tuple, list, str, int, True/False/None) from `text`. */
function parsePyLiteral(text: string, file: string): PyValue {
  let pos = 0;
  const fail = (what: string): never => {
    throw new CheckpointError(
      file,
      `cannot parse the .npy header (${what} at character ${pos}): ${JSON.stringify(text.slice(0, 200))}`,
    );
  };
  const skip = (): void => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const value = (): PyValue => {
    skip();
    const c = text[pos];
    if (c === undefined) return fail('unexpected end');
    if (c === '{') {
      pos++;
      const map = new Map<string, PyValue>();
      for (;;) {
        skip();
        if (text[pos] === '}') {
          pos++;
          return map;
        }
        const key = value();
        if (typeof key !== 'string') fail('a dict key that is not a string');
        skip();
        if (text[pos] !== ':') fail("expected ':'");
        pos++;
        map.set(key as string, value());
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      pos++;
      const items: PyValue[] = [];
      let trailingComma = false;
      for (;;) {
        skip();
        if (text[pos] === close) {
          pos++;
          break;
        }
        items.push(value());
        skip();
        trailingComma = false;
        if (text[pos] === ',') {
          pos++;
          trailingComma = true;
        } else if (text[pos] !== close) fail(`expected ',' or '${close}'`);
      }
      if (c === '[') return items;
      // `(x)` is x itself in Python; `(x,)` and `()` are tuples.
      return items.length === 1 && !trailingComma ? items[0]! : new PyTuple(items);
    }
    if (c === "'" || c === '"') {
      pos++;
      let s = '';
      for (;;) {
        const d = text[pos++];
        if (d === undefined) return fail('unterminated string');
        if (d === c) return s;
        if (d === '\\') {
          const e = text[pos++];
          if (e === undefined) return fail('unterminated string');
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
        } else s += d;
      }
    }
    const num = /^[-+]?\d+L?/.exec(text.slice(pos)); // Python 2 wrote longs as `3L`
    if (num !== null) {
      pos += num[0].length;
      if (/^[.eEjJxX]/.test(text.slice(pos))) fail('a number that is not an integer');
      return Number(num[0].replace('L', ''));
    }
    const name = /^[A-Za-z_]\w*/.exec(text.slice(pos));
    if (name !== null) {
      pos += name[0].length;
      if (name[0] === 'True') return true;
      if (name[0] === 'False') return false;
      if (name[0] === 'None') return null;
      return fail(`unknown name '${name[0]}'`);
    }
    return fail(`unexpected character ${JSON.stringify(c)}`);
  };
  const v = value();
  skip();
  if (pos < text.length) fail('trailing characters');
  return v;
}

// --- Reading ---------------------------------------------------------------------------------------

function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** Converts an IEEE 754 half (as its 16 bits) to a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Converts a number to IEEE 754 half bits (round to nearest even; overflow → ±Infinity). */
function numberToHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign; // rounds to zero (ties at exactly half go to even = 0)
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // guard against log2 rounding
  if (2 ** (e + 1) <= a) e += 1;
  if (e < -14) {
    // subnormal: units of 2^-24
    const m = roundHalfEven(a / 2 ** -24);
    return sign | m; // m may reach 1024 = smallest normal, which is the right bit pattern
  }
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Copies the element bytes into a fresh aligned buffer in C order and native (little-endian)
 * byte order, transposing a Fortran-order array and swapping big-endian elements.
 */
function normaliseBytes(
  src: Uint8Array,
  shape: readonly number[],
  itemBytes: number,
  fortran: boolean,
  swap: boolean,
): ArrayBuffer {
  const n = shape.reduce((a, b) => a * b, 1);
  const total = n * itemBytes;
  if ((!fortran || shape.length < 2) && !swap) {
    const out = new Uint8Array(total);
    out.set(src.subarray(0, total));
    return out.buffer;
  }
  const out = new Uint8Array(total);
  const rank = shape.length;
  // Fortran strides (in elements): the first axis varies fastest.
  const fStride = new Array<number>(rank);
  let s = 1;
  for (let k = 0; k < rank; k++) {
    fStride[k] = fortran ? s : 0;
    s *= shape[k]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let srcElem = 0;
  for (let i = 0; i < n; i++) {
    const from = (fortran && rank >= 2 ? srcElem : i) * itemBytes;
    const to = i * itemBytes;
    if (swap) for (let b = 0; b < itemBytes; b++) out[to + b] = src[from + itemBytes - 1 - b]!;
    else for (let b = 0; b < itemBytes; b++) out[to + b] = src[from + b]!;
    if (fortran && rank >= 2) {
      // advance the C-order multi-index (last axis fastest) and the Fortran offset with it
      for (let k = rank - 1; k >= 0; k--) {
        idx[k]! += 1;
        srcElem += fStride[k]!;
        if (idx[k]! < shape[k]!) break;
        srcElem -= fStride[k]! * shape[k]!;
        idx[k] = 0;
      }
    }
  }
  return out.buffer;
}

function typedView(dtype: NpyDtype, buffer: ArrayBuffer): NpyData {
  switch (dtype) {
    case 'bool': {
      const b = new Uint8Array(buffer);
      for (let i = 0; i < b.length; i++) if (b[i] !== 0) b[i] = 1;
      return b;
    }
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
      return new Uint8Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'uint16':
      return new Uint16Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'uint32':
      return new Uint32Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'uint64':
      return new BigUint64Array(buffer);
    case 'float16': {
      const h = new Uint16Array(buffer);
      const f = new Float32Array(h.length);
      for (let i = 0; i < h.length; i++) f[i] = halfToNumber(h[i]!);
      return f;
    }
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses the bytes of a `.npy` file. `name` (usually the path) is used in error messages.
 *
 * @param bytes - The whole file.
 * @param name - The file name errors report.
 * @returns The array in C order; see {@link NpyData} for the typed array of each dtype.
 * @throws `CheckpointError` on a bad magic, an unsupported version or dtype, an unparsable
 *   header, or when the data section is shorter or longer than `shape` and the dtype require.
 *
 * @example
 * ```ts
 * const arr = parseNpy(await readFile('depth/0.npy'), 'depth/0.npy');
 * arr.shape; // [288, 384, 1]
 * const depth = toFloat32(arr); // Float32Array of 288·384 values
 * ```
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  if (bytes.length < 10) {
    throw new CheckpointError(
      name,
      `not a .npy file: ${bytes.length} bytes is shorter than the 10-byte preamble (truncated?)`,
    );
  }
  if (!MAGIC.every((b, i) => bytes[i] === b)) {
    throw new CheckpointError(
      name,
      `not a .npy file: bad magic ${JSON.stringify(String.fromCharCode(...bytes.subarray(0, 6)))} (expected "\\x93NUMPY")`,
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3) {
    throw new CheckpointError(
      name,
      `unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) {
    throw new CheckpointError(name, `truncated: ${bytes.length} bytes, no room for the header`);
  }
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = prefix + headerLength;
  if (dataStart > bytes.length) {
    throw new CheckpointError(
      name,
      `truncated: the header claims ${headerLength} bytes but the file has ${bytes.length - prefix} after the preamble`,
    );
  }
  if (headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError(name, `the header is implausibly long (${headerLength} bytes)`);
  }
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(prefix, dataStart),
  );
  const header = parsePyLiteral(headerText, name);
  if (!(header instanceof Map)) {
    throw new CheckpointError(name, `the .npy header is not a dict: ${pyRepr(header)}`);
  }
  const keys = [...header.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    throw new CheckpointError(
      name,
      `the .npy header must have exactly the keys 'descr', 'fortran_order', 'shape'; got ${pyRepr(keys)}`,
    );
  }
  const rawShape = header.get('shape');
  if (
    !(rawShape instanceof PyTuple) ||
    !rawShape.items.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new CheckpointError(
      name,
      `invalid shape ${pyRepr(rawShape)} (a tuple of non-negative ints)`,
    );
  }
  const shape = rawShape.items as number[];
  const fortran = header.get('fortran_order');
  if (typeof fortran !== 'boolean') {
    throw new CheckpointError(name, `invalid fortran_order ${pyRepr(fortran)} (True or False)`);
  }
  const { info, bigEndian } = parseDescr(name, header.get('descr'));
  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * info.bytes;
  const have = bytes.length - dataStart;
  if (have < need) {
    throw new CheckpointError(
      name,
      `truncated: shape ${formatShape(shape)} of ${info.dtype} needs ${need} data bytes, the file has ${have}`,
    );
  }
  if (have > need) {
    throw new CheckpointError(
      name,
      `size mismatch: shape ${formatShape(shape)} of ${info.dtype} needs ${need} data bytes, the file has ${have} (${have - need} extra)`,
    );
  }
  const swap = info.bytes > 1 && bigEndian === LITTLE_ENDIAN_HOST;
  const buffer = normaliseBytes(bytes.subarray(dataStart), shape, info.bytes, fortran, swap);
  return Object.freeze({
    file: name,
    dtype: info.dtype,
    shape: Object.freeze([...shape]),
    data: typedView(info.dtype, buffer),
  });
}

/**
 * Reads a `.npy` file.
 *
 * @param path - The file.
 * @returns The array in C order (see {@link parseNpy}).
 * @throws `CheckpointError` naming `path` when it cannot be read or is not a valid `.npy`.
 *
 * @example
 * ```ts
 * const image = await readNpy('/data/nyuv2/train/image/0.npy');
 * image.shape; // [288, 384, 3]
 * ```
 */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : 'unreadable';
    throw new CheckpointError(path, `cannot read .npy file: ${why}`, { cause: error });
  }
  return parseNpy(bytes, path);
}

function flatIndexLabel(shape: readonly number[], i: number): string {
  if (shape.length < 2) return `[${i}]`;
  const idx: number[] = [];
  let r = i;
  for (let k = shape.length - 1; k >= 0; k--) {
    idx.unshift(r % shape[k]!);
    r = Math.floor(r / shape[k]!);
  }
  return `[${idx.join(', ')}]`;
}

/**
 * The array's elements as float32 (the data itself when it already is a `Float32Array`, else a
 * converted copy; int64 values convert to the nearest float).
 *
 * @example
 * ```ts
 * const x = toFloat32(await readNpy('image/0.npy')); // Float32Array, C order
 * ```
 */
export function toFloat32(arr: NpyArray): Float32Array {
  const d = arr.data;
  if (d instanceof Float32Array) return d;
  const out = new Float32Array(d.length);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
  } else {
    out.set(d);
  }
  return out;
}

/**
 * The array's elements as int32 (the data itself when it already is an `Int32Array`). Float
 * elements must be integers (e.g. labels saved as float32 `-1.0, 3.0`); every value must fit in
 * int32.
 *
 * @throws `CheckpointError` naming the file and the first offending element.
 *
 * @example
 * ```ts
 * const label = toInt32(await readNpy('label/0.npy')); // Int32Array of 288·384 classes / -1
 * ```
 */
export function toInt32(arr: NpyArray): Int32Array {
  const d = arr.data;
  if (d instanceof Int32Array) return d;
  const out = new Int32Array(d.length);
  const bad = (i: number, v: number | bigint, why: string): never => {
    throw new CheckpointError(
      arr.file,
      `${arr.dtype} element ${flatIndexLabel(arr.shape, i)} = ${String(v)} ${why}`,
    );
  };
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (v < -2147483648n || v > 2147483647n) bad(i, v, 'does not fit in int32');
      out[i] = Number(v);
    }
    return out;
  }
  const isFloat = d instanceof Float32Array || d instanceof Float64Array;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (isFloat && !Number.isInteger(v)) bad(i, v, 'is not an integer');
    if (v < -2147483648 || v > 2147483647) bad(i, v, 'does not fit in int32');
    out[i] = v;
  }
  return out;
}

// --- Writing ---------------------------------------------------------------------------------------

const INT_RANGE: Readonly<Partial<Record<NpyDtype, readonly [bigint, bigint]>>> = {
  int8: [-128n, 127n],
  uint8: [0n, 255n],
  int16: [-32768n, 32767n],
  uint16: [0n, 65535n],
  int32: [-2147483648n, 2147483647n],
  uint32: [0n, 4294967295n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  bool: [0n, 1n],
};

function descrOf(info: DtypeInfo, big: boolean): string {
  if (info.bytes === 1) return `|${info.kind}1`;
  return `${big ? '>' : '<'}${info.kind}${info.bytes}`;
}

/**
 * Encodes an array as the bytes of a `.npy` file, exactly as `numpy.save` writes it (same header
 * text, padding to 64 bytes and version choice).
 *
 * @param data - The elements in C order: numbers, or bigints for `int64` / `uint64` (numbers are
 *   accepted there too when they are safe integers). Integer dtypes require integers in range;
 *   `bool` requires 0 / 1.
 * @param shape - The array's shape (`[]` for a 0-d array); its product must equal `data.length`.
 * @param dtype - The element type to store (default `'float32'`).
 * @param options - Version, Fortran order and byte order.
 * @throws `ShapeError` on a length mismatch; {@link ConfigError} on an unsupported dtype or an
 *   element the dtype cannot hold.
 *
 * @example
 * ```ts
 * const bytes = encodeNpy(new Float32Array(288 * 384), [288, 384, 1]);
 * parseNpy(bytes, 'depth.npy').shape; // [288, 384, 1]
 * ```
 */
export function encodeNpy(
  data: ArrayLike<number> | ArrayLike<bigint>,
  shape: readonly number[],
  dtype: NpyDtype = 'float32',
  options: EncodeNpyOptions = {},
): Uint8Array {
  const info = DTYPE_INFO[dtype] as DtypeInfo | undefined;
  if (info === undefined) {
    throw new ConfigError('dtype', dtype, `must be one of ${NPY_DTYPES.join(', ')}`);
  }
  shape.forEach((d, k) => {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ConfigError(`shape[${k}]`, d, 'must be a non-negative integer');
    }
  });
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new ShapeError(
      `encodeNpy: shape ${formatShape(shape)} holds ${count} elements, data has ${data.length}`,
      { expected: [count], actual: [data.length] },
    );
  }
  const fortran = options.fortranOrder ?? false;
  const big = (options.byteOrder ?? 'little') === 'big';
  let header = `{'descr': '${descrOf(info, big)}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${formatShape(shape)}, }`;
  if (shape.length > 0) {
    const growth = String(shape[fortran ? shape.length - 1 : 0]);
    header += ' '.repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - growth.length));
  }
  const headerBytes = new TextEncoder().encode(header); // the header is ASCII
  const hlen = headerBytes.length + 1;
  const padded = (prefix: number): number => hlen + ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
  // like numpy: version 1.0 unless its uint16 header length overflows
  const version = options.version ?? (padded(10) <= 65535 ? 1 : 2);
  const prefix = version === 1 ? 10 : 12;
  const total = padded(prefix);
  if (version === 1 && total > 65535) {
    throw new ConfigError('version', 1, `the header (${total} bytes) does not fit version 1.0`);
  }
  const dataStart = prefix + total;
  const out = new Uint8Array(dataStart + count * info.bytes);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, total, true);
  else view.setUint32(8, total, true);
  out.set(headerBytes, prefix);
  out.fill(0x20, prefix + headerBytes.length, dataStart - 1);
  out[dataStart - 1] = 0x0a;

  // the order in which C-order elements are written
  let order: ArrayLike<number> | undefined;
  if (fortran && shape.length >= 2) {
    const perm = new Int32Array(count);
    const rank = shape.length;
    const cStride = new Array<number>(rank);
    let s = 1;
    for (let k = rank - 1; k >= 0; k--) {
      cStride[k] = s;
      s *= shape[k]!;
    }
    const idx = new Array<number>(rank).fill(0);
    let c = 0;
    for (let i = 0; i < count; i++) {
      perm[i] = c;
      for (let k = 0; k < rank; k++) {
        idx[k]! += 1;
        c += cStride[k]!;
        if (idx[k]! < shape[k]!) break;
        c -= cStride[k]! * shape[k]!;
        idx[k] = 0;
      }
    }
    order = perm;
  }
  const little = !big;
  const range = INT_RANGE[dtype];
  for (let i = 0; i < count; i++) {
    const j = order === undefined ? i : order[i]!;
    const raw = data[j]!;
    const at = dataStart + i * info.bytes;
    if (range !== undefined) {
      let v: bigint;
      if (typeof raw === 'bigint') v = raw;
      else if (Number.isSafeInteger(raw)) v = BigInt(raw);
      else throw new ConfigError(`data[${j}]`, raw, `must be an integer to be stored as ${dtype}`);
      if (v < range[0] || v > range[1]) {
        throw new ConfigError(
          `data[${j}]`,
          String(v),
          `is outside the ${dtype} range [${range[0]}, ${range[1]}]`,
        );
      }
      switch (dtype) {
        case 'bool':
        case 'uint8':
          view.setUint8(at, Number(v));
          break;
        case 'int8':
          view.setInt8(at, Number(v));
          break;
        case 'int16':
          view.setInt16(at, Number(v), little);
          break;
        case 'uint16':
          view.setUint16(at, Number(v), little);
          break;
        case 'int32':
          view.setInt32(at, Number(v), little);
          break;
        case 'uint32':
          view.setUint32(at, Number(v), little);
          break;
        case 'int64':
          view.setBigInt64(at, v, little);
          break;
        default:
          view.setBigUint64(at, v, little);
      }
    } else {
      const v = Number(raw);
      if (dtype === 'float16') view.setUint16(at, numberToHalf(v), little);
      else if (dtype === 'float32') view.setFloat32(at, v, little);
      else view.setFloat64(at, v, little);
    }
  }
  return out;
}

/**
 * Writes an array as a `.npy` file (see {@link encodeNpy} for the arguments).
 *
 * @throws `CheckpointError` naming `path` when the file cannot be written.
 *
 * @example
 * ```ts
 * await writeNpy('/tmp/label.npy', Int32Array.from([0, 1, -1, 2]), [2, 2], 'int64');
 * ```
 */
export async function writeNpy(
  path: string,
  data: ArrayLike<number> | ArrayLike<bigint>,
  shape: readonly number[],
  dtype: NpyDtype = 'float32',
  options: EncodeNpyOptions = {},
): Promise<void> {
  const bytes = encodeNpy(data, shape, dtype, options);
  try {
    await writeFile(path, bytes);
  } catch (error) {
    throw new CheckpointError(path, 'cannot write .npy file', { cause: error });
  }
}
