import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_VERSION, loadTensors, saveTensors, writeFileAtomic } from './checkpoint.js';
import { CheckpointError } from './errors.js';
import { useLeakGuard } from './testing/index.js';
import { initBackend } from './backend.js';
import { tf } from './tf.js';

let dir: string;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'mtu-ckpt-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a safetensors file by hand (an independent writer) to check the reader. */
function handMade(header: object, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('saveTensors / loadTensors', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('round-trips float32, int32 and bool tensors of any rank, with metadata', async () => {
    const path = join(dir, 'round.safetensors');
    const src = {
      'shared/conv1/w': tf.tensor4d(
        Float32Array.from({ length: 54 }, (_, i) => i * 0.5 - 3),
        [3, 3, 2, 3],
      ),
      'head/depth/b': tf.tensor1d([1.5, -2.25, Number.MIN_VALUE]),
      scalar: tf.scalar(7),
      count: tf.tensor2d([1, -2, 3, 2147483647], [2, 2], 'int32'),
      mask: tf.tensor1d([true, false, true], 'bool'),
      empty: tf.zeros([0, 4]),
    };
    await saveTensors(path, src, { seed: 3, tasks: ['seg', 'depth'] });
    const { tensors, metadata } = await loadTensors(path);
    expect(metadata).toEqual({ seed: 3, tasks: ['seg', 'depth'] });
    expect(Object.keys(tensors)).toEqual(Object.keys(src));
    for (const [name, t] of Object.entries(src)) {
      const got = tensors[name]!;
      expect(got.shape, name).toEqual(t.shape);
      expect(got.dtype, name).toBe(t.dtype);
      expect(Array.from(await got.data()), name).toEqual(Array.from(await t.data()));
    }
    tf.dispose([tensors, src]);
  });

  it('writes the safetensors layout: u64 header length, 8-byte aligned JSON header, raw LE data', async () => {
    const path = join(dir, 'layout.safetensors');
    const a = tf.tensor1d([1, 2, 3]);
    await saveTensors(path, { a });
    a.dispose();
    const bytes = await readFile(path);
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, any>;
    expect(header['a']).toEqual({ dtype: 'F32', shape: [3], data_offsets: [0, 12] });
    expect(header['__metadata__']['format']).toBe('mtu-tensors');
    expect(header['__metadata__']['mtu.version']).toBe(String(CHECKPOINT_VERSION));
    const data = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + 8 + n, bytes.byteOffset + 8 + n + 12),
    );
    expect(Array.from(data)).toEqual([1, 2, 3]);
  });

  it('reads a plain safetensors file from another writer when asked to', async () => {
    const path = join(dir, 'foreign.safetensors');
    const data = new Uint8Array(new Int32Array([4, 5, 6, 7]).buffer);
    await writeFile(
      path,
      handMade({ x: { dtype: 'I32', shape: [2, 2], data_offsets: [0, 16] } }, data),
    );
    await expect(loadTensors(path)).rejects.toThrow(/not an MTU checkpoint/);
    const { tensors, metadata } = await loadTensors(path, { requireChecksum: false });
    expect(metadata).toEqual({});
    expect(await tensors['x']!.array()).toEqual([
      [4, 5],
      [6, 7],
    ]);
    tf.dispose(tensors);
  });

  it('rejects missing, truncated, corrupt and wrong-version files with the file named', async () => {
    const good = join(dir, 'good.safetensors');
    const t = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    await saveTensors(good, { t });
    t.dispose();
    const bytes = new Uint8Array(await readFile(good));
    const cases: [string, Uint8Array | null, RegExp][] = [
      ['missing.safetensors', null, /file not found/],
      ['tiny.safetensors', bytes.subarray(0, 5), /truncated/],
      ['cut-header.safetensors', bytes.subarray(0, 20), /truncated|corrupt/],
      ['cut-data.safetensors', bytes.subarray(0, bytes.length - 4), /checksum mismatch|truncated/],
    ];
    const flipped = bytes.slice();
    flipped[flipped.length - 1]! ^= 0x40;
    cases.push(['flipped.safetensors', flipped, /checksum mismatch/]);
    const garbage = bytes.slice();
    garbage[12] = 0x7b; // '{' in the middle of the header
    garbage[13] = 0x7b;
    cases.push(['garbage.safetensors', garbage, /not valid JSON/]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      any
    >;
    header['__metadata__']['mtu.version'] = '99';
    cases.push([
      'v99.safetensors',
      handMade(header, bytes.subarray(8 + n)),
      /unsupported checkpoint version "99"/,
    ]);
    const badShape = structuredClone(header);
    badShape['__metadata__']['mtu.version'] = String(CHECKPOINT_VERSION);
    badShape['t'].shape = [3, 2];
    cases.push([
      'shape.safetensors',
      handMade(badShape, bytes.subarray(8 + n)),
      /holds 16 bytes but shape \[3,2\] needs 24/,
    ]);
    const badDtype = structuredClone(badShape);
    badDtype['t'] = { dtype: 'F64', shape: [2], data_offsets: [0, 16] };
    cases.push([
      'dtype.safetensors',
      handMade(badDtype, bytes.subarray(8 + n)),
      /unsupported dtype "F64"/,
    ]);

    for (const [name, content, message] of cases) {
      const path = join(dir, name);
      if (content !== null) await writeFile(path, content);
      const err = await loadTensors(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).file).toBe(path);
      expect((err as Error).message, name).toContain(path);
      expect((err as Error).message, name).toMatch(message);
    }
  });

  it('rejects unsupported dtypes and non-JSON metadata on save without writing anything', async () => {
    const path = join(dir, 'never.safetensors');
    const c = tf.complex([1], [2]);
    await expect(saveTensors(path, { c })).rejects.toThrow(/unsupported dtype complex64/);
    c.dispose();
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    await expect(saveTensors(path, {}, cyclic)).rejects.toThrow(/not JSON-serialisable/);
    expect((await readdir(dir)).filter((f) => f.includes('never'))).toEqual([]);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temporary file', async () => {
    const path = join(dir, 'atomic.json');
    await writeFileAtomic(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await readdir(dir)).filter((f) => f.includes('atomic') && f.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it('keeps the previous file when the write fails', async () => {
    const path = join(dir, 'keep.json');
    await writeFileAtomic(path, 'previous');
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'x.json'), 'x')).rejects.toThrow();
    // a failing rename target: a directory in the way
    await expect(writeFileAtomic(dir, 'x')).rejects.toThrow();
    expect(await readFile(path, 'utf8')).toBe('previous');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
