/**
 * Tensor checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), so that
 * PyTorch and NumPy users can read MTU weights with `safetensors.torch.load_file`.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON header (padded with spaces to a
 * multiple of 8), then the raw little-endian tensor bytes. MTU stores in the header's
 * `__metadata__` (string → string, as the format requires):
 * - `format`: `"mtu-tensors"`, `mtu.version`: the checkpoint version ({@link CHECKPOINT_VERSION});
 * - `mtu.sha256`: SHA-256 of the data section, verified on load;
 * - `mtu.metadata`: the caller's metadata as JSON.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from './errors.js';
import type { DataType, NamedTensorMap, Tensor } from './tf.js';
import { tf } from './tf.js';

/** The checkpoint version this build writes and reads. */
export const CHECKPOINT_VERSION = 1;

/** JSON-serialisable metadata stored beside the tensors. */
export type CheckpointMetadata = Readonly<Record<string, unknown>>;

/** What {@link loadTensors} returns. The caller owns (and must dispose) every tensor. */
export interface LoadedTensors {
  /** The tensors by name, in file order. */
  readonly tensors: NamedTensorMap;
  /** The metadata given to {@link saveTensors} (an empty object when none). */
  readonly metadata: CheckpointMetadata;
}

/** Options of {@link loadTensors}. */
export interface LoadTensorsOptions {
  /**
   * Require MTU's format marker, version and checksum (default `true`). Pass `false` to read a
   * plain safetensors file written by other tools; its checksum is then verified only if present.
   */
  readonly requireChecksum?: boolean;
}

const DTYPE_TO_ST: Readonly<Partial<Record<DataType, string>>> = {
  float32: 'F32',
  int32: 'I32',
  bool: 'BOOL',
};
const ST_TO_DTYPE: Readonly<Record<string, { dtype: DataType; bytes: number }>> = {
  F32: { dtype: 'float32', bytes: 4 },
  I32: { dtype: 'int32', bytes: 4 },
  BOOL: { dtype: 'bool', bytes: 1 },
};
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

let tmpCounter = 0;

/**
 * Writes `path` atomically: the bytes go to a temporary file in the same folder, are flushed to
 * disk, and the file is renamed over `path`. A crash leaves the previous file intact.
 *
 * @example
 * ```ts
 * await writeFileAtomic('results/summary.json', JSON.stringify(summary));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  tmpCounter += 1;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${tmpCounter}.tmp`);
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Saves named tensors to a safetensors file, atomically, with a SHA-256 checksum.
 * Supported dtypes: float32, int32, bool. Tensors are not disposed.
 *
 * @param path - destination file (conventionally `*.safetensors`).
 * @param tensors - tensors by name; any shapes.
 * @param metadata - JSON-serialisable provenance stored in the header.
 * @example
 * ```ts
 * const w = tf.ones([3, 3, 1, 8]);
 * await saveTensors('model.safetensors', { 'shared/conv1/w': w }, { seed: 1 });
 * const { tensors, metadata } = await loadTensors('model.safetensors');
 * ```
 */
export async function saveTensors(
  path: string,
  tensors: NamedTensorMap,
  metadata: CheckpointMetadata = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const stDtype = DTYPE_TO_ST[tensor.dtype];
    if (stDtype === undefined) {
      throw new CheckpointError(path, `tensor '${name}' has unsupported dtype ${tensor.dtype}`);
    }
    const bytes = toBytes(await tensor.data(), tensor.dtype);
    header[name] = {
      dtype: stDtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + bytes.length],
    };
    chunks.push(bytes);
    offset += bytes.length;
  }
  const data = concatBytes(chunks, offset);
  let metaJson: string;
  try {
    metaJson = JSON.stringify(metadata);
  } catch (error) {
    throw new CheckpointError(path, 'metadata is not JSON-serialisable', { cause: error });
  }
  header['__metadata__'] = {
    format: 'mtu-tensors',
    'mtu.version': String(CHECKPOINT_VERSION),
    'mtu.sha256': sha256(data),
    'mtu.metadata': metaJson,
  };
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded !== headerBytes.length) {
    const withPad = new Uint8Array(padded).fill(0x20);
    withPad.set(headerBytes);
    headerBytes = withPad;
  }
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  await writeFileAtomic(path, out);
}

/**
 * Loads a safetensors file written by {@link saveTensors} (or, with `requireChecksum: false`, by
 * any safetensors writer). Every structural problem — a missing, truncated or corrupt file, a bad
 * checksum, an unknown dtype, a wrong version — throws a {@link CheckpointError} naming the file;
 * no partial result is returned.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = await loadTensors('model.safetensors');
 * console.log(Object.keys(tensors), metadata);
 * tf.dispose(tensors);
 * ```
 */
export async function loadTensors(
  path: string,
  options: LoadTensorsOptions = {},
): Promise<LoadedTensors> {
  const requireChecksum = options.requireChecksum ?? true;
  let file: Uint8Array;
  try {
    file = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CheckpointError(path, code === 'ENOENT' ? 'file not found' : 'cannot read file', {
      cause: error,
    });
  }
  if (file.length < 8)
    throw new CheckpointError(path, `truncated: ${file.length} bytes, no header`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(file.length - 8, MAX_HEADER_BYTES))) {
    throw new CheckpointError(
      path,
      `truncated or corrupt: header length ${headerLen} exceeds the file's ${file.length - 8} bytes`,
    );
  }
  const hLen = Number(headerLen);
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, 8 + hLen)),
    );
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new Error('not an object');
    header = parsed as Record<string, unknown>;
  } catch (error) {
    throw new CheckpointError(path, 'corrupt: the header is not valid JSON', { cause: error });
  }
  const data = file.subarray(8 + hLen);
  const meta = parseMetadataBlock(path, header['__metadata__']);
  const isMtu = meta['format'] === 'mtu-tensors';
  if (requireChecksum && !isMtu) {
    throw new CheckpointError(
      path,
      'not an MTU checkpoint (no format marker); pass { requireChecksum: false } to read a plain safetensors file',
    );
  }
  if (isMtu && meta['mtu.version'] !== String(CHECKPOINT_VERSION)) {
    throw new CheckpointError(
      path,
      `unsupported checkpoint version ${JSON.stringify(meta['mtu.version'])} (this build reads version ${CHECKPOINT_VERSION})`,
    );
  }
  const expectedSum = meta['mtu.sha256'];
  if (expectedSum !== undefined) {
    const actual = sha256(data);
    if (actual !== expectedSum) {
      throw new CheckpointError(
        path,
        `corrupt: checksum mismatch (expected ${expectedSum}, got ${actual})`,
      );
    }
  } else if (requireChecksum) {
    throw new CheckpointError(path, 'missing checksum');
  }
  let metadata: CheckpointMetadata = {};
  if (meta['mtu.metadata'] !== undefined) {
    try {
      metadata = JSON.parse(meta['mtu.metadata']) as CheckpointMetadata;
    } catch (error) {
      throw new CheckpointError(path, 'corrupt: mtu.metadata is not valid JSON', { cause: error });
    }
  }
  const specs = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, spec]) => parseTensorSpec(path, name, spec, data.length));
  const tensors: NamedTensorMap = {};
  for (const spec of specs) {
    // A copy: `file` may be a Node Buffer, whose slice() is a view with an unaligned offset.
    const bytes = new Uint8Array(data.subarray(spec.begin, spec.end));
    tensors[spec.name] = fromBytes(bytes, spec.dtype, spec.shape);
  }
  return { tensors, metadata };
}

interface TensorSpec {
  name: string;
  dtype: DataType;
  shape: number[];
  begin: number;
  end: number;
}

function parseMetadataBlock(path: string, raw: unknown): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CheckpointError(path, 'corrupt: __metadata__ is not an object');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string')
      throw new CheckpointError(path, `corrupt: __metadata__.${k} is not a string`);
    out[k] = v;
  }
  return out;
}

function parseTensorSpec(path: string, name: string, raw: unknown, dataLength: number): TensorSpec {
  const bad = (why: string): CheckpointError =>
    new CheckpointError(path, `corrupt: tensor '${name}' ${why}`);
  if (typeof raw !== 'object' || raw === null) throw bad('has no description');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  const info = typeof dtype === 'string' ? ST_TO_DTYPE[dtype] : undefined;
  if (info === undefined)
    throw bad(`has unsupported dtype ${JSON.stringify(dtype)} (supported: F32, I32, BOOL)`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad(`has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    throw bad(`has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== size * info.bytes) {
    throw bad(
      `holds ${end - begin} bytes but shape ${JSON.stringify(shape)} needs ${size * info.bytes}`,
    );
  }
  if (end > dataLength)
    throw new CheckpointError(path, `truncated: tensor '${name}' ends past the end of the file`);
  return { name, dtype: info.dtype, shape: shape as number[], begin, end };
}

function toBytes(values: ArrayLike<number> | Uint8Array, dtype: DataType): Uint8Array {
  if (dtype === 'bool') return Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
  const typed =
    dtype === 'int32'
      ? Int32Array.from(values as ArrayLike<number>)
      : Float32Array.from(values as ArrayLike<number>);
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  if (!LITTLE_ENDIAN) swapWords(bytes);
  return bytes;
}

function fromBytes(bytes: Uint8Array, dtype: DataType, shape: number[]): Tensor {
  if (dtype === 'bool') return tf.tensor(bytes, shape, 'bool');
  if (!LITTLE_ENDIAN) swapWords(bytes);
  const values =
    dtype === 'int32'
      ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
      : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  return tf.tensor(values, shape, dtype);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapWords(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
