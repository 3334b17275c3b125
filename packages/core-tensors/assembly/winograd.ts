// Winograd F(2×2, 3×3) transforms for MTU's wasm convolution kernels (AssemblyScript, wasm SIMD).
//
// These functions run on the memory of tfjs' wasm backend (imported, never allocated from): every
// pointer is a byte address of float32 data that a tfjs tensor owns. They only transform; the
// 16 matrix products between the transforms run on XNNPACK through tfjs' `BatchMatMul`.
//
// Notation (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks"), for one 4×4
// input tile d, 3×3 filter g and 2×2 output tile y:
//   y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G  = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]
//   Aᵀ = [1 1 1 0; 0 1 -1 -1]
// The filter gradient of the same convolution is the transposed bilinear algorithm:
//   ∂L/∂g = Gᵀ [(A e Aᵀ) ⊙ (Bᵀ d B)] G   summed over tiles, with e the 2×2 tile of ∂L/∂y.
//
// Layouts: activations are NHWC. The 16 transformed matrices ξ = 0..15 (ξ = 4·row + col of the
// 4×4 transform domain) each live in their own tensor; `outs` / `ins` point at a table of 16
// u32 byte addresses. Tiles are numbered t = (n·TH + i)·TW + j for the output tile at rows
// 2i, 2i+1 and columns 2j, 2j+1. Channel counts are multiples of 4 (checked by the caller).


@inline
function ptrAt(table: usize, k: i32): usize {
  return <usize>load<u32>(table + (<usize>k << 2));
}

/**
 * V_ξ[t, c] = (Bᵀ d_t,c B)_ξ: x `[N, H, W, C]`, tile t reads rows 2i − padT … 2i − padT + 3 and
 * columns 2j − padL … + 3 (zero outside the input). Each V_ξ is `[N·TH·TW, C]`. Only the images
 * `b0 ≤ b < b1` are transformed (two threads split the batch).
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
  const zero = f32x4.splat(0);
  let t = <usize>(b0 * th * tw);
  for (let b = b0; b < b1; b++) {
    const image = x + <usize>(b * h) * rowStride;
    for (let i = 0; i < th; i++) {
      const r0 = 2 * i - padT;
      for (let j = 0; j < tw; j++) {
        const c0 = 2 * j - padL;
        const interior = r0 >= 0 && r0 + 4 <= h && c0 >= 0 && c0 + 4 <= w;
        const tileOffset = t * pixel;
        for (let ch = 0; ch < c; ch += 4) {
          const chOffset = <usize>ch << 2;
          // d[r][s] for the 16 positions of the tile.
          let d00 = zero, d01 = zero, d02 = zero, d03 = zero;
          let d10 = zero, d11 = zero, d12 = zero, d13 = zero;
          let d20 = zero, d21 = zero, d22 = zero, d23 = zero;
          let d30 = zero, d31 = zero, d32 = zero, d33 = zero;
          if (interior) {
            const p = image + <usize>r0 * rowStride + <usize>c0 * pixel + chOffset;
            d00 = v128.load(p); d01 = v128.load(p + pixel); d02 = v128.load(p + 2 * pixel); d03 = v128.load(p + 3 * pixel);
            const p1 = p + rowStride;
            d10 = v128.load(p1); d11 = v128.load(p1 + pixel); d12 = v128.load(p1 + 2 * pixel); d13 = v128.load(p1 + 3 * pixel);
            const p2 = p1 + rowStride;
            d20 = v128.load(p2); d21 = v128.load(p2 + pixel); d22 = v128.load(p2 + 2 * pixel); d23 = v128.load(p2 + 3 * pixel);
            const p3 = p2 + rowStride;
            d30 = v128.load(p3); d31 = v128.load(p3 + pixel); d32 = v128.load(p3 + 2 * pixel); d33 = v128.load(p3 + 3 * pixel);
          } else {
            d00 = loadOrZero(image, r0, c0, h, w, rowStride, pixel, chOffset);
            d01 = loadOrZero(image, r0, c0 + 1, h, w, rowStride, pixel, chOffset);
            d02 = loadOrZero(image, r0, c0 + 2, h, w, rowStride, pixel, chOffset);
            d03 = loadOrZero(image, r0, c0 + 3, h, w, rowStride, pixel, chOffset);
            d10 = loadOrZero(image, r0 + 1, c0, h, w, rowStride, pixel, chOffset);
            d11 = loadOrZero(image, r0 + 1, c0 + 1, h, w, rowStride, pixel, chOffset);
            d12 = loadOrZero(image, r0 + 1, c0 + 2, h, w, rowStride, pixel, chOffset);
            d13 = loadOrZero(image, r0 + 1, c0 + 3, h, w, rowStride, pixel, chOffset);
            d20 = loadOrZero(image, r0 + 2, c0, h, w, rowStride, pixel, chOffset);
            d21 = loadOrZero(image, r0 + 2, c0 + 1, h, w, rowStride, pixel, chOffset);
            d22 = loadOrZero(image, r0 + 2, c0 + 2, h, w, rowStride, pixel, chOffset);
            d23 = loadOrZero(image, r0 + 2, c0 + 3, h, w, rowStride, pixel, chOffset);
            d30 = loadOrZero(image, r0 + 3, c0, h, w, rowStride, pixel, chOffset);
            d31 = loadOrZero(image, r0 + 3, c0 + 1, h, w, rowStride, pixel, chOffset);
            d32 = loadOrZero(image, r0 + 3, c0 + 2, h, w, rowStride, pixel, chOffset);
            d33 = loadOrZero(image, r0 + 3, c0 + 3, h, w, rowStride, pixel, chOffset);
          }
          // Columns: e[r][·] = Bᵀ d[·] applied down each column (rows combine).
          const e00 = f32x4.sub(d00, d20), e01 = f32x4.sub(d01, d21), e02 = f32x4.sub(d02, d22), e03 = f32x4.sub(d03, d23);
          const e10 = f32x4.add(d10, d20), e11 = f32x4.add(d11, d21), e12 = f32x4.add(d12, d22), e13 = f32x4.add(d13, d23);
          const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12), e23 = f32x4.sub(d23, d13);
          const e30 = f32x4.sub(d10, d30), e31 = f32x4.sub(d11, d31), e32 = f32x4.sub(d12, d32), e33 = f32x4.sub(d13, d33);
          const o = tileOffset + chOffset;
          // Rows: (e B)[r][·] combines columns the same way.
          storeRow(outs, 0, o, e00, e01, e02, e03);
          storeRow(outs, 4, o, e10, e11, e12, e13);
          storeRow(outs, 8, o, e20, e21, e22, e23);
          storeRow(outs, 12, o, e30, e31, e32, e33);
        }
        t++;
      }
    }
  }
}

@inline
function storeRow(outs: usize, base: i32, o: usize, a: v128, b: v128, c: v128, d: v128): void {
  v128.store(ptrAt(outs, base) + o, f32x4.sub(a, c));
  v128.store(ptrAt(outs, base + 1) + o, f32x4.add(b, c));
  v128.store(ptrAt(outs, base + 2) + o, f32x4.sub(c, b));
  v128.store(ptrAt(outs, base + 3) + o, f32x4.sub(b, d));
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
      let g00 = load<f32>(p), g01 = load<f32>(p + tap), g02 = load<f32>(p + 2 * tap);
      let g10 = load<f32>(p + 3 * tap), g11 = load<f32>(p + 4 * tap), g12 = load<f32>(p + 5 * tap);
      let g20 = load<f32>(p + 6 * tap), g21 = load<f32>(p + 7 * tap), g22 = load<f32>(p + 8 * tap);
      if (flip != 0) {
        let s = g00; g00 = g22; g22 = s;
        s = g01; g01 = g21; g21 = s;
        s = g02; g02 = g20; g20 = s;
        s = g10; g10 = g12; g12 = s;
      }
      // Rows: G g (4×3).
      const a00 = g00, a01 = g01, a02 = g02;
      const a10 = <f32>0.5 * (g00 + g10 + g20), a11 = <f32>0.5 * (g01 + g11 + g21), a12 = <f32>0.5 * (g02 + g12 + g22);
      const a20 = <f32>0.5 * (g00 - g10 + g20), a21 = <f32>0.5 * (g01 - g11 + g21), a22 = <f32>0.5 * (g02 - g12 + g22);
      const a30 = g20, a31 = g21, a32 = g22;
      const at = <usize>(flip != 0 ? co * c + ci : ci * o + co) << 2;
      storeGRow(outs, 0, at, a00, a01, a02);
      storeGRow(outs, 4, at, a10, a11, a12);
      storeGRow(outs, 8, at, a20, a21, a22);
      storeGRow(outs, 12, at, a30, a31, a32);
    }
  }
}

@inline
function storeGRow(outs: usize, base: i32, at: usize, a: f32, b: f32, c: f32): void {
  store<f32>(ptrAt(outs, base) + at, a);
  store<f32>(ptrAt(outs, base + 1) + at, <f32>0.5 * (a + b + c));
  store<f32>(ptrAt(outs, base + 2) + at, <f32>0.5 * (a - b + c));
  store<f32>(ptrAt(outs, base + 3) + at, c);
}

/**
 * y = Aᵀ M A per tile and channel (+ bias, then ReLU when `relu` ≠ 0): `ins` holds the 16
 * products M_ξ `[N·TH·TW, O]`; y is `[N, OH, OW, O]`; `bias` is `[O]` or 0 for none. Images
 * `b0 ≤ b < b1` only.
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
  const zero = f32x4.splat(0);
  let t = <usize>(b0 * th * tw);
  for (let b = b0; b < b1; b++) {
    const image = y + <usize>(b * oh) * rowStride;
    for (let i = 0; i < th; i++) {
      const r = 2 * i;
      const twoRows = r + 1 < oh;
      for (let j = 0; j < tw; j++) {
        const s = 2 * j;
        const twoCols = s + 1 < ow;
        const tileOffset = t * pixel;
        for (let ch = 0; ch < o; ch += 4) {
          const chOffset = <usize>ch << 2;
          const at = tileOffset + chOffset;
          // Aᵀ over rows: z0 = m0 + m1 + m2, z1 = m1 − m2 − m3 (for each of the 4 columns).
          const m00 = v128.load(ptrAt(ins, 0) + at), m01 = v128.load(ptrAt(ins, 1) + at);
          const m02 = v128.load(ptrAt(ins, 2) + at), m03 = v128.load(ptrAt(ins, 3) + at);
          const m10 = v128.load(ptrAt(ins, 4) + at), m11 = v128.load(ptrAt(ins, 5) + at);
          const m12 = v128.load(ptrAt(ins, 6) + at), m13 = v128.load(ptrAt(ins, 7) + at);
          const m20 = v128.load(ptrAt(ins, 8) + at), m21 = v128.load(ptrAt(ins, 9) + at);
          const m22 = v128.load(ptrAt(ins, 10) + at), m23 = v128.load(ptrAt(ins, 11) + at);
          const m30 = v128.load(ptrAt(ins, 12) + at), m31 = v128.load(ptrAt(ins, 13) + at);
          const m32 = v128.load(ptrAt(ins, 14) + at), m33 = v128.load(ptrAt(ins, 15) + at);
          const z00 = f32x4.add(f32x4.add(m00, m10), m20), z01 = f32x4.add(f32x4.add(m01, m11), m21);
          const z02 = f32x4.add(f32x4.add(m02, m12), m22), z03 = f32x4.add(f32x4.add(m03, m13), m23);
          const z10 = f32x4.sub(f32x4.sub(m10, m20), m30), z11 = f32x4.sub(f32x4.sub(m11, m21), m31);
          const z12 = f32x4.sub(f32x4.sub(m12, m22), m32), z13 = f32x4.sub(f32x4.sub(m13, m23), m33);
          // A over columns.
          let y00 = f32x4.add(f32x4.add(z00, z01), z02), y01 = f32x4.sub(f32x4.sub(z01, z02), z03);
          let y10 = f32x4.add(f32x4.add(z10, z11), z12), y11 = f32x4.sub(f32x4.sub(z11, z12), z13);
          if (bias != 0) {
            const bv = v128.load(bias + chOffset);
            y00 = f32x4.add(y00, bv); y01 = f32x4.add(y01, bv);
            y10 = f32x4.add(y10, bv); y11 = f32x4.add(y11, bv);
          }
          if (relu != 0) {
            y00 = f32x4.max(y00, zero); y01 = f32x4.max(y01, zero);
            y10 = f32x4.max(y10, zero); y11 = f32x4.max(y11, zero);
          }
          const p = image + <usize>r * rowStride + <usize>s * pixel + chOffset;
          v128.store(p, y00);
          if (twoCols) v128.store(p + pixel, y01);
          if (twoRows) {
            v128.store(p + rowStride, y10);
            if (twoCols) v128.store(p + rowStride + pixel, y11);
          }
        }
        t++;
      }
    }
  }
}

/**
 * Dᵀ_ξ[o, t] = (A e_t,o Aᵀ)_ξ for the output gradient dy `[N, OH, OW, O]` (zero outside it):
 * each Dᵀ_ξ is `[O, N·TH·TW]`, tiles along its rows, the layout XNNPACK's left operand needs for
 * Dᵀ_ξ · V_ξ. Four consecutive tiles of a row of tiles go into one SIMD vector. Images
 * `b0 ≤ b < b1` of the `n` only.
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
      const r = 2 * i;
      for (let j = 0; j < tw; j += 4) {
        const count = min(4, tw - j);
        for (let co = 0; co < o; co++) {
          // e[a][b] for four tiles, one per lane.
          let e00 = f32x4.splat(0), e01 = f32x4.splat(0), e10 = f32x4.splat(0), e11 = f32x4.splat(0);
          for (let k = 0; k < count; k++) {
            const s = 2 * (j + k);
            const v00 = gradAt(image, r, s, oh, ow, rowStride, pixel, co);
            const v01 = gradAt(image, r, s + 1, oh, ow, rowStride, pixel, co);
            const v10 = gradAt(image, r + 1, s, oh, ow, rowStride, pixel, co);
            const v11 = gradAt(image, r + 1, s + 1, oh, ow, rowStride, pixel, co);
            if (k == 0) {
              e00 = f32x4.replace_lane(e00, 0, v00); e01 = f32x4.replace_lane(e01, 0, v01);
              e10 = f32x4.replace_lane(e10, 0, v10); e11 = f32x4.replace_lane(e11, 0, v11);
            } else if (k == 1) {
              e00 = f32x4.replace_lane(e00, 1, v00); e01 = f32x4.replace_lane(e01, 1, v01);
              e10 = f32x4.replace_lane(e10, 1, v10); e11 = f32x4.replace_lane(e11, 1, v11);
            } else if (k == 2) {
              e00 = f32x4.replace_lane(e00, 2, v00); e01 = f32x4.replace_lane(e01, 2, v01);
              e10 = f32x4.replace_lane(e10, 2, v10); e11 = f32x4.replace_lane(e11, 2, v11);
            } else {
              e00 = f32x4.replace_lane(e00, 3, v00); e01 = f32x4.replace_lane(e01, 3, v01);
              e10 = f32x4.replace_lane(e10, 3, v10); e11 = f32x4.replace_lane(e11, 3, v11);
            }
          }
          // A e: rows [e0, e0 + e1, e0 − e1, −e1] (4×2), then the same on columns.
          const a00 = e00, a01 = e01;
          const a10 = f32x4.add(e00, e10), a11 = f32x4.add(e01, e11);
          const a20 = f32x4.sub(e00, e10), a21 = f32x4.sub(e01, e11);
          const a30 = f32x4.neg(e10), a31 = f32x4.neg(e11);
          const at = ((<usize>co * tiles + t) << 2);
          if (count == 4) {
            storeGradRow4(outs, 0, at, a00, a01);
            storeGradRow4(outs, 4, at, a10, a11);
            storeGradRow4(outs, 8, at, a20, a21);
            storeGradRow4(outs, 12, at, a30, a31);
          } else {
            storeGradRowPartial(outs, 0, at, a00, a01, count);
            storeGradRowPartial(outs, 4, at, a10, a11, count);
            storeGradRowPartial(outs, 8, at, a20, a21, count);
            storeGradRowPartial(outs, 12, at, a30, a31, count);
          }
        }
        t += <usize>count;
      }
    }
  }
}

@inline
function gradAt(
  image: usize,
  r: i32,
  s: i32,
  oh: i32,
  ow: i32,
  rowStride: usize,
  pixel: usize,
  co: i32,
): f32 {
  if (r >= oh || s >= ow) return 0;
  return load<f32>(image + <usize>r * rowStride + <usize>s * pixel + (<usize>co << 2));
}

@inline
function storeGradRow4(outs: usize, base: i32, at: usize, a: v128, b: v128): void {
  v128.store(ptrAt(outs, base) + at, a);
  v128.store(ptrAt(outs, base + 1) + at, f32x4.add(a, b));
  v128.store(ptrAt(outs, base + 2) + at, f32x4.sub(a, b));
  v128.store(ptrAt(outs, base + 3) + at, f32x4.neg(b));
}

function storeGradRowPartial(outs: usize, base: i32, at: usize, a: v128, b: v128, count: i32): void {
  const v0 = a, v1 = f32x4.add(a, b), v2 = f32x4.sub(a, b), v3 = f32x4.neg(b);
  for (let k = 0; k < count; k++) {
    const off = at + (<usize>k << 2);
    store<f32>(ptrAt(outs, base) + off, laneOf(v0, k));
    store<f32>(ptrAt(outs, base + 1) + off, laneOf(v1, k));
    store<f32>(ptrAt(outs, base + 2) + off, laneOf(v2, k));
    store<f32>(ptrAt(outs, base + 3) + off, laneOf(v3, k));
  }
}

@inline
function laneOf(v: v128, k: i32): f32 {
  if (k == 0) return f32x4.extract_lane(v, 0);
  if (k == 1) return f32x4.extract_lane(v, 1);
  if (k == 2) return f32x4.extract_lane(v, 2);
  return f32x4.extract_lane(v, 3);
}

/**
 * dW[kh, kw, c, o] = (Gᵀ M_c,o G)[kh][kw]: `ins` holds the 16 products Mᵀ_ξ `[O, C]`
 * (= Dᵀ_ξ · V_ξ); dW is `[3, 3, C, O]`.
 */
export function filterGradOutput(ins: usize, dw: usize, c: i32, o: i32): void {
  const tap = <usize>(c * o) << 2;
  for (let co = 0; co < o; co++) {
    for (let ci = 0; ci < c; ci++) {
      const at = <usize>(co * c + ci) << 2;
      const m00 = load<f32>(ptrAt(ins, 0) + at), m01 = load<f32>(ptrAt(ins, 1) + at);
      const m02 = load<f32>(ptrAt(ins, 2) + at), m03 = load<f32>(ptrAt(ins, 3) + at);
      const m10 = load<f32>(ptrAt(ins, 4) + at), m11 = load<f32>(ptrAt(ins, 5) + at);
      const m12 = load<f32>(ptrAt(ins, 6) + at), m13 = load<f32>(ptrAt(ins, 7) + at);
      const m20 = load<f32>(ptrAt(ins, 8) + at), m21 = load<f32>(ptrAt(ins, 9) + at);
      const m22 = load<f32>(ptrAt(ins, 10) + at), m23 = load<f32>(ptrAt(ins, 11) + at);
      const m30 = load<f32>(ptrAt(ins, 12) + at), m31 = load<f32>(ptrAt(ins, 13) + at);
      const m32 = load<f32>(ptrAt(ins, 14) + at), m33 = load<f32>(ptrAt(ins, 15) + at);
      // Gᵀ over rows: [m0 + ½(m1 + m2), ½(m1 − m2), ½(m1 + m2) + m3].
      const r00 = m00 + <f32>0.5 * (m10 + m20), r01 = m01 + <f32>0.5 * (m11 + m21);
      const r02 = m02 + <f32>0.5 * (m12 + m22), r03 = m03 + <f32>0.5 * (m13 + m23);
      const r10 = <f32>0.5 * (m10 - m20), r11 = <f32>0.5 * (m11 - m21);
      const r12 = <f32>0.5 * (m12 - m22), r13 = <f32>0.5 * (m13 - m23);
      const r20 = <f32>0.5 * (m10 + m20) + m30, r21 = <f32>0.5 * (m11 + m21) + m31;
      const r22 = <f32>0.5 * (m12 + m22) + m32, r23 = <f32>0.5 * (m13 + m23) + m33;
      const p = dw + (<usize>(ci * o + co) << 2);
      storeGtCols(p, tap, 0, r00, r01, r02, r03);
      storeGtCols(p, tap, 3, r10, r11, r12, r13);
      storeGtCols(p, tap, 6, r20, r21, r22, r23);
    }
  }
}

@inline
function storeGtCols(p: usize, tap: usize, k: i32, a: f32, b: f32, c: f32, d: f32): void {
  store<f32>(p + <usize>k * tap, a + <f32>0.5 * (b + c));
  store<f32>(p + <usize>(k + 1) * tap, <f32>0.5 * (b - c));
  store<f32>(p + <usize>(k + 2) * tap, <f32>0.5 * (b + c) + d);
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
