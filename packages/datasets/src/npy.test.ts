import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, ConfigError, ShapeError } from '@mtu/core-tensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NpyDtype } from './npy.js';
import { encodeNpy, parseNpy, readNpy, toFloat32, toInt32, writeNpy } from './npy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtu-npy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * An independent `.npy` writer for fixtures: magic, version, header length (uint16 for v1, uint32
 * for v2/v3), the header text padded with spaces and a newline to 64 bytes, then `data`.
 */
function handMade(header: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  let text = header;
  while ((prefix + text.length + 1) % 64 !== 0) text += ' ';
  text += '\n';
  const h = new TextEncoder().encode(text);
  const out = new Uint8Array(prefix + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, prefix);
  out.set(data, prefix + h.length);
  return out;
}

/** Little-endian bytes of float32 values. */
function f32(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
function f64(values: number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}

/**
 * Files written by `numpy.lib.format.write_array` (NumPy 1.24.2), base64; generated once by hand
 * (the tests do not need NumPy).
 */
const NUMPY = {
  // np.arange(6, dtype='<f4').reshape(2, 3) * 0.5 - 1
  f4_2x3:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIC/AAAAvwAAAAAAAAA/AACAPwAAwD8=',
  // np.asfortranarray(np.arange(6, dtype='<f8').reshape(2, 3) + 0.25)
  f8_fortran_2x3:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADQPwAAAAAAAApAAAAAAAAA9D8AAAAAAAARQAAAAAAAAAJAAAAAAAAAFUA=',
  // np.array([-1, 0, 7, 2**40], dtype='<i8')
  i8: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr//////////wAAAAAAAAAABwAAAAAAAAAAAAAAAAEAAA==',
  // np.array(3.5, dtype='<f2')
  f2_scalar:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAQw==',
  // np.zeros((0, 3), dtype='|u1')
  u1_empty:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
  // np.array([True, False, True])
  bool: 'k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  // np.arange(-2, 2, dtype='>i2')
  i2_be:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPmkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr//v//AAAAAQ==',
  // write_array(f, np.array([[1.5], [2.5]], dtype='<f4'), version=(2, 0))
  f4_v2:
    'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMSksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAMA/AAAgQA==',
  // np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4))
  f4_fortran_3d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQQAAgEAAAIBBAAAAQQAAoEEAAIA/AABQQQAAoEAAAIhBAAAQQQAAqEEAAABAAABgQQAAwEAAAJBBAAAgQQAAsEEAAEBAAABwQQAA4EAAAJhBAAAwQQAAuEE=',
} as const;

function numpyBytes(key: keyof typeof NUMPY): Uint8Array {
  return new Uint8Array(Buffer.from(NUMPY[key], 'base64'));
}

function expectCheckpointError(fn: () => unknown, file: string, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const e = caught as CheckpointError;
  expect(e.file).toBe(file);
  expect(e.message).toContain(file);
  expect(e.message).toMatch(pattern);
}

describe('parseNpy: hand-built files', () => {
  it('reads a v1.0 little-endian float32 C-order array', () => {
    const bytes = handMade(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      f32([1, 2, 3, 4, 5, 6]),
    );
    const arr = parseNpy(bytes, 'a.npy');
    expect(arr.file).toBe('a.npy');
    expect(arr.dtype).toBe('float32');
    expect(arr.shape).toEqual([2, 3]);
    expect(arr.data).toBeInstanceOf(Float32Array);
    expect(Array.from(arr.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('transposes a Fortran-order array to C order', () => {
    // a = [[0, 1, 2], [10, 11, 12]] stored column by column: 0, 10, 1, 11, 2, 12
    const bytes = handMade(
      "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
      f64([0, 10, 1, 11, 2, 12]),
    );
    const arr = parseNpy(bytes, 'f.npy');
    expect(arr.dtype).toBe('float64');
    expect(arr.shape).toEqual([2, 3]);
    expect(Array.from(arr.data as Float64Array)).toEqual([0, 1, 2, 10, 11, 12]);
  });

  it('transposes a rank-3 Fortran-order array', () => {
    // element [i, j, k] = 100 i + 10 j + k, shape (2, 3, 2); Fortran order: i fastest, then j, then k
    const fortran: number[] = [];
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) fortran.push(100 * i + 10 * j + k);
    const c: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) c.push(100 * i + 10 * j + k);
    const arr = parseNpy(
      handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3, 2), }", f32(fortran)),
      'f3.npy',
    );
    expect(Array.from(arr.data as Float32Array)).toEqual(c);
  });

  it('reads a v2.0 header (uint32 length) and a v3.0 header (UTF-8)', () => {
    const data = f32([7, 8]);
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    for (const major of [2, 3]) {
      const arr = parseNpy(handMade(header, data, major), `v${major}.npy`);
      expect(arr.shape).toEqual([2]);
      expect(Array.from(arr.data as Float32Array)).toEqual([7, 8]);
    }
  });

  it('reads int64, and toInt32 / toFloat32 convert it', () => {
    const raw = new Uint8Array(BigInt64Array.from([-1n, 0n, 12n, 2147483647n]).buffer);
    const arr = parseNpy(
      handMade("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", raw),
      'i8.npy',
    );
    expect(arr.dtype).toBe('int64');
    expect(arr.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(toInt32(arr))).toEqual([-1, 0, 12, 2147483647]);
    expect(Array.from(toFloat32(arr))).toEqual([-1, 0, 12, 2147483648]);
  });

  it('rejects int64 values outside int32 in toInt32, naming the file and position', () => {
    const raw = new Uint8Array(BigInt64Array.from([0n, 1n, 2n ** 31n]).buffer);
    const arr = parseNpy(
      handMade("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 3), }", raw),
      'big.npy',
    );
    expectCheckpointError(() => toInt32(arr), 'big.npy', /\[0, 2\] = 2147483648 does not fit/);
  });

  it('toInt32 accepts integer-valued floats and rejects fractions', () => {
    const ok = parseNpy(
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f32([-1, 0, 12])),
      'ok.npy',
    );
    expect(Array.from(toInt32(ok))).toEqual([-1, 0, 12]);
    const bad = parseNpy(
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f32([1, 2.5, 3])),
      'frac.npy',
    );
    expectCheckpointError(() => toInt32(bad), 'frac.npy', /\[1\] = 2.5 is not an integer/);
  });

  it('reads float64 and converts to float32', () => {
    const arr = parseNpy(
      handMade("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f64([0.1, -2])),
      'f8.npy',
    );
    const f = toFloat32(arr);
    expect(f).toBeInstanceOf(Float32Array);
    expect(f[0]).toBeCloseTo(0.1, 7);
    expect(f[1]).toBe(-2);
  });

  it('reads 0-d and empty arrays', () => {
    const scalar = parseNpy(
      handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f32([2.5])),
      's.npy',
    );
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float32Array)).toEqual([2.5]);
    const empty = parseNpy(
      handMade("{'descr': '<i4', 'fortran_order': True, 'shape': (0, 5), }", new Uint8Array(0)),
      'e.npy',
    );
    expect(empty.shape).toEqual([0, 5]);
    expect(empty.data.length).toBe(0);
  });

  it('reads big-endian data', () => {
    const raw = new Uint8Array(8);
    const view = new DataView(raw.buffer);
    view.setFloat32(0, 1.5, false);
    view.setFloat32(4, -3, false);
    const arr = parseNpy(
      handMade("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", raw),
      'be.npy',
    );
    expect(Array.from(arr.data as Float32Array)).toEqual([1.5, -3]);
  });

  it('reads every supported dtype', () => {
    const cases: [string, NpyDtype, Uint8Array, number[]][] = [
      ['|b1', 'bool', Uint8Array.from([1, 0, 2]), [1, 0, 1]],
      ['|i1', 'int8', Uint8Array.from([255, 0, 127]), [-1, 0, 127]],
      ['|u1', 'uint8', Uint8Array.from([255, 0, 7]), [255, 0, 7]],
      ['<i2', 'int16', new Uint8Array(Int16Array.from([-300, 0, 5]).buffer), [-300, 0, 5]],
      ['<u2', 'uint16', new Uint8Array(Uint16Array.from([65535, 0, 5]).buffer), [65535, 0, 5]],
      ['<i4', 'int32', new Uint8Array(Int32Array.from([-7, 0, 5]).buffer), [-7, 0, 5]],
      ['<u4', 'uint32', new Uint8Array(Uint32Array.from([4e9, 0, 5]).buffer), [4e9, 0, 5]],
      // float16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800
      [
        '<f2',
        'float16',
        new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3800]).buffer),
        [1, -2, 0.5],
      ],
      ['<u8', 'uint64', new Uint8Array(BigUint64Array.from([3n, 0n, 9n]).buffer), [3, 0, 9]],
    ];
    for (const [descr, dtype, raw, expected] of cases) {
      const arr = parseNpy(
        handMade(`{'descr': '${descr}', 'fortran_order': False, 'shape': (3,), }`, raw),
        `${dtype}.npy`,
      );
      expect(arr.dtype, descr).toBe(dtype);
      expect(Array.from(toFloat32(arr)), descr).toEqual(expected);
    }
  });

  it('parses the header as a Python literal, not JSON', () => {
    // double quotes, keys in another order, no trailing comma, Python 2 longs, odd spacing
    const bytes = handMade(
      '{ "shape" : ( 2L ,3L ) ,"fortran_order":False,  "descr":"<f4"}',
      f32([1, 2, 3, 4, 5, 6]),
    );
    const arr = parseNpy(bytes, 'py.npy');
    expect(arr.shape).toEqual([2, 3]);
  });
});

describe('parseNpy: NumPy-written files', () => {
  it('reads files written by numpy.save', () => {
    expect(Array.from(toFloat32(parseNpy(numpyBytes('f4_2x3'), 'x')))).toEqual([
      -1, -0.5, 0, 0.5, 1, 1.5,
    ]);
    const f = parseNpy(numpyBytes('f8_fortran_2x3'), 'x');
    expect(f.shape).toEqual([2, 3]);
    expect(Array.from(f.data as Float64Array)).toEqual([0.25, 1.25, 2.25, 3.25, 4.25, 5.25]);
    const i8 = parseNpy(numpyBytes('i8'), 'x');
    expect(Array.from(i8.data as BigInt64Array)).toEqual([-1n, 0n, 7n, 2n ** 40n]);
    const h = parseNpy(numpyBytes('f2_scalar'), 'x');
    expect([h.dtype, h.shape, Array.from(h.data as Float32Array)]).toEqual(['float16', [], [3.5]]);
    expect(parseNpy(numpyBytes('u1_empty'), 'x').shape).toEqual([0, 3]);
    expect(Array.from(parseNpy(numpyBytes('bool'), 'x').data as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(parseNpy(numpyBytes('i2_be'), 'x').data as Int16Array)).toEqual([
      -2, -1, 0, 1,
    ]);
    expect(Array.from(parseNpy(numpyBytes('f4_v2'), 'x').data as Float32Array)).toEqual([1.5, 2.5]);
    const f3 = parseNpy(numpyBytes('f4_fortran_3d'), 'x');
    expect(Array.from(f3.data as Float32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it('encodeNpy writes the same bytes as NumPy', () => {
    const same = (a: Uint8Array, key: keyof typeof NUMPY): void => {
      expect(Buffer.from(a).toString('base64'), key).toBe(NUMPY[key]);
    };
    same(encodeNpy([-1, -0.5, 0, 0.5, 1, 1.5], [2, 3], 'float32'), 'f4_2x3');
    same(
      encodeNpy([0.25, 1.25, 2.25, 3.25, 4.25, 5.25], [2, 3], 'float64', { fortranOrder: true }),
      'f8_fortran_2x3',
    );
    same(encodeNpy([-1n, 0n, 7n, 2n ** 40n], [4], 'int64'), 'i8');
    same(encodeNpy([3.5], [], 'float16'), 'f2_scalar');
    same(encodeNpy([], [0, 3], 'uint8'), 'u1_empty');
    same(encodeNpy([1, 0, 1], [3], 'bool'), 'bool');
    same(encodeNpy([-2, -1, 0, 1], [4], 'int16', { byteOrder: 'big' }), 'i2_be');
    same(encodeNpy([1.5, 2.5], [2, 1], 'float32', { version: 2 }), 'f4_v2');
    same(
      encodeNpy(
        Array.from({ length: 24 }, (_, i) => i),
        [2, 3, 4],
        'float32',
        { fortranOrder: true },
      ),
      'f4_fortran_3d',
    );
  });
});

describe('encodeNpy / writeNpy / readNpy', () => {
  it('round-trips every dtype, order, byte order and version', async () => {
    const dtypes: NpyDtype[] = [
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
    const shape = [2, 3, 2];
    for (const dtype of dtypes) {
      const values = Array.from({ length: 12 }, (_, i) =>
        dtype === 'bool' ? i % 2 : dtype.startsWith('u') ? i * 3 : i * 3 - 10,
      );
      for (const fortranOrder of [false, true]) {
        for (const byteOrder of ['little', 'big'] as const) {
          for (const version of [1, 2, 3] as const) {
            const path = join(dir, `rt-${dtype}.npy`);
            await writeNpy(path, values, shape, dtype, { fortranOrder, byteOrder, version });
            const arr = await readNpy(path);
            const where = `${dtype} ${fortranOrder} ${byteOrder} v${version}`;
            expect(arr.dtype, where).toBe(dtype);
            expect(arr.shape, where).toEqual(shape);
            expect(Array.from(toFloat32(arr)), where).toEqual(values);
          }
        }
      }
    }
  });

  it('aligns the data to 64 bytes and picks version 2.0 only for huge headers', () => {
    const small = encodeNpy(new Float32Array(6), [1, 2, 3]);
    expect(small[6]).toBe(1);
    const hlen = new DataView(small.buffer).getUint16(8, true);
    expect((10 + hlen) % 64).toBe(0);
    const manyDims = new Array<number>(22_000).fill(1);
    const huge = encodeNpy([5], manyDims);
    expect(huge[6]).toBe(2);
    const arr = parseNpy(huge, 'huge.npy');
    expect(arr.shape.length).toBe(22_000);
    expect(Array.from(arr.data as Float32Array)).toEqual([5]);
  });

  it('rounds float16 to nearest even', () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even → 1; 65520 overflows to Infinity
    const arr = parseNpy(
      encodeNpy([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 2 ** -24, -0.1], [5], 'float16'),
      'h.npy',
    );
    const got = Array.from(arr.data as Float32Array);
    expect(got.slice(0, 4)).toEqual([1, 1 + 2 ** -9, Infinity, 2 ** -24]);
    expect(got[4]).toBeCloseTo(-0.1, 3);
  });

  it('rejects data the dtype cannot hold, and length mismatches', () => {
    expect(() => encodeNpy([1, 2], [3])).toThrow(ShapeError);
    expect(() => encodeNpy([300], [1], 'uint8')).toThrow(ConfigError);
    expect(() => encodeNpy([1.5], [1], 'int32')).toThrow(/must be an integer/);
    expect(() => encodeNpy([2], [1], 'bool')).toThrow(ConfigError);
    expect(() => encodeNpy([1], [1], 'complex64' as NpyDtype)).toThrow(ConfigError);
  });
});

describe('parseNpy / readNpy errors name the file', () => {
  const good = (): Uint8Array =>
    handMade(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      f32([1, 2, 3, 4, 5, 6]),
    );

  it('missing file', async () => {
    const path = join(dir, 'nope.npy');
    await expect(readNpy(path)).rejects.toThrow(CheckpointError);
    await expect(readNpy(path)).rejects.toThrow(`${path}: cannot read .npy file: no such file`);
  });

  it('truncated data, truncated header, a stub file', async () => {
    const bytes = good();
    const path = join(dir, 'trunc.npy');
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    await expect(readNpy(path)).rejects.toThrow(
      `${path}: truncated: shape (2, 3) of float32 needs 24 data bytes, the file has 21`,
    );
    expectCheckpointError(() => parseNpy(bytes.subarray(0, 40), 'h.npy'), 'h.npy', /truncated/);
    expectCheckpointError(() => parseNpy(bytes.subarray(0, 5), 's.npy'), 's.npy', /truncated/);
    expectCheckpointError(() => parseNpy(new Uint8Array(0), 'z.npy'), 'z.npy', /truncated/);
  });

  it('extra trailing bytes', () => {
    const bytes = good();
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expectCheckpointError(() => parseNpy(longer, 'x.npy'), 'x.npy', /size mismatch.*4 extra/);
  });

  it('bad magic and unsupported version', () => {
    const bytes = good();
    bytes[1] = 0x58;
    expectCheckpointError(() => parseNpy(bytes, 'm.npy'), 'm.npy', /bad magic/);
    const v9 = good();
    v9[6] = 9;
    expectCheckpointError(() => parseNpy(v9, 'v.npy'), 'v.npy', /version 9\.0/);
    const pngLike = new TextEncoder().encode('\x89PNG\r\n\x1a\n and more bytes');
    expectCheckpointError(() => parseNpy(pngLike, 'p.npy'), 'p.npy', /not a \.npy file/);
  });

  it('unsupported dtypes', () => {
    for (const descr of ['<c8', '|O', '<U3', '<f16', '<m8']) {
      expectCheckpointError(
        () =>
          parseNpy(
            handMade(`{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }`, f32([0])),
            'd.npy',
          ),
        'd.npy',
        /unsupported dtype/,
      );
    }
    expectCheckpointError(
      () =>
        parseNpy(
          handMade(
            "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
            f32([0, 0]),
          ),
          'rec.npy',
        ),
      'rec.npy',
      /structured dtypes are not supported/,
    );
  });

  it('corrupt headers', () => {
    const bad = (header: string, pattern: RegExp): void =>
      expectCheckpointError(
        () => parseNpy(handMade(header, f32([1, 2])), 'c.npy'),
        'c.npy',
        pattern,
      );
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", /cannot parse/);
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", /invalid shape/);
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", /invalid shape/);
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", /invalid shape/);
    bad("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", /fortran_order/);
    bad("{'descr': '<f4', 'shape': (2,), }", /exactly the keys/);
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", /exactly the keys/);
    bad("('descr', '<f4')", /not a dict/);
    bad("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", /cannot parse/);
  });

  it('a folder instead of a file', async () => {
    await expect(readNpy(dir)).rejects.toThrow(CheckpointError);
  });
});
