/**
 * Pure-JS image resizing of channels-last arrays, for resizing datasets on load.
 *
 * Every function takes `data` holding `N` instances of shape `[h, w, c]` back to back (NHWC; `N` is
 * `data.length / (h·w·c)`, usually 1), and returns a new array of `N` instances of `[outH, outW, c]`.
 * The conventions follow PyTorch's `F.interpolate` (what the MTAN / LibMTL pipelines use):
 *
 * - {@link resizeNearest} — `mode='nearest'`: output pixel `o` reads source pixel
 *   `min(floor(o · in / out), in − 1)` on each axis. For labels, depth and validity masks: no
 *   value is ever invented, the ignore index −1 and depth 0 stay markers of invalid pixels.
 * - {@link resizeBilinear} — `mode='bilinear', align_corners=False` (half-pixel centres, no
 *   antialiasing): output pixel `o` samples the source at `s = max(0, (o + 0.5) · in / out − 0.5)`,
 *   interpolating between `floor(s)` and `min(floor(s) + 1, in − 1)` with weights
 *   `1 − (s − floor(s))` and `s − floor(s)`. For images.
 * - {@link resizeNormals} — bilinear, then each vector renormalised to unit length. Validity: an
 *   output pixel is invalid, `(0, 0, 0)`, when any source pixel that contributes to it with a
 *   non-zero weight is invalid (or when the interpolated vector is ~0, e.g. opposite normals).
 *   This is conservative (the invalid region grows by at most one source pixel on each side) and
 *   never mixes a real normal with the `(0, 0, 0)` marker.
 *
 * @module
 */
import { ConfigError, ShapeError } from '@mtu/core-tensors';

/** A per-instance shape `[height, width, channels]`. */
export type HWC = readonly [number, number, number];

/** An output size `[height, width]`. */
export type HW = readonly [number, number];

function checkArgs(
  fn: string,
  length: number,
  shape: HWC,
  size: HW,
): { n: number; h: number; w: number; c: number; oh: number; ow: number } {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new ConfigError(`${fn}.shape`, shape, 'must be [height, width, channels]');
  }
  if (!Array.isArray(size) || size.length !== 2) {
    throw new ConfigError(`${fn}.size`, size, 'must be [height, width]');
  }
  const [h, w, c] = shape;
  const [oh, ow] = size;
  for (const [name, v] of [
    ['shape[0]', h],
    ['shape[1]', w],
    ['shape[2]', c],
    ['size[0]', oh],
    ['size[1]', ow],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(`${fn}.${name}`, v, 'must be a positive integer');
    }
  }
  const per = h * w * c;
  if (length % per !== 0) {
    throw new ShapeError(
      `${fn}: data length ${length} is not a multiple of h·w·c = ${h}·${w}·${c} = ${per}`,
      { expected: [-1, h, w, c], actual: [length] },
    );
  }
  return { n: length / per, h, w, c, oh, ow };
}

/** Source index of each output index for PyTorch's `mode='nearest'`. */
function nearestIndex(inSize: number, outSize: number): Int32Array {
  const scale = inSize / outSize;
  const idx = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) idx[o] = Math.min(Math.floor(o * scale), inSize - 1);
  return idx;
}

/** Two source indices and the weight of the second, per output index (half-pixel centres). */
function bilinearTaps(
  inSize: number,
  outSize: number,
): { i0: Int32Array; i1: Int32Array; l1: Float64Array } {
  const scale = inSize / outSize;
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l1 = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const s = Math.max(0, (o + 0.5) * scale - 0.5);
    const a = Math.min(Math.floor(s), inSize - 1);
    i0[o] = a;
    i1[o] = a < inSize - 1 ? a + 1 : a;
    l1[o] = a < inSize - 1 ? s - a : 0;
  }
  return { i0, i1, l1 };
}

/**
 * Nearest-neighbour resize (PyTorch `mode='nearest'`): every output value is a copy of one source
 * value. Use it for int32 labels, depth and validity masks.
 *
 * @param data - `N · h · w · c` values, NHWC.
 * @param shape - One instance's `[h, w, c]`.
 * @param size - The output `[outH, outW]`.
 * @returns A new array of the same type, `N · outH · outW · c` values.
 *
 * @example
 * ```ts
 * // a [2, 2, 1] label map upsampled to [4, 4]: each source pixel becomes a 2×2 block
 * resizeNearest(Int32Array.from([0, 1, 2, -1]), [2, 2, 1], [4, 4]);
 * // Int32Array [0, 0, 1, 1,  0, 0, 1, 1,  2, 2, -1, -1,  2, 2, -1, -1]
 * ```
 */
export function resizeNearest<T extends Float32Array | Int32Array | Uint8Array>(
  data: T,
  shape: HWC,
  size: HW,
): T {
  const { n, h, w, c, oh, ow } = checkArgs('resizeNearest', data.length, shape, size);
  const out = new (data.constructor as new (length: number) => T)(n * oh * ow * c);
  const ys = nearestIndex(h, oh);
  const xs = nearestIndex(w, ow);
  let o = 0;
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let y = 0; y < oh; y++) {
      const row = base + ys[y]! * w * c;
      for (let x = 0; x < ow; x++) {
        const p = row + xs[x]! * c;
        for (let k = 0; k < c; k++) out[o++] = data[p + k]!;
      }
    }
  }
  return out;
}

/**
 * Bilinear resize with half-pixel centres, as PyTorch's
 * `F.interpolate(x, size, mode='bilinear', align_corners=False)` (no antialiasing). Use it for
 * images. Resizing to the same size returns an exact copy.
 *
 * @param data - `N · h · w · c` float values, NHWC.
 * @param shape - One instance's `[h, w, c]`.
 * @param size - The output `[outH, outW]`.
 * @returns A new `Float32Array` of `N · outH · outW · c` values.
 *
 * @example
 * ```ts
 * // a 1×2 ramp upsampled to 1×4: source positions -0.25, 0.25, 0.75, 1.25 (clamped)
 * resizeBilinear(Float32Array.from([0, 1]), [1, 2, 1], [1, 4]); // [0, 0.25, 0.75, 1]
 * ```
 */
export function resizeBilinear(data: Float32Array, shape: HWC, size: HW): Float32Array {
  const { n, h, w, c, oh, ow } = checkArgs('resizeBilinear', data.length, shape, size);
  if (oh === h && ow === w) return data.slice();
  const out = new Float32Array(n * oh * ow * c);
  const ty = bilinearTaps(h, oh);
  const tx = bilinearTaps(w, ow);
  let o = 0;
  for (let b = 0; b < n; b++) {
    const base = b * h * w * c;
    for (let y = 0; y < oh; y++) {
      const r0 = base + ty.i0[y]! * w * c;
      const r1 = base + ty.i1[y]! * w * c;
      const wy1 = ty.l1[y]!;
      const wy0 = 1 - wy1;
      for (let x = 0; x < ow; x++) {
        const c0 = tx.i0[x]! * c;
        const c1 = tx.i1[x]! * c;
        const wx1 = tx.l1[x]!;
        const wx0 = 1 - wx1;
        for (let k = 0; k < c; k++) {
          out[o++] =
            wy0 * (wx0 * data[r0 + c0 + k]! + wx1 * data[r0 + c1 + k]!) +
            wy1 * (wx0 * data[r1 + c0 + k]! + wx1 * data[r1 + c1 + k]!);
        }
      }
    }
  }
  return out;
}

/**
 * Resizes a surface-normal map: bilinear interpolation (as {@link resizeBilinear}), then every
 * vector renormalised to unit length. An output pixel is `(0, 0, 0)` (invalid) when a source
 * pixel with a non-zero bilinear weight is `(0, 0, 0)`, or when the interpolated vector has a norm
 * below 1e-6. At the same size the map is copied unchanged.
 *
 * @param data - `N · h · w · 3` values, NHWC.
 * @param shape - One instance's `[h, w, 3]`.
 * @param size - The output `[outH, outW]`.
 * @returns A new `Float32Array` of `N · outH · outW · 3` values: unit vectors or `(0, 0, 0)`.
 *
 * @example
 * ```ts
 * const n = resizeNormals(normals, [288, 384, 3], [144, 192]); // [144, 192, 3] unit or 0
 * ```
 */
export function resizeNormals(data: Float32Array, shape: HWC, size: HW): Float32Array {
  const { n, h, w, c, oh, ow } = checkArgs('resizeNormals', data.length, shape, size);
  if (c !== 3) throw new ConfigError('resizeNormals.shape[2]', c, 'normals have 3 channels');
  if (oh === h && ow === w) return data.slice();
  const out = new Float32Array(n * oh * ow * 3);
  const ty = bilinearTaps(h, oh);
  const tx = bilinearTaps(w, ow);
  const tapAt = new Int32Array(4);
  const tapWeight = new Float64Array(4);
  const invalid = (p: number): boolean => data[p] === 0 && data[p + 1] === 0 && data[p + 2] === 0;
  for (let b = 0; b < n; b++) {
    const base = b * h * w * 3;
    for (let y = 0; y < oh; y++) {
      const r0 = base + ty.i0[y]! * w * 3;
      const r1 = base + ty.i1[y]! * w * 3;
      const wy1 = ty.l1[y]!;
      const wy0 = 1 - wy1;
      for (let x = 0; x < ow; x++) {
        const o = ((b * oh + y) * ow + x) * 3;
        const c0 = tx.i0[x]! * 3;
        const c1 = tx.i1[x]! * 3;
        const wx1 = tx.l1[x]!;
        const wx0 = 1 - wx1;
        tapAt[0] = r0 + c0;
        tapAt[1] = r0 + c1;
        tapAt[2] = r1 + c0;
        tapAt[3] = r1 + c1;
        tapWeight[0] = wy0 * wx0;
        tapWeight[1] = wy0 * wx1;
        tapWeight[2] = wy1 * wx0;
        tapWeight[3] = wy1 * wx1;
        let sx = 0;
        let sy = 0;
        let sz = 0;
        let ok = true;
        for (let t = 0; t < 4; t++) {
          const p = tapAt[t]!;
          const wt = tapWeight[t]!;
          if (wt === 0) continue;
          if (invalid(p)) {
            ok = false;
            break;
          }
          sx += wt * data[p]!;
          sy += wt * data[p + 1]!;
          sz += wt * data[p + 2]!;
        }
        const norm = Math.hypot(sx, sy, sz);
        if (ok && norm >= 1e-6) {
          out[o] = sx / norm;
          out[o + 1] = sy / norm;
          out[o + 2] = sz / norm;
        } // else stays (0, 0, 0)
      }
    }
  }
  return out;
}
