// Winograd F(4×4, 3×3) convolutions for MTU's wasm kernels (AssemblyScript, wasm SIMD): the
// transforms, and the matrix products between them.
//
// These functions run on the memory of tfjs' wasm backend (imported, never allocated from): every
// pointer is a byte address of float32 data that a tfjs tensor owns.
//
// Notation (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"), for one 6×6
// input tile d, 3×3 filter g and 4×4 output tile y, with the points 0, ±1, ±2, ∞:
//   y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
//   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G  = [¼ 0 0; -⅙ -⅙ -⅙; -⅙ ⅙ -⅙; 1/24 1/12 ⅙; 1/24 -1/12 ⅙; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// The filter gradient of the same convolution is the transposed bilinear algorithm:
//   ∂L/∂g = Gᵀ [Σ_tiles (A e Aᵀ) ⊙ (Bᵀ d B)] G,  with e the 4×4 tile of ∂L/∂y.
//
// Layouts: activations are NHWC. The 36 transformed matrices ξ = 6·row + col of the 6×6
// transform domain are addressed through a table of 36 u32 byte addresses (`outs` / `ins`).
// Tiles are numbered t = (n·TH + i)·TW + j for the output tile at rows 4i … 4i+3 and columns
// 4j … 4j+3. Channel counts are multiples of 4 (checked by the caller).
//
// Each 2-D transform runs as two 1-D passes; the first pass parks its results in the destination
// (or source) matrices at the positions the second pass reads them from, so no scratch memory is
// needed and two threads working on different tiles never touch the same bytes.

@inline
function ptrAt(table: usize, k: i32): usize {
  return <usize>load<u32>(table + (<usize>k << 2));
}

@inline
function loadOrZero(
  image: usize,
  r: i32,
  s: i32,
  h: i32,
  w: i32,
  rowStride: usize,
  pixel: usize,
  chOffset: usize,
): v128 {
  if (r < 0 || r >= h || s < 0 || s >= w) return f32x4.splat(0);
  return v128.load(image + <usize>r * rowStride + <usize>s * pixel + chOffset);
}

/** Bᵀ d for one column of 6 vectors, stored at the 6 given addresses. */
@inline
function bt6Store(d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize): void {
  const four = f32x4.splat(4), five = f32x4.splat(5), two = f32x4.splat(2);
  v128.store(p0, f32x4.add(f32x4.sub(f32x4.mul(four, d0), f32x4.mul(five, d2)), d4));
  v128.store(p1, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(four, f32x4.add(d1, d2))));
  v128.store(p2, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(four, f32x4.sub(d1, d2))));
  v128.store(p3, f32x4.add(f32x4.sub(d4, d2), f32x4.mul(two, f32x4.sub(d3, d1))));
  v128.store(p4, f32x4.sub(f32x4.sub(d4, d2), f32x4.mul(two, f32x4.sub(d3, d1))));
  v128.store(p5, f32x4.add(f32x4.sub(f32x4.mul(four, d1), f32x4.mul(five, d3)), d5));
}

/**
 * V_ξ[t, c] = (Bᵀ d_t,c B)_ξ: x `[N, H, W, C]`; tile t reads rows 4i − padT … 4i − padT + 5 and
 * columns 4j − padL … + 5 (zero outside the input). Each of the 36 V_ξ (ξ = 6·row + col) is
 * `[N·TH·TW, C]`. Only the images `b0 ≤ b < b1` are transformed (two threads split the batch).
 */
export function inputTransform(
  x: usize,
  b0: i32,
  b1: i32,
  h: i32,
  w: i32,
  c: i32,
  padT: i32,
  padL: i32,
  th: i32,
  tw: i32,
  outs: usize,
): void {
  const rowStride = <usize>(w * c) << 2;
  const pixel = <usize>c << 2;
  let t = <usize>(b0 * th * tw);
  for (let b = b0; b < b1; b++) {
    const image = x + <usize>(b * h) * rowStride;
    for (let i = 0; i < th; i++) {
      const r0 = 4 * i - padT;
      for (let j = 0; j < tw; j++) {
        const c0 = 4 * j - padL;
        const interior = r0 >= 0 && r0 + 6 <= h && c0 >= 0 && c0 + 6 <= w;
        const tileOffset = t * pixel;
        for (let ch = 0; ch < c; ch += 4) {
          const chOffset = <usize>ch << 2;
          const o = tileOffset + chOffset;
          // Pass 1, down each column s: t[r][s] parked at V_{6r+s}.
          for (let s = 0; s < 6; s++) {
            let d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128;
            if (interior) {
              const p = image + <usize>r0 * rowStride + <usize>(c0 + s) * pixel + chOffset;
              d0 = v128.load(p); d1 = v128.load(p + rowStride); d2 = v128.load(p + 2 * rowStride);
              d3 = v128.load(p + 3 * rowStride); d4 = v128.load(p + 4 * rowStride); d5 = v128.load(p + 5 * rowStride);
            } else {
              d0 = loadOrZero(image, r0, c0 + s, h, w, rowStride, pixel, chOffset);
              d1 = loadOrZero(image, r0 + 1, c0 + s, h, w, rowStride, pixel, chOffset);
              d2 = loadOrZero(image, r0 + 2, c0 + s, h, w, rowStride, pixel, chOffset);
              d3 = loadOrZero(image, r0 + 3, c0 + s, h, w, rowStride, pixel, chOffset);
              d4 = loadOrZero(image, r0 + 4, c0 + s, h, w, rowStride, pixel, chOffset);
              d5 = loadOrZero(image, r0 + 5, c0 + s, h, w, rowStride, pixel, chOffset);
            }
            bt6Store(d0, d1, d2, d3, d4, d5,
              ptrAt(outs, s) + o, ptrAt(outs, 6 + s) + o, ptrAt(outs, 12 + s) + o,
              ptrAt(outs, 18 + s) + o, ptrAt(outs, 24 + s) + o, ptrAt(outs, 30 + s) + o);
          }
          // Pass 2, along each row r: V_{6r+q} = Σ_s t[r][s]·B[s][q].
          for (let r = 0; r < 6; r++) {
            const p0 = ptrAt(outs, 6 * r) + o, p1 = ptrAt(outs, 6 * r + 1) + o, p2 = ptrAt(outs, 6 * r + 2) + o;
            const p3 = ptrAt(outs, 6 * r + 3) + o, p4 = ptrAt(outs, 6 * r + 4) + o, p5 = ptrAt(outs, 6 * r + 5) + o;
            bt6Store(v128.load(p0), v128.load(p1), v128.load(p2), v128.load(p3), v128.load(p4), v128.load(p5),
              p0, p1, p2, p3, p4, p5);
          }
        }
        t++;
      }
    }
  }
}

/** G g for one column of 3 scalars, stored at 6 addresses. */
@inline
function g6Store(g0: f32, g1: f32, g2: f32, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize): void {
  store<f32>(p0, g0 * <f32>0.25);
  store<f32>(p1, -(g0 + g1 + g2) / <f32>6);
  store<f32>(p2, -(g0 - g1 + g2) / <f32>6);
  store<f32>(p3, g0 / <f32>24 + g1 / <f32>12 + g2 / <f32>6);
  store<f32>(p4, g0 / <f32>24 - g1 / <f32>12 + g2 / <f32>6);
  store<f32>(p5, g2);
}

/**
 * U_ξ = (G g Gᵀ)_ξ for every filter slice: `filter` `[3, 3, C, O]`. Unflipped, U_ξ is `[C, O]`
 * (forward convolution). Flipped (`flip` ≠ 0), g is the filter rotated by 180° and U_ξ is
 * `[O, C]`: the forward convolution that computes the input gradient.
 */
export function filterTransform(filter: usize, c: i32, o: i32, flip: i32, outs: usize): void {
  const tap = <usize>(c * o) << 2;
  for (let ci = 0; ci < c; ci++) {
    for (let co = 0; co < o; co++) {
      const p = filter + (<usize>(ci * o + co) << 2);
      const at = <usize>(flip != 0 ? co * c + ci : ci * o + co) << 2;
      // Pass 1, down each filter column kw: (G g)[r][kw] parked at U_{6r+kw}.
      for (let kw = 0; kw < 3; kw++) {
        let g0: f32, g1: f32, g2: f32;
        if (flip != 0) {
          g0 = load<f32>(p + <usize>(8 - kw) * tap);
          g1 = load<f32>(p + <usize>(5 - kw) * tap);
          g2 = load<f32>(p + <usize>(2 - kw) * tap);
        } else {
          g0 = load<f32>(p + <usize>kw * tap);
          g1 = load<f32>(p + <usize>(3 + kw) * tap);
          g2 = load<f32>(p + <usize>(6 + kw) * tap);
        }
        g6Store(g0, g1, g2,
          ptrAt(outs, kw) + at, ptrAt(outs, 6 + kw) + at, ptrAt(outs, 12 + kw) + at,
          ptrAt(outs, 18 + kw) + at, ptrAt(outs, 24 + kw) + at, ptrAt(outs, 30 + kw) + at);
      }
      // Pass 2, along each row r.
      for (let r = 0; r < 6; r++) {
        const g0 = load<f32>(ptrAt(outs, 6 * r) + at);
        const g1 = load<f32>(ptrAt(outs, 6 * r + 1) + at);
        const g2 = load<f32>(ptrAt(outs, 6 * r + 2) + at);
        g6Store(g0, g1, g2,
          ptrAt(outs, 6 * r) + at, ptrAt(outs, 6 * r + 1) + at, ptrAt(outs, 6 * r + 2) + at,
          ptrAt(outs, 6 * r + 3) + at, ptrAt(outs, 6 * r + 4) + at, ptrAt(outs, 6 * r + 5) + at);
      }
    }
  }
}

/**
 * y = Aᵀ M A per tile and channel (+ bias, then ReLU when `relu` ≠ 0): `ins` holds the 36
 * products M_ξ `[N·TH·TW, O]` (used as scratch: pass 1 overwrites M_0 … M_23); y is
 * `[N, OH, OW, O]`; `bias` is `[O]` or 0 for none. Images `b0 ≤ b < b1` only.
 */
export function outputTransform(
  ins: usize,
  y: usize,
  b0: i32,
  b1: i32,
  oh: i32,
  ow: i32,
  o: i32,
  th: i32,
  tw: i32,
  bias: usize,
  relu: i32,
): void {
  const pixel = <usize>o << 2;
  const rowStride = <usize>ow * pixel;
  const zero = f32x4.splat(0), two = f32x4.splat(2), four = f32x4.splat(4), eight = f32x4.splat(8);
  let t = <usize>(b0 * th * tw);
  for (let b = b0; b < b1; b++) {
    const image = y + <usize>(b * oh) * rowStride;
    for (let i = 0; i < th; i++) {
      const r = 4 * i;
      for (let j = 0; j < tw; j++) {
        const s = 4 * j;
        const tileOffset = t * pixel;
        for (let ch = 0; ch < o; ch += 4) {
          const chOffset = <usize>ch << 2;
          const at = tileOffset + chOffset;
          // Pass 1, down each column q: z[a][q] = (Aᵀ m)[a][q] parked at M_{6a+q}.
          for (let q = 0; q < 6; q++) {
            const m0 = v128.load(ptrAt(ins, q) + at), m1 = v128.load(ptrAt(ins, 6 + q) + at);
            const m2 = v128.load(ptrAt(ins, 12 + q) + at), m3 = v128.load(ptrAt(ins, 18 + q) + at);
            const m4 = v128.load(ptrAt(ins, 24 + q) + at), m5 = v128.load(ptrAt(ins, 30 + q) + at);
            const s12 = f32x4.add(m1, m2), d12 = f32x4.sub(m1, m2);
            const s34 = f32x4.add(m3, m4), d34 = f32x4.sub(m3, m4);
            v128.store(ptrAt(ins, q) + at, f32x4.add(f32x4.add(m0, s12), s34));
            v128.store(ptrAt(ins, 6 + q) + at, f32x4.add(d12, f32x4.mul(two, d34)));
            v128.store(ptrAt(ins, 12 + q) + at, f32x4.add(s12, f32x4.mul(four, s34)));
            v128.store(ptrAt(ins, 18 + q) + at, f32x4.add(f32x4.add(d12, f32x4.mul(eight, d34)), m5));
          }
          const bv = bias != 0 ? v128.load(bias + chOffset) : zero;
          // Pass 2, along each row a: y[a][q'] = (z A)[a][q'].
          for (let a = 0; a < 4; a++) {
            if (r + a >= oh) break;
            const z0 = v128.load(ptrAt(ins, 6 * a) + at), z1 = v128.load(ptrAt(ins, 6 * a + 1) + at);
            const z2 = v128.load(ptrAt(ins, 6 * a + 2) + at), z3 = v128.load(ptrAt(ins, 6 * a + 3) + at);
            const z4 = v128.load(ptrAt(ins, 6 * a + 4) + at), z5 = v128.load(ptrAt(ins, 6 * a + 5) + at);
            const s12 = f32x4.add(z1, z2), d12 = f32x4.sub(z1, z2);
            const s34 = f32x4.add(z3, z4), d34 = f32x4.sub(z3, z4);
            let y0 = f32x4.add(f32x4.add(f32x4.add(z0, s12), s34), bv);
            let y1 = f32x4.add(f32x4.add(d12, f32x4.mul(two, d34)), bv);
            let y2 = f32x4.add(f32x4.add(s12, f32x4.mul(four, s34)), bv);
            let y3 = f32x4.add(f32x4.add(f32x4.add(d12, f32x4.mul(eight, d34)), z5), bv);
            if (relu != 0) {
              y0 = f32x4.max(y0, zero); y1 = f32x4.max(y1, zero);
              y2 = f32x4.max(y2, zero); y3 = f32x4.max(y3, zero);
            }
            const p = image + <usize>(r + a) * rowStride + <usize>s * pixel + chOffset;
            v128.store(p, y0);
            if (s + 1 < ow) v128.store(p + pixel, y1);
            if (s + 2 < ow) v128.store(p + 2 * pixel, y2);
            if (s + 3 < ow) v128.store(p + 3 * pixel, y3);
          }
        }
        t++;
      }
    }
  }
}

/** A e for one column of 4 vectors (A = (Aᵀ)ᵀ, 6×4), stored at 6 addresses (`count` lanes). */
@inline
function a6Store(e0: v128, e1: v128, e2: v128, e3: v128, p0: usize, p1: usize, p2: usize, p3: usize, p4: usize, p5: usize, count: i32): void {
  const two = f32x4.splat(2), four = f32x4.splat(4), eight = f32x4.splat(8);
  const s02 = f32x4.add(e0, e2), s13 = f32x4.add(e1, e3);
  const f02 = f32x4.add(e0, f32x4.mul(four, e2)), f13 = f32x4.add(f32x4.mul(two, e1), f32x4.mul(eight, e3));
  storeLanes(p0, e0, count);
  storeLanes(p1, f32x4.add(s02, s13), count);
  storeLanes(p2, f32x4.sub(s02, s13), count);
  storeLanes(p3, f32x4.add(f02, f13), count);
  storeLanes(p4, f32x4.sub(f02, f13), count);
  storeLanes(p5, e3, count);
}

@inline
function storeLanes(p: usize, v: v128, count: i32): void {
  if (count == 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (count > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (count > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

@inline
function loadLanes(p: usize, count: i32): v128 {
  if (count == 4) return v128.load(p);
  let v = f32x4.splat(0);
  v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (count > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (count > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/**
 * Dᵀ_ξ[o, t] = (A e_t,o Aᵀ)_ξ for the 4×4 tiles e of the output gradient dy `[N, OH, OW, O]`
 * (zero outside it): each of the 36 Dᵀ_ξ is `[O, N·TH·TW]`, tiles along its rows, the layout of
 * the left operand of Dᵀ_ξ · V_ξ. Four consecutive tiles of a row of tiles go into one SIMD
 * vector. Images `b0 ≤ b < b1` of the `n` only.
 */
export function gradTransformT(
  dy: usize,
  n: i32,
  b0: i32,
  b1: i32,
  oh: i32,
  ow: i32,
  o: i32,
  th: i32,
  tw: i32,
  outs: usize,
): void {
  const pixel = <usize>o << 2;
  const rowStride = <usize>ow * pixel;
  const tiles = <usize>(n * th * tw);
  let t = <usize>(b0 * th * tw);
  for (let b = b0; b < b1; b++) {
    const image = dy + <usize>(b * oh) * rowStride;
    for (let i = 0; i < th; i++) {
      const r = 4 * i;
      for (let j = 0; j < tw; j += 4) {
        const count = min(4, tw - j);
        for (let co = 0; co < o; co++) {
          const at = (<usize>co * tiles + t) << 2;
          // Pass 1, down each column q of the 4×4 tiles: (A e)[·][q] parked at Dᵀ_{6r+q}.
          for (let q = 0; q < 4; q++) {
            const e0 = gatherTiles(image, r, 4 * j + q, oh, ow, rowStride, pixel, co, count);
            const e1 = gatherTiles(image, r + 1, 4 * j + q, oh, ow, rowStride, pixel, co, count);
            const e2 = gatherTiles(image, r + 2, 4 * j + q, oh, ow, rowStride, pixel, co, count);
            const e3 = gatherTiles(image, r + 3, 4 * j + q, oh, ow, rowStride, pixel, co, count);
            a6Store(e0, e1, e2, e3,
              ptrAt(outs, q) + at, ptrAt(outs, 6 + q) + at, ptrAt(outs, 12 + q) + at,
              ptrAt(outs, 18 + q) + at, ptrAt(outs, 24 + q) + at, ptrAt(outs, 30 + q) + at, count);
          }
          // Pass 2, along each row.
          for (let rr = 0; rr < 6; rr++) {
            const p0 = ptrAt(outs, 6 * rr) + at, p1 = ptrAt(outs, 6 * rr + 1) + at;
            const p2 = ptrAt(outs, 6 * rr + 2) + at, p3 = ptrAt(outs, 6 * rr + 3) + at;
            a6Store(loadLanes(p0, count), loadLanes(p1, count), loadLanes(p2, count), loadLanes(p3, count),
              p0, p1, p2, p3, ptrAt(outs, 6 * rr + 4) + at, ptrAt(outs, 6 * rr + 5) + at, count);
          }
        }
        t += <usize>count;
      }
    }
  }
}

/** dy[row, col + 4k] of the `count` tiles k (4 columns apart), one per lane; zero outside dy. */
@inline
function gatherTiles(image: usize, row: i32, col: i32, oh: i32, ow: i32, rowStride: usize, pixel: usize, co: i32, count: i32): v128 {
  let v = f32x4.splat(0);
  if (row >= oh) return v;
  const base = image + <usize>row * rowStride + (<usize>co << 2);
  if (col < ow) v = f32x4.replace_lane(v, 0, load<f32>(base + <usize>col * pixel));
  if (count > 1 && col + 4 < ow) v = f32x4.replace_lane(v, 1, load<f32>(base + <usize>(col + 4) * pixel));
  if (count > 2 && col + 8 < ow) v = f32x4.replace_lane(v, 2, load<f32>(base + <usize>(col + 8) * pixel));
  if (count > 3 && col + 12 < ow) v = f32x4.replace_lane(v, 3, load<f32>(base + <usize>(col + 12) * pixel));
  return v;
}

/** Gᵀ m for one column of 6 scalars: the 3 values at 3 addresses. */
@inline
function gt3Store(m0: f32, m1: f32, m2: f32, m3: f32, m4: f32, m5: f32, p0: usize, p1: usize, p2: usize): void {
  const s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4;
  store<f32>(p0, m0 * <f32>0.25 - s12 / <f32>6 + s34 / <f32>24);
  store<f32>(p1, -d12 / <f32>6 + d34 / <f32>12);
  store<f32>(p2, -s12 / <f32>6 + s34 / <f32>6 + m5);
}

/**
 * dW[kh, kw, c, o] = (Gᵀ M_c,o G)[kh][kw] from the 36 products Mᵀ_ξ `[O, C]` (= Dᵀ_ξ · V_ξ;
 * pass 1 overwrites Mᵀ_0 … Mᵀ_17); dW is `[3, 3, C, O]`.
 */
export function filterGradOutput(ins: usize, dw: usize, c: i32, o: i32): void {
  const tap = <usize>(c * o) << 2;
  for (let co = 0; co < o; co++) {
    for (let ci = 0; ci < c; ci++) {
      const at = <usize>(co * c + ci) << 2;
      for (let q = 0; q < 6; q++) {
        gt3Store(
          load<f32>(ptrAt(ins, q) + at), load<f32>(ptrAt(ins, 6 + q) + at), load<f32>(ptrAt(ins, 12 + q) + at),
          load<f32>(ptrAt(ins, 18 + q) + at), load<f32>(ptrAt(ins, 24 + q) + at), load<f32>(ptrAt(ins, 30 + q) + at),
          ptrAt(ins, q) + at, ptrAt(ins, 6 + q) + at, ptrAt(ins, 12 + q) + at);
      }
      const p = dw + (<usize>(ci * o + co) << 2);
      for (let k = 0; k < 3; k++) {
        gt3Store(
          load<f32>(ptrAt(ins, 6 * k) + at), load<f32>(ptrAt(ins, 6 * k + 1) + at), load<f32>(ptrAt(ins, 6 * k + 2) + at),
          load<f32>(ptrAt(ins, 6 * k + 3) + at), load<f32>(ptrAt(ins, 6 * k + 4) + at), load<f32>(ptrAt(ins, 6 * k + 5) + at),
          p + <usize>(3 * k) * tap, p + <usize>(3 * k + 1) * tap, p + <usize>(3 * k + 2) * tap);
      }
    }
  }
}

/**
 * C = A · B for row-major A `[m, k]`, B `[k, n]`, C `[m, n]` (n a multiple of 4), for products
 * whose both operands change every call (the filter gradient's Dᵀ_ξ · V_ξ): no packing, 4×8
 * register blocks with SIMD over the columns of B.
 */
export function gemm(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32): void {
  const rowA = <usize>k << 2;
  const rowB = <usize>n << 2;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const bj = b + (<usize>j << 2);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = a + <usize>i * rowA;
      const a1 = a0 + rowA, a2 = a1 + rowA, a3 = a2 + rowA;
      let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
      let pb = bj;
      for (let p = 0; p < k; p++) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        const off = <usize>p << 2;
        const x0 = v128.load32_splat(a0 + off), x1 = v128.load32_splat(a1 + off);
        const x2 = v128.load32_splat(a2 + off), x3 = v128.load32_splat(a3 + off);
        c00 = f32x4.add(c00, f32x4.mul(x0, b0)); c01 = f32x4.add(c01, f32x4.mul(x0, b1));
        c10 = f32x4.add(c10, f32x4.mul(x1, b0)); c11 = f32x4.add(c11, f32x4.mul(x1, b1));
        c20 = f32x4.add(c20, f32x4.mul(x2, b0)); c21 = f32x4.add(c21, f32x4.mul(x2, b1));
        c30 = f32x4.add(c30, f32x4.mul(x3, b0)); c31 = f32x4.add(c31, f32x4.mul(x3, b1));
        pb += rowB;
      }
      const ci = c + <usize>i * rowB + (<usize>j << 2);
      v128.store(ci, c00); v128.store(ci, c01, 16);
      v128.store(ci + rowB, c10); v128.store(ci + rowB, c11, 16);
      v128.store(ci + 2 * rowB, c20); v128.store(ci + 2 * rowB, c21, 16);
      v128.store(ci + 3 * rowB, c30); v128.store(ci + 3 * rowB, c31, 16);
    }
    for (; i < m; i++) gemmRow(a + <usize>i * rowA, bj, c + <usize>i * rowB + (<usize>j << 2), 8, k, rowB);
  }
  for (; j < n; j += 4) {
    for (let i = 0; i < m; i++) {
      gemmRow(a + <usize>i * rowA, b + (<usize>j << 2), c + <usize>i * rowB + (<usize>j << 2), 4, k, rowB);
    }
  }
}

/** One row of C over `width` (4 or 8) columns. */
function gemmRow(a: usize, b: usize, c: usize, width: i32, k: i32, rowB: usize): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let pb = b;
  for (let p = 0; p < k; p++) {
    const x = v128.load32_splat(a + (<usize>p << 2));
    c0 = f32x4.add(c0, f32x4.mul(x, v128.load(pb)));
    if (width == 8) c1 = f32x4.add(c1, f32x4.mul(x, v128.load(pb, 16)));
    pb += rowB;
  }
  v128.store(c, c0);
  if (width == 8) v128.store(c, c1, 16);
}

/**
 * The filter-gradient products Mᵀ_ξ = Dᵀ_ξ · V_ξ for ξ in [from, to): `dt`, `v` and `mt` are
 * address tables (see above); Dᵀ_ξ is `[o, tiles]`, V_ξ `[tiles, c]`, Mᵀ_ξ `[o, c]`.
 */
export function filterGradProducts(dt: usize, v: usize, mt: usize, o: i32, c: i32, tiles: i32, from: i32, to: i32): void {
  for (let x = from; x < to; x++) gemm(ptrAt(dt, x), ptrAt(v, x), ptrAt(mt, x), o, c, tiles);
}

/** out[o] = Σ_r dy[r, o] for dy `[rows, o]` (the bias gradient). */
export function channelSums(dy: usize, rows: i32, o: i32, out: usize): void {
  for (let ch = 0; ch < o; ch += 4) {
    let acc = f32x4.splat(0);
    let p = dy + (<usize>ch << 2);
    const stride = <usize>o << 2;
    for (let r = 0; r < rows; r++) {
      acc = f32x4.add(acc, v128.load(p));
      p += stride;
    }
    v128.store(out + (<usize>ch << 2), acc);
  }
}

/**
 * The forward (and input-gradient) products M_ξ = V_ξ · U_ξ for ξ in [from, to): V_ξ is
 * `[tiles, c]`, U_ξ `[c, o]`, M_ξ `[tiles, o]` (address tables as above).
 */
export function forwardProducts(v: usize, u: usize, m: usize, tiles: i32, c: i32, o: i32, from: i32, to: i32): void {
  for (let x = from; x < to; x++) gemm(ptrAt(v, x), ptrAt(u, x), ptrAt(m, x), tiles, o, c);
}

/** Rows [4·from, min(4·to, m)) of C = A · B (see {@link gemm}): row blocks for two threads. */
export function gemmRows(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, from: i32, to: i32): void {
  const r0 = 4 * from;
  const r1 = min(4 * to, m);
  if (r1 <= r0) return;
  gemm(a + (<usize>r0 * <usize>k << 2), b, c + (<usize>r0 * <usize>n << 2), r1 - r0, n, k);
}

/**
 * Copies `count` blocks of `n` 32-bit words: block b from `from + b·fromStride` to
 * `to + b·toStride` (strides in words; the ranges must not overlap). The block copies of `Concat`
 * and `SplitV`, where a JS loop pays a few ns per word on narrow blocks (16 channels of a U-Net skip
 * connection, 8 columns of a constraint matrix).
 */
export function copyBlocks(to: usize, toStride: i32, from: usize, fromStride: i32, n: i32, count: i32): void {
  const ts = <usize>toStride << 2;
  const fs = <usize>fromStride << 2;
  const bytes = <usize>n << 2;
  if (bytes >= 256) {
    for (let b = 0; b < count; b++) {
      memory.copy(to, from, bytes);
      to += ts;
      from += fs;
    }
    return;
  }
  const vec = bytes & ~(<usize>15);
  for (let b = 0; b < count; b++) {
    let k: usize = 0;
    for (; k < vec; k += 16) v128.store(to + k, v128.load(from + k));
    for (; k < bytes; k += 4) store<i32>(to + k, load<i32>(from + k));
    to += ts;
    from += fs;
  }
}

/** ⌊a / b⌋ for b > 0 (i32 division truncates toward zero). */
@inline
function floorDiv(a: i32, b: i32): i32 {
  return a >= 0 ? a / b : -((b - 1 - a) / b);
}

/** Zeroes `words` 32-bit words from `to` (SIMD stores, then scalar). */
@inline
function zeroWords(to: usize, words: i32): void {
  const bytes = <usize>words << 2;
  const vec = bytes & ~(<usize>15);
  const z = f32x4.splat(0);
  let k: usize = 0;
  for (; k < vec; k += 16) v128.store(to + k, z);
  for (; k < bytes; k += 4) store<f32>(to + k, 0);
}

/** Copies `words` 32-bit words (non-overlapping; SIMD loads and stores, then scalar). */
@inline
function copyWordsAt(to: usize, from: usize, words: i32): void {
  const bytes = <usize>words << 2;
  const vec = bytes & ~(<usize>15);
  let k: usize = 0;
  for (; k < vec; k += 16) v128.store(to + k, v128.load(from + k));
  for (; k < bytes; k += 4) store<i32>(to + k, load<i32>(from + k));
}

/**
 * The transposed im2col matrix of a convolution's filter gradient, output rows [i0, i1): row
 * (kh, kw, ch) (row-major over [KH, KW, C]), column (i − i0, j, b) over [i1 − i0, OW, N], written
 * from `dst` on; with `onesRow` ≠ 0 one more row of ones follows (its product with dy is the bias
 * gradient).
 *
 * `src` is the phase-split input (see conv2d-backprop-filter.ts): input row `hs`, column phase `r`
 * (w mod sw), channel `ch`, phase index `q` (⌊w / sw⌋) and batch `b` sit at word
 * `hs·rowStride + r·phaseStride + ch·chStride + q·n + b`, so that the N values of one column are
 * contiguous and so are the Wq·N values of one row. Entry (kh, kw, ch; i, j, b) is
 * `x[b, i·sh + kh − padT, j·sw + kw − padL, ch]`, zero outside the h × w input.
 */
export function im2colRows(
  dst: usize,
  src: usize,
  n: i32,
  h: i32,
  w: i32,
  c: i32,
  ow: i32,
  kH: i32,
  kW: i32,
  sh: i32,
  sw: i32,
  padT: i32,
  padL: i32,
  i0: i32,
  i1: i32,
  rowStride: i32,
  chStride: i32,
  phaseStride: i32,
  onesRow: i32,
): void {
  const rowLen = ow * n;
  const rowBytes = <usize>rowLen << 2;
  let d = dst;
  for (let kh = 0; kh < kH; kh++) {
    for (let kw = 0; kw < kW; kw++) {
      // Output columns j in [jlo, jhi) read input column j·sw + kw − padL = (j + q0)·sw + r.
      const off = kw - padL;
      const jlo = max(0, -floorDiv(off, sw));
      const jhi = max(jlo, min(ow, floorDiv(w - 1 - off, sw) + 1));
      const q0 = floorDiv(off, sw);
      const r = off - q0 * sw;
      const lead = jlo * n;
      const valid = (jhi - jlo) * n;
      const tail = rowLen - jhi * n;
      for (let ch = 0; ch < c; ch++) {
        const base = src + ((<usize>(r * phaseStride + ch * chStride + (jlo + q0) * n)) << 2);
        for (let i = i0; i < i1; i++) {
          const hs = i * sh + kh - padT;
          if (hs < 0 || hs >= h || valid <= 0) {
            zeroWords(d, rowLen);
          } else {
            if (lead > 0) zeroWords(d, lead);
            copyWordsAt(d + (<usize>lead << 2), base + ((<usize>(hs * rowStride)) << 2), valid);
            if (tail > 0) zeroWords(d + (<usize>(jhi * n) << 2), tail);
          }
          d += rowBytes;
        }
      }
    }
  }
  if (onesRow != 0) {
    const one = f32x4.splat(1);
    const bytes = <usize>((i1 - i0) * rowLen) << 2;
    const vec = bytes & ~(<usize>15);
    let k: usize = 0;
    for (; k < vec; k += 16) v128.store(d + k, one);
    for (; k < bytes; k += 4) store<f32>(d + k, 1);
  }
}

/** ⌈a / b⌉ for b > 0. */
@inline
function ceilDiv(a: i32, b: i32): i32 {
  return -floorDiv(-a, b);
}

/** `acc` to `at`, or `acc` added to what is there (a later chunk of rows). */
@inline
function storeSum(at: usize, acc: v128, first: bool): void {
  v128.store(at, first ? acc : f32x4.add(v128.load(at), acc));
}

/**
 * One tap's sums for 4 input channels × 8 output channels: out[q, k] (row stride `os` bytes)
 * = Σ over `rows` × `cols` positions (row-major) of x[q] · dy[k], x read at `xp` (4 consecutive
 * channels, each loaded into all lanes), dy at `dp` (8 channels); positions advance by `xc` / `dc`
 * bytes along a row, `xr` / `dr` per row.
 */
function tap4x8(out: usize, os: usize, xp: usize, xr: usize, xc: usize, dp: usize, dr: usize, dc: usize, rows: i32, cols: i32, first: bool): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0), a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  for (let i = 0; i < rows; i++) {
    let xq = xp + <usize>i * xr;
    let dq = dp + <usize>i * dr;
    for (let j = 0; j < cols; j++) {
      const d0 = v128.load(dq);
      const d1 = v128.load(dq, 16);
      let s = v128.load32_splat(xq);
      a00 = f32x4.add(a00, f32x4.mul(s, d0));
      a01 = f32x4.add(a01, f32x4.mul(s, d1));
      s = v128.load32_splat(xq, 4);
      a10 = f32x4.add(a10, f32x4.mul(s, d0));
      a11 = f32x4.add(a11, f32x4.mul(s, d1));
      s = v128.load32_splat(xq, 8);
      a20 = f32x4.add(a20, f32x4.mul(s, d0));
      a21 = f32x4.add(a21, f32x4.mul(s, d1));
      s = v128.load32_splat(xq, 12);
      a30 = f32x4.add(a30, f32x4.mul(s, d0));
      a31 = f32x4.add(a31, f32x4.mul(s, d1));
      xq += xc;
      dq += dc;
    }
  }
  storeSum(out, a00, first);
  storeSum(out + 16, a01, first);
  storeSum(out + os, a10, first);
  storeSum(out + os + 16, a11, first);
  storeSum(out + 2 * os, a20, first);
  storeSum(out + 2 * os + 16, a21, first);
  storeSum(out + 3 * os, a30, first);
  storeSum(out + 3 * os + 16, a31, first);
}

/** As {@link tap4x8} for one input channel × 8 output channels. */
function tap1x8(out: usize, xp: usize, xr: usize, xc: usize, dp: usize, dr: usize, dc: usize, rows: i32, cols: i32, first: bool): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  for (let i = 0; i < rows; i++) {
    let xq = xp + <usize>i * xr;
    let dq = dp + <usize>i * dr;
    for (let j = 0; j < cols; j++) {
      const s = v128.load32_splat(xq);
      a0 = f32x4.add(a0, f32x4.mul(s, v128.load(dq)));
      a1 = f32x4.add(a1, f32x4.mul(s, v128.load(dq, 16)));
      xq += xc;
      dq += dc;
    }
  }
  storeSum(out, a0, first);
  storeSum(out + 16, a1, first);
}

/** As {@link tap4x8} for one input channel × 4 output channels. */
function tap1x4(out: usize, xp: usize, xr: usize, xc: usize, dp: usize, dr: usize, dc: usize, rows: i32, cols: i32, first: bool): void {
  let acc = f32x4.splat(0);
  for (let i = 0; i < rows; i++) {
    let xq = xp + <usize>i * xr;
    let dq = dp + <usize>i * dr;
    for (let j = 0; j < cols; j++) {
      acc = f32x4.add(acc, f32x4.mul(v128.load32_splat(xq), v128.load(dq)));
      xq += xc;
      dq += dc;
    }
  }
  storeSum(out, acc, first);
}

/** As {@link tap4x8} for one input channel × one output channel (scalar). */
function tap1x1(out: usize, xp: usize, xr: usize, xc: usize, dp: usize, dr: usize, dc: usize, rows: i32, cols: i32, first: bool): void {
  let acc: f32 = 0;
  for (let i = 0; i < rows; i++) {
    let xq = xp + <usize>i * xr;
    let dq = dp + <usize>i * dr;
    for (let j = 0; j < cols; j++) {
      acc += load<f32>(xq) * load<f32>(dq);
      xq += xc;
      dq += dc;
    }
  }
  store<f32>(out, first ? acc : load<f32>(out) + acc);
}

/**
 * Per-example filter and bias gradients of a conv2d (dilation 1) + bias, computed directly (no
 * im2col matrix), for the examples e in [from, to):
 *
 *     dw[e, kh, kw, ch, k] = Σ_{i, j} x[e, i·sh + kh − padT, j·sw + kw − padL, ch] · dy[e, i, j, k]
 *     db[e, k]             = Σ_{i, j} dy[e, i, j, k]
 *
 * in exactly the arithmetic of the im2col product `[colsᵀ; 1ᵀ] · dy` that XNNPACK's f32 GEMM
 * computes: output rows in chunks of `chunkRows`, each chunk's sum starting at +0 and running over
 * (i, j) row-major with one f32 multiply and one f32 add per term, chunk sums added in order.
 * Terms that read the zero padding are skipped: adding ±0 to a sum that starts at +0 changes no
 * bit (for finite dy). x is NHWC `[n, h, w, c]`, dy `[n, oh, ow, o]`, dw `[n, kH, kW, c, o]`,
 * db `[n, o]` (byte addresses). `p` holds 13 i32 words: h, w, c, oh, ow, o, kH, kW, sh, sw, padT,
 * padL, chunkRows.
 */
export function filterGradDirect(dw: usize, db: usize, x: usize, dy: usize, p: usize, from: i32, to: i32): void {
  const h = load<i32>(p), w = load<i32>(p, 4), c = load<i32>(p, 8);
  const oh = load<i32>(p, 12), ow = load<i32>(p, 16), o = load<i32>(p, 20);
  const kH = load<i32>(p, 24), kW = load<i32>(p, 28), sh = load<i32>(p, 32), sw = load<i32>(p, 36);
  const padT = load<i32>(p, 40), padL = load<i32>(p, 44), chunk = load<i32>(p, 48);
  const os = <usize>o << 2; // bytes per output row (and per dy position)
  const xc = <usize>(sw * c) << 2;
  const xr = <usize>(sh * w * c) << 2;
  const dr = <usize>(ow * o) << 2;
  const c4 = c & ~3;
  const o8 = o & ~7;
  const o4 = o & ~3;
  for (let e = from; e < to; e++) {
    const xe = x + ((<usize>e * <usize>(h * w * c)) << 2);
    const dye = dy + ((<usize>e * <usize>(oh * ow * o)) << 2);
    const dwe = dw + ((<usize>e * <usize>(kH * kW * c * o)) << 2);
    const dbe = db + ((<usize>e * <usize>o) << 2);
    for (let i0 = 0; i0 < oh; i0 += chunk) {
      const i1 = min(oh, i0 + chunk);
      const first = i0 == 0;
      for (let kh = 0; kh < kH; kh++) {
        const ilo = max(i0, ceilDiv(padT - kh, sh));
        const ihi = min(i1, floorDiv(h - 1 - kh + padT, sh) + 1);
        for (let kw = 0; kw < kW; kw++) {
          const jlo = max(0, ceilDiv(padL - kw, sw));
          const jhi = min(ow, floorDiv(w - 1 - kw + padL, sw) + 1);
          const out = dwe + ((<usize>((kh * kW + kw) * c)) * os);
          const rows = max(0, ihi - ilo);
          const cols = max(0, jhi - jlo);
          if (rows == 0 || cols == 0) {
            if (first) zeroWords(out, c * o);
            continue;
          }
          // x at (ilo, jlo), channel 0; dy at (ilo, jlo), channel 0.
          const x0 = xe + ((<usize>(((ilo * sh + kh - padT) * w + jlo * sw + kw - padL) * c)) << 2);
          const d0 = dye + ((<usize>((ilo * ow + jlo) * o)) << 2);
          let ch = 0;
          for (; ch < c4; ch += 4) {
            const xq = x0 + (<usize>ch << 2);
            const oq = out + <usize>ch * os;
            let k = 0;
            for (; k < o8; k += 8) {
              tap4x8(oq + (<usize>k << 2), os, xq, xr, xc, d0 + (<usize>k << 2), dr, os, rows, cols, first);
            }
            for (let q = 0; q < 4; q++) {
              const xqq = xq + (<usize>q << 2);
              const oqq = oq + <usize>q * os;
              for (let kk = k; kk < o4; kk += 4) {
                tap1x4(oqq + (<usize>kk << 2), xqq, xr, xc, d0 + (<usize>kk << 2), dr, os, rows, cols, first);
              }
              for (let kk = o4; kk < o; kk++) {
                tap1x1(oqq + (<usize>kk << 2), xqq, xr, xc, d0 + (<usize>kk << 2), dr, os, rows, cols, first);
              }
            }
          }
          for (; ch < c; ch++) {
            const xq = x0 + (<usize>ch << 2);
            const oq = out + <usize>ch * os;
            let k = 0;
            for (; k < o8; k += 8) {
              tap1x8(oq + (<usize>k << 2), xq, xr, xc, d0 + (<usize>k << 2), dr, os, rows, cols, first);
            }
            for (; k < o4; k += 4) {
              tap1x4(oq + (<usize>k << 2), xq, xr, xc, d0 + (<usize>k << 2), dr, os, rows, cols, first);
            }
            for (; k < o; k++) {
              tap1x1(oq + (<usize>k << 2), xq, xr, xc, d0 + (<usize>k << 2), dr, os, rows, cols, first);
            }
          }
        }
      }
      // The bias row: 1 · dy = dy exactly, every position of the chunk.
      const positions = (i1 - i0) * ow;
      const dchunk = dye + ((<usize>(i0 * ow * o)) << 2);
      let k = 0;
      for (; k < o4; k += 4) {
        let acc = f32x4.splat(0);
        let dq = dchunk + (<usize>k << 2);
        for (let r = 0; r < positions; r++) {
          acc = f32x4.add(acc, v128.load(dq));
          dq += os;
        }
        storeSum(dbe + (<usize>k << 2), acc, first);
      }
      for (; k < o; k++) {
        let acc: f32 = 0;
        let dq = dchunk + (<usize>k << 2);
        for (let r = 0; r < positions; r++) {
          acc += load<f32>(dq);
          dq += os;
        }
        store<f32>(dbe + (<usize>k << 2), first ? acc : load<f32>(dbe + (<usize>k << 2)) + acc);
      }
    }
  }
}
