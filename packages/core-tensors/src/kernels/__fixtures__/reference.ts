/**
 * Float64 reference implementations of the gradient kernels, written directly from their
 * definitions as plain loops (no tfjs), for the kernel tests. Each returns the value and, per
 * element, the magnitude `Σ|terms|` that float32 rounding errors are relative to.
 *
 * Layouts are NHWC; filters `[KH, KW, C, O]` (depthwise: `[KH, KW, C, M]`).
 *
 * @module
 */

/** A float64 result and the per-element sum of absolute terms. */
export interface RefResult {
  readonly value: Float64Array;
  readonly magnitude: Float64Array;
}

/** Geometry of a 2-D window op (convolution or pooling) in NHWC. */
export interface RefGeometry {
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
  readonly sh: number;
  readonly sw: number;
  readonly dh?: number;
  readonly dw?: number;
  readonly pt: number;
  readonly pl: number;
}

function result(size: number): { value: Float64Array; magnitude: Float64Array } {
  return { value: new Float64Array(size), magnitude: new Float64Array(size) };
}

/**
 * Visits every (output pixel, tap) pair whose input pixel lies inside the input:
 * `visit(b, i, j, a, bb, hh, ww)` with tap `(a, bb)` reading input `(hh, ww)`.
 */
function forEachTap(
  g: RefGeometry,
  visit: (b: number, i: number, j: number, a: number, bb: number, hh: number, ww: number) => void,
): void {
  const dh = g.dh ?? 1;
  const dw = g.dw ?? 1;
  for (let b = 0; b < g.n; b++) {
    for (let i = 0; i < g.oh; i++) {
      for (let j = 0; j < g.ow; j++) {
        for (let a = 0; a < g.kh; a++) {
          const hh = i * g.sh + a * dh - g.pt;
          if (hh < 0 || hh >= g.h) continue;
          for (let bb = 0; bb < g.kw; bb++) {
            const ww = j * g.sw + bb * dw - g.pl;
            if (ww < 0 || ww >= g.w) continue;
            visit(b, i, j, a, bb, hh, ww);
          }
        }
      }
    }
  }
}

/** Adds term `t` to element `at` of `r` (value and magnitude). */
function accumulate(r: RefResult, at: number, t: number): void {
  r.value[at] = r.value[at]! + t;
  r.magnitude[at] = r.magnitude[at]! + Math.abs(t);
}

/**
 * Visits every term `x[n,h,w,c]·W[a,b,c,k]·dy[n,i,j,·]` of a conv2d (`depthwise: false`: filter
 * `[KH, KW, C, K]`, dy channel `k`) or a depthwise conv2d (`depthwise: true`: filter
 * `[KH, KW, C, K]` with multiplier `K`, dy channel `c·K + k`) as the flat indices of its three
 * factors, `visit(xAt, wAt, yAt)`, in the same order for every reference.
 */
function forEachConvTerm(
  g: RefGeometry,
  k: number,
  depthwise: boolean,
  visit: (xAt: number, wAt: number, yAt: number) => void,
): void {
  const yChannels = depthwise ? g.c * k : k;
  forEachTap(g, (b, i, j, a, bb, hh, ww) => {
    const xPixel = ((b * g.h + hh) * g.w + ww) * g.c;
    const yPixel = ((b * g.oh + i) * g.ow + j) * yChannels;
    for (let c = 0; c < g.c; c++) {
      const wBase = ((a * g.kw + bb) * g.c + c) * k;
      const yBase = yPixel + (depthwise ? c * k : 0);
      for (let m = 0; m < k; m++) visit(xPixel + c, wBase + m, yBase + m);
    }
  });
}

/** `conv2d` forward: `y[n,i,j,o] = Σ x[n,h,w,c]·W[a,b,c,o]`. */
export function conv2dRef(
  x: ArrayLike<number>,
  filter: ArrayLike<number>,
  g: RefGeometry,
  o: number,
): RefResult {
  const r = result(g.n * g.oh * g.ow * o);
  forEachConvTerm(g, o, false, (xAt, wAt, yAt) => accumulate(r, yAt, x[xAt]! * filter[wAt]!));
  return r;
}

/** `conv2d` filter gradient: `dW[a,b,c,o] = Σ_{n,i,j} x[n,h,w,c]·dy[n,i,j,o]`. */
export function conv2dFilterGradRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  g: RefGeometry,
  o: number,
): RefResult {
  const r = result(g.kh * g.kw * g.c * o);
  forEachConvTerm(g, o, false, (xAt, wAt, yAt) => accumulate(r, wAt, x[xAt]! * dy[yAt]!));
  return r;
}

/** `conv2d` input gradient: `dx[n,h,w,c] = Σ dy[n,i,j,o]·W[a,b,c,o]`. */
export function conv2dInputGradRef(
  dy: ArrayLike<number>,
  filter: ArrayLike<number>,
  g: RefGeometry,
  o: number,
): RefResult {
  const r = result(g.n * g.h * g.w * g.c);
  forEachConvTerm(g, o, false, (xAt, wAt, yAt) => accumulate(r, xAt, dy[yAt]! * filter[wAt]!));
  return r;
}

/** Depthwise input gradient: `dx[n,h,w,c] = Σ dy[n,i,j,c·M+m]·W[a,b,c,m]`. */
export function depthwiseInputGradRef(
  dy: ArrayLike<number>,
  filter: ArrayLike<number>,
  g: RefGeometry,
  mult: number,
): RefResult {
  const r = result(g.n * g.h * g.w * g.c);
  forEachConvTerm(g, mult, true, (xAt, wAt, yAt) => accumulate(r, xAt, dy[yAt]! * filter[wAt]!));
  return r;
}

/** Depthwise filter gradient: `dW[a,b,c,m] = Σ x[n,h,w,c]·dy[n,i,j,c·M+m]`. */
export function depthwiseFilterGradRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  g: RefGeometry,
  mult: number,
): RefResult {
  const r = result(g.kh * g.kw * g.c * mult);
  forEachConvTerm(g, mult, true, (xAt, wAt, yAt) => accumulate(r, wAt, x[xAt]! * dy[yAt]!));
  return r;
}

/**
 * Max-pool gradient (TensorFlow's semantics): each output's gradient goes to the first maximum of
 * its window in window order; positions outside the input never count.
 */
export function maxPoolGradRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  g: RefGeometry,
): RefResult {
  const r = result(g.n * g.h * g.w * g.c);
  for (let b = 0; b < g.n; b++) {
    for (let i = 0; i < g.oh; i++) {
      for (let j = 0; j < g.ow; j++) {
        for (let c = 0; c < g.c; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let a = 0; a < g.kh; a++) {
            const hh = i * g.sh + a - g.pt;
            if (hh < 0 || hh >= g.h) continue;
            for (let bb = 0; bb < g.kw; bb++) {
              const ww = j * g.sw + bb - g.pl;
              if (ww < 0 || ww >= g.w) continue;
              const idx = ((b * g.h + hh) * g.w + ww) * g.c + c;
              if (at < 0 || x[idx]! > best) {
                best = x[idx]!;
                at = idx;
              }
            }
          }
          if (at < 0) continue;
          const t = dy[((b * g.oh + i) * g.ow + j) * g.c + c]!;
          accumulate(r, at, t);
        }
      }
    }
  }
  return r;
}

/** Average-pool gradient: each output's gradient spread evenly over its window inside the input. */
export function avgPoolGradRef(dy: ArrayLike<number>, g: RefGeometry): RefResult {
  const r = result(g.n * g.h * g.w * g.c);
  const count = new Float64Array(g.oh * g.ow);
  forEachTap({ ...g, n: 1 }, (_b, i, j) => {
    count[i * g.ow + j] = count[i * g.ow + j]! + 1;
  });
  forEachTap(g, (b, i, j, _a, _bb, hh, ww) => {
    for (let c = 0; c < g.c; c++) {
      const t = dy[((b * g.oh + i) * g.ow + j) * g.c + c]! / count[i * g.ow + j]!;
      const at = ((b * g.h + hh) * g.w + ww) * g.c + c;
      accumulate(r, at, t);
    }
  });
  return r;
}

/**
 * Source coordinate of output index `o` in TensorFlow's resize definition (float64):
 * `scale = (alignCorners && out > 1) ? (in − 1)/(out − 1) : in/out`, and
 * `src = halfPixelCenters ? (o + ½)·scale − ½ : o·scale` (nearest neighbour adds the ½ back).
 */
function resizeSource(
  o: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixel: boolean,
): number {
  const scale = alignCorners && outSize > 1 ? (inSize - 1) / (outSize - 1) : inSize / outSize;
  return halfPixel ? (o + 0.5) * scale - 0.5 : o * scale;
}

/** Nearest-neighbour source index (TensorFlow: round with align corners, else floor). */
export function nearestSourceRef(
  o: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixel: boolean,
): number {
  const src = resizeSource(o, inSize, outSize, alignCorners, halfPixel) + (halfPixel ? 0.5 : 0);
  const index = alignCorners ? Math.round(src) : Math.floor(src);
  return Math.max(0, Math.min(inSize - 1, index));
}

/** Adjoint of nearest-neighbour resizing from `[n, h, w, c]` to `[n, oh, ow, c]`. */
export function resizeNearestGradRef(
  dy: ArrayLike<number>,
  shape: { n: number; h: number; w: number; c: number; oh: number; ow: number },
  alignCorners: boolean,
  halfPixel: boolean,
): RefResult {
  const { n, h, w, c, oh, ow } = shape;
  const r = result(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      const sy = nearestSourceRef(y, h, oh, alignCorners, halfPixel);
      for (let x = 0; x < ow; x++) {
        const sx = nearestSourceRef(x, w, ow, alignCorners, halfPixel);
        for (let k = 0; k < c; k++) {
          const t = dy[((b * oh + y) * ow + x) * c + k]!;
          const at = ((b * h + sy) * w + sx) * c + k;
          accumulate(r, at, t);
        }
      }
    }
  }
  return r;
}

/** Bilinear weights of output index `o`: `[[index, weight], ...]` (TensorFlow, clamped edges). */
function bilinearTaps(
  o: number,
  inSize: number,
  outSize: number,
  alignCorners: boolean,
  halfPixel: boolean,
): [number, number][] {
  const src = resizeSource(o, inSize, outSize, alignCorners, halfPixel);
  const lo = Math.floor(src);
  const frac = src - lo;
  const clamp = (i: number): number => Math.max(0, Math.min(inSize - 1, i));
  return [
    [clamp(lo), 1 - frac],
    [clamp(lo + 1), frac],
  ];
}

/** Adjoint of bilinear resizing from `[n, h, w, c]` to `[n, oh, ow, c]`. */
export function resizeBilinearGradRef(
  dy: ArrayLike<number>,
  shape: { n: number; h: number; w: number; c: number; oh: number; ow: number },
  alignCorners: boolean,
  halfPixel: boolean,
): RefResult {
  const { n, h, w, c, oh, ow } = shape;
  const r = result(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < oh; y++) {
      for (const [sy, wy] of bilinearTaps(y, h, oh, alignCorners, halfPixel)) {
        for (let x = 0; x < ow; x++) {
          for (const [sx, wx] of bilinearTaps(x, w, ow, alignCorners, halfPixel)) {
            for (let k = 0; k < c; k++) {
              const t = dy[((b * oh + y) * ow + x) * c + k]! * wy * wx;
              const at = ((b * h + sy) * w + sx) * c + k;
              accumulate(r, at, t);
            }
          }
        }
      }
    }
  }
  return r;
}

/** `out[s, ...] = Σ_{ids[i] = s} x[i, ...]`, ids outside `[0, numSegments)` dropped. */
export function unsortedSegmentSumRef(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  inner: number,
  numSegments: number,
): RefResult {
  const r = result(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    for (let k = 0; k < inner; k++) {
      const t = x[i * inner + k]!;
      r.value[s * inner + k] = r.value[s * inner + k]! + t;
      r.magnitude[s * inner + k] = r.magnitude[s * inner + k]! + Math.abs(t);
    }
  }
  return r;
}
