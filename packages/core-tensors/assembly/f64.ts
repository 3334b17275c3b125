// Float64 host kernels of MTU (AssemblyScript, wasm SIMD f64x2): the inner loops of the Gram-route
// bases of src/linalg.ts and of the constraint products of @mtu/orthogonalization.
//
// Every function computes, for every output entry, exactly the sequence and parenthesization of
// float64 operations of the JavaScript reference in src/host-kernels/reference.ts (wasm, like V8,
// does IEEE double arithmetic without FMA contraction), so the results are bit-identical to it.
// SIMD lanes only ever hold independent output entries or independent partial sums of the
// reference; a lane is never summed with another lane except where the reference combines those
// partial sums, in its order.
//
// The module owns its memory (grown from JavaScript); every pointer is a byte address into it.
// Inputs are float32 or float64 (`isF64`), read exactly as the reference reads them (a float32 is
// promoted to float64, exactly). Matrices are row-major unless said otherwise. Callers pad inputs
// read in blocks of rows (see each function) so reads past the last row stay inside the memory;
// values read there never reach an output.

// ---------------------------------------------------------------------------------------------
// Loads

/** Element `i` of a float32 / float64 array at `p`, as float64. */
@inline
function ld(p: usize, i: usize, isF64: bool): f64 {
  return isF64 ? load<f64>(p + (i << 3)) : <f64>load<f32>(p + (i << 2));
}

/** Elements `i`, `i + 1` of a float32 / float64 array at `p`, as f64x2. */
@inline
function ld2(p: usize, i: usize, isF64: bool): v128 {
  return isF64 ? v128.load(p + (i << 3)) : f64x2.promote_low_f32x4(v128.load64_zero(p + (i << 2)));
}

/** Element `i` and element `i + stride` (the same column of the next row), as f64x2. */
@inline
function ldCol2(p: usize, i: usize, stride: usize, isF64: bool): v128 {
  if (isF64) {
    const q = p + (i << 3);
    return v128.load64_lane(q + (stride << 3), v128.load64_zero(q), 1);
  }
  const q = p + (i << 2);
  return f64x2.promote_low_f32x4(v128.load32_lane(q + (stride << 2), v128.load32_zero(q), 1));
}

@inline
function f64At(p: usize, i: usize): usize {
  return p + (i << 3);
}

// ---------------------------------------------------------------------------------------------
// Gram matrices, four rows at a time.
//
// Both Gram kernels read a chunk of rows converted to float64 (`rows`, `4·blocks` rows of `mp`
// values, mp even, zero-padded) and add each block of four rows x₀…x₃ to the `mp × mp` matrix `g`
// for every row a and the columns c ≥ a rounded down to even (the upper triangle and, for odd a,
// the entry just below the diagonal, which the caller ignores). Per entry and block:
//   pairs: g ← g + ((x₀ₐx₀꜀ + x₁ₐx₁꜀) + (x₂ₐx₂꜀ + x₃ₐx₃꜀))   (hostProducts of orthogonalization)
//   left:  g ← (((g + x₀ₐx₀꜀) + x₁ₐx₁꜀) + x₂ₐx₂꜀) + x₃ₐx₃꜀     (basisCore step 2 of linalg)
// Lanes hold the columns c, c + 1.

@inline
function termPairs(
  acc: v128,
  x0: v128, x1: v128, x2: v128, x3: v128,
  r0: v128, r1: v128, r2: v128, r3: v128,
): v128 {
  return f64x2.add(
    acc,
    f64x2.add(
      f64x2.add(f64x2.mul(x0, r0), f64x2.mul(x1, r1)),
      f64x2.add(f64x2.mul(x2, r2), f64x2.mul(x3, r3)),
    ),
  );
}

@inline
function termLeft(
  acc: v128,
  x0: v128, x1: v128, x2: v128, x3: v128,
  r0: v128, r1: v128, r2: v128, r3: v128,
): v128 {
  return f64x2.add(
    f64x2.add(f64x2.add(f64x2.add(acc, f64x2.mul(x0, r0)), f64x2.mul(x1, r1)), f64x2.mul(x2, r2)),
    f64x2.mul(x3, r3),
  );
}

@inline
function term(
  left: bool,
  acc: v128,
  x0: v128, x1: v128, x2: v128, x3: v128,
  r0: v128, r1: v128, r2: v128, r3: v128,
): v128 {
  return left
    ? termLeft(acc, x0, x1, x2, x3, r0, r1, r2, r3)
    : termPairs(acc, x0, x1, x2, x3, r0, r1, r2, r3);
}

/**
 * Adds `blocks` blocks of four rows to g. For each row a, the entries c ≥ a (from a rounded down
 * to even) go in tiles of 16, 8 and 2 columns whose sums stay in registers over all the blocks
 * (8 independent accumulators: the left-to-right sum is a chain of four dependent additions per
 * block).
 */
@inline
function gramChunk(rows: usize, blocks: i32, mp: i32, g: usize, left: bool): void {
  const stride = <usize>mp << 3;
  const blockBytes = stride << 2;
  for (let a = 0; a < mp; a++) {
    const ao = <usize>a << 3;
    const g0 = g + <usize>a * stride;
    let c = a & ~1;
    for (; c + 16 <= mp; c += 16) {
      const co = <usize>c << 3;
      const q = g0 + co;
      let s0 = v128.load(q), s1 = v128.load(q, 16), s2 = v128.load(q, 32), s3 = v128.load(q, 48);
      let s4 = v128.load(q, 64), s5 = v128.load(q, 80), s6 = v128.load(q, 96), s7 = v128.load(q, 112);
      let p0 = rows;
      for (let b = 0; b < blocks; b++) {
        const p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
        const x0 = v128.load64_splat(p0 + ao), x1 = v128.load64_splat(p1 + ao);
        const x2 = v128.load64_splat(p2 + ao), x3 = v128.load64_splat(p3 + ao);
        const r0 = p0 + co, r1 = p1 + co, r2 = p2 + co, r3 = p3 + co;
        s0 = term(left, s0, x0, x1, x2, x3, v128.load(r0), v128.load(r1), v128.load(r2), v128.load(r3));
        s1 = term(left, s1, x0, x1, x2, x3, v128.load(r0, 16), v128.load(r1, 16), v128.load(r2, 16), v128.load(r3, 16));
        s2 = term(left, s2, x0, x1, x2, x3, v128.load(r0, 32), v128.load(r1, 32), v128.load(r2, 32), v128.load(r3, 32));
        s3 = term(left, s3, x0, x1, x2, x3, v128.load(r0, 48), v128.load(r1, 48), v128.load(r2, 48), v128.load(r3, 48));
        s4 = term(left, s4, x0, x1, x2, x3, v128.load(r0, 64), v128.load(r1, 64), v128.load(r2, 64), v128.load(r3, 64));
        s5 = term(left, s5, x0, x1, x2, x3, v128.load(r0, 80), v128.load(r1, 80), v128.load(r2, 80), v128.load(r3, 80));
        s6 = term(left, s6, x0, x1, x2, x3, v128.load(r0, 96), v128.load(r1, 96), v128.load(r2, 96), v128.load(r3, 96));
        s7 = term(left, s7, x0, x1, x2, x3, v128.load(r0, 112), v128.load(r1, 112), v128.load(r2, 112), v128.load(r3, 112));
        p0 += blockBytes;
      }
      v128.store(q, s0); v128.store(q, s1, 16); v128.store(q, s2, 32); v128.store(q, s3, 48);
      v128.store(q, s4, 64); v128.store(q, s5, 80); v128.store(q, s6, 96); v128.store(q, s7, 112);
    }
    for (; c + 8 <= mp; c += 8) {
      const co = <usize>c << 3;
      const q = g0 + co;
      let s0 = v128.load(q), s1 = v128.load(q, 16), s2 = v128.load(q, 32), s3 = v128.load(q, 48);
      let p0 = rows;
      for (let b = 0; b < blocks; b++) {
        const p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
        const x0 = v128.load64_splat(p0 + ao), x1 = v128.load64_splat(p1 + ao);
        const x2 = v128.load64_splat(p2 + ao), x3 = v128.load64_splat(p3 + ao);
        const r0 = p0 + co, r1 = p1 + co, r2 = p2 + co, r3 = p3 + co;
        s0 = term(left, s0, x0, x1, x2, x3, v128.load(r0), v128.load(r1), v128.load(r2), v128.load(r3));
        s1 = term(left, s1, x0, x1, x2, x3, v128.load(r0, 16), v128.load(r1, 16), v128.load(r2, 16), v128.load(r3, 16));
        s2 = term(left, s2, x0, x1, x2, x3, v128.load(r0, 32), v128.load(r1, 32), v128.load(r2, 32), v128.load(r3, 32));
        s3 = term(left, s3, x0, x1, x2, x3, v128.load(r0, 48), v128.load(r1, 48), v128.load(r2, 48), v128.load(r3, 48));
        p0 += blockBytes;
      }
      v128.store(q, s0); v128.store(q, s1, 16); v128.store(q, s2, 32); v128.store(q, s3, 48);
    }
    for (; c < mp; c += 2) {
      const co = <usize>c << 3;
      let s0 = v128.load(g0 + co);
      let p0 = rows;
      for (let b = 0; b < blocks; b++) {
        const p1 = p0 + stride, p2 = p1 + stride, p3 = p2 + stride;
        s0 = term(left, s0, v128.load64_splat(p0 + ao), v128.load64_splat(p1 + ao), v128.load64_splat(p2 + ao), v128.load64_splat(p3 + ao),
          v128.load(p0 + co), v128.load(p1 + co), v128.load(p2 + co), v128.load(p3 + co));
        p0 += blockBytes;
      }
      v128.store(g0 + co, s0);
    }
  }
}

/**
 * The products of hostProducts: the Gram matrix of [C | g] (C `d × m`, g length d), accumulated
 * into `g` (`mp × mp`, mp = m + 1 rounded up to even, zeroed by the caller): G = CᵀC in rows and
 * columns < m, b = Cᵀg in column m, ‖g‖² at (m, m). `work` holds `chunk · mp` float64 (chunk a
 * multiple of 4).
 */
@inline
function hostGramImpl(
  c: usize, g: usize, gIsF64: bool, d: i32, m: i32, out: usize, work: usize, chunk: i32,
  isF64: bool,
): void {
  const mp = (m + 2) & ~1;
  for (let r0 = 0; r0 < d; r0 += chunk) {
    const rows = min(chunk, d - r0);
    const filled = (rows + 3) & ~3;
    for (let t = 0; t < filled; t++) {
      const dst = work + <usize>(t * mp) * 8;
      if (t < rows) {
        const src = <usize>(r0 + t) * <usize>m;
        let a = 0;
        for (; a + 1 < m; a += 2) v128.store(f64At(dst, a), ld2(c, src + a, isF64));
        if (a < m) store<f64>(f64At(dst, a), ld(c, src + a, isF64));
        store<f64>(f64At(dst, m), ld(g, r0 + t, gIsF64));
        for (let a = m + 1; a < mp; a++) store<f64>(f64At(dst, a), 0);
      } else {
        memory.fill(dst, 0, <usize>mp << 3);
      }
    }
    gramChunk(work, filled >> 2, mp, out, false);
  }
}

export function hostGramF32(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, out: usize, work: usize, chunk: i32): void {
  hostGramImpl(c, g, gIsF64, d, m, out, work, chunk, false);
}

export function hostGramF64(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, out: usize, work: usize, chunk: i32): void {
  hostGramImpl(c, g, gIsF64, d, m, out, work, chunk, true);
}

/**
 * Step 2 of basisCore: the Gram matrix of Gs = (G·f₁)·f₂ (G `d × n`), accumulated into `out`
 * (`np × np`, np = n rounded up to even, zeroed by the caller). `work`: `chunk · np` float64.
 */
@inline
function basisGramImpl(
  src: usize, d: i32, n: i32, f1: f64, f2: f64, out: usize, work: usize, chunk: i32, isF64: bool,
): void {
  const np = (n + 1) & ~1;
  for (let r0 = 0; r0 < d; r0 += chunk) {
    const rows = min(chunk, d - r0);
    const filled = (rows + 3) & ~3;
    for (let t = 0; t < filled; t++) {
      const dst = work + <usize>(t * np) * 8;
      if (t < rows) {
        const s = <usize>(r0 + t) * <usize>n;
        const v1 = f64x2.splat(f1), v2 = f64x2.splat(f2);
        let a = 0;
        for (; a + 1 < n; a += 2) {
          v128.store(f64At(dst, a), f64x2.mul(f64x2.mul(ld2(src, s + a, isF64), v1), v2));
        }
        if (a < n) store<f64>(f64At(dst, a), ld(src, s + a, isF64) * f1 * f2);
        if (n < np) store<f64>(f64At(dst, n), 0);
      } else {
        memory.fill(dst, 0, <usize>np << 3);
      }
    }
    gramChunk(work, filled >> 2, np, out, true);
  }
}

export function basisGramF32(src: usize, d: i32, n: i32, f1: f64, f2: f64, out: usize, work: usize, chunk: i32): void {
  basisGramImpl(src, d, n, f1, f2, out, work, chunk, false);
}

export function basisGramF64(src: usize, d: i32, n: i32, f1: f64, f2: f64, out: usize, work: usize, chunk: i32): void {
  basisGramImpl(src, d, n, f1, f2, out, work, chunk, true);
}

// ---------------------------------------------------------------------------------------------
// Step 5 of basisCore: U = Gs·W, column-major out (column j at cols + 8·j·d).
// For every row i and column j: s = 0; s ← s + xᵢₐ·wⱼₐ for a = 0 … n−1 (xᵢₐ = (gᵢₐ·f₁)·f₂).
// Eight rows at a time, transposed into `panel` (n × 8 float64); lanes hold rows i, i + 1.

@inline
function storeRows(p: usize, m: i32, v0: v128, v1: v128, v2: v128, v3: v128, scratch: usize): void {
  if (m == 8) {
    v128.store(p, v0); v128.store(p + 16, v1); v128.store(p + 32, v2); v128.store(p + 48, v3);
  } else {
    v128.store(scratch, v0); v128.store(scratch + 16, v1);
    v128.store(scratch + 32, v2); v128.store(scratch + 48, v3);
    memory.copy(p, scratch, <usize>m << 3);
  }
}

@inline
function basisColumnsImpl(
  src: usize, d: i32, n: i32, f1: f64, f2: f64, w: usize, k: i32, cols: usize, panel: usize,
  isF64: bool,
): void {
  const scratch = panel + (<usize>n << 6);
  const colBytes = <usize>d << 3;
  const rowBytes = <usize>n << 3;
  for (let i0 = 0; i0 < d; i0 += 8) {
    const m = min(8, d - i0);
    for (let t = 0; t < 8; t++) {
      if (t < m) {
        const s = <usize>(i0 + t) * <usize>n;
        for (let a = 0; a < n; a++) {
          store<f64>(panel + (<usize>(a * 8 + t) << 3), ld(src, s + a, isF64) * f1 * f2);
        }
      } else {
        for (let a = 0; a < n; a++) store<f64>(panel + (<usize>(a * 8 + t) << 3), 0);
      }
    }
    const out0 = cols + (<usize>i0 << 3);
    let j = 0;
    for (; j + 1 < k; j += 2) {
      const w0 = w + <usize>j * rowBytes;
      const w1 = w0 + rowBytes;
      let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s02 = f64x2.splat(0), s03 = f64x2.splat(0);
      let s10 = f64x2.splat(0), s11 = f64x2.splat(0), s12 = f64x2.splat(0), s13 = f64x2.splat(0);
      let p = panel;
      for (let a = 0; a < n; a++) {
        const y0 = v128.load64_splat(w0 + (<usize>a << 3));
        const y1 = v128.load64_splat(w1 + (<usize>a << 3));
        const x0 = v128.load(p), x1 = v128.load(p + 16), x2 = v128.load(p + 32), x3 = v128.load(p + 48);
        s00 = f64x2.add(s00, f64x2.mul(x0, y0)); s01 = f64x2.add(s01, f64x2.mul(x1, y0));
        s02 = f64x2.add(s02, f64x2.mul(x2, y0)); s03 = f64x2.add(s03, f64x2.mul(x3, y0));
        s10 = f64x2.add(s10, f64x2.mul(x0, y1)); s11 = f64x2.add(s11, f64x2.mul(x1, y1));
        s12 = f64x2.add(s12, f64x2.mul(x2, y1)); s13 = f64x2.add(s13, f64x2.mul(x3, y1));
        p += 64;
      }
      storeRows(out0 + <usize>j * colBytes, m, s00, s01, s02, s03, scratch);
      storeRows(out0 + <usize>(j + 1) * colBytes, m, s10, s11, s12, s13, scratch);
    }
    if (j < k) {
      const w0 = w + <usize>j * rowBytes;
      let s00 = f64x2.splat(0), s01 = f64x2.splat(0), s02 = f64x2.splat(0), s03 = f64x2.splat(0);
      let p = panel;
      for (let a = 0; a < n; a++) {
        const y0 = v128.load64_splat(w0 + (<usize>a << 3));
        s00 = f64x2.add(s00, f64x2.mul(v128.load(p), y0));
        s01 = f64x2.add(s01, f64x2.mul(v128.load(p + 16), y0));
        s02 = f64x2.add(s02, f64x2.mul(v128.load(p + 32), y0));
        s03 = f64x2.add(s03, f64x2.mul(v128.load(p + 48), y0));
        p += 64;
      }
      storeRows(out0 + <usize>j * colBytes, m, s00, s01, s02, s03, scratch);
    }
  }
}

/** `panel`: 8·n + 8 float64 of scratch. `w`: k × n (row j = column j of V_k Σ_k⁻¹). */
export function basisColumnsF32(src: usize, d: i32, n: i32, f1: f64, f2: f64, w: usize, k: i32, cols: usize, panel: usize): void {
  basisColumnsImpl(src, d, n, f1, f2, w, k, cols, panel, false);
}

export function basisColumnsF64(src: usize, d: i32, n: i32, f1: f64, f2: f64, w: usize, k: i32, cols: usize, panel: usize): void {
  basisColumnsImpl(src, d, n, f1, f2, w, k, cols, panel, true);
}

// ---------------------------------------------------------------------------------------------
// Step 6 of basisCore: modified Gram–Schmidt on the k columns of length d at `cols`.

/** ⟨x, y⟩ with the reference's four partial sums (t mod 4; the tail into s₀), (s₀+s₁)+(s₂+s₃). */
@inline
function dot4(x: usize, y: usize, d: i32): f64 {
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  const d4 = d - (d % 4);
  let t = 0;
  for (; t < d4; t += 4) {
    const o = <usize>t << 3;
    s01 = f64x2.add(s01, f64x2.mul(v128.load(x + o), v128.load(y + o)));
    s23 = f64x2.add(s23, f64x2.mul(v128.load(x + o + 16), v128.load(y + o + 16)));
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; t < d; t++) s0 += load<f64>(f64At(x, t)) * load<f64>(f64At(y, t));
  return s0 + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
}

/** u ← u − c·p. */
@inline
function axpy(u: usize, p: usize, c: f64, d: i32): void {
  const cv = f64x2.splat(c);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    v128.store(u + o, f64x2.sub(v128.load(u + o), f64x2.mul(cv, v128.load(p + o))));
  }
  if (t < d) store<f64>(f64At(u, t), load<f64>(f64At(u, t)) - c * load<f64>(f64At(p, t)));
}

/** u ← u − c·p, then ⟨q, u⟩ with two partial sums (even / odd t; the tail into s₀), s₀ + s₁. */
@inline
function axpyDot(u: usize, p: usize, c: f64, q: usize, d: i32): f64 {
  const cv = f64x2.splat(c);
  let s = f64x2.splat(0);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    const y = f64x2.sub(v128.load(u + o), f64x2.mul(cv, v128.load(p + o)));
    v128.store(u + o, y);
    s = f64x2.add(s, f64x2.mul(v128.load(q + o), y));
  }
  let s0 = f64x2.extract_lane(s, 0);
  if (t < d) {
    const y = load<f64>(f64At(u, t)) - c * load<f64>(f64At(p, t));
    store<f64>(f64At(u, t), y);
    s0 += load<f64>(f64At(q, t)) * y;
  }
  return s0 + f64x2.extract_lane(s, 1);
}

@inline
function scale(u: usize, inv: f64, d: i32): void {
  const v = f64x2.splat(inv);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    v128.store(u + o, f64x2.mul(v128.load(u + o), v));
  }
  if (t < d) store<f64>(f64At(u, t), load<f64>(f64At(u, t)) * inv);
}

/** ⟨x, y⟩ with axpyDot's two partial sums (even / odd t; the tail into s₀), s₀ + s₁. */
@inline
function dot2(x: usize, y: usize, d: i32): f64 {
  let s = f64x2.splat(0);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    s = f64x2.add(s, f64x2.mul(v128.load(x + o), v128.load(y + o)));
  }
  let s0 = f64x2.extract_lane(s, 0);
  if (t < d) s0 += load<f64>(f64At(x, t)) * load<f64>(f64At(y, t));
  return s0 + f64x2.extract_lane(s, 1);
}

/** dot4(x₁, y₁) and dot4(x₂, y₂) in one pass, as lanes 0 and 1. */
@inline
function dot4Pair(x1: usize, y1: usize, x2: usize, y2: usize, d: i32): v128 {
  let a01 = f64x2.splat(0), a23 = f64x2.splat(0);
  let b01 = f64x2.splat(0), b23 = f64x2.splat(0);
  const d4 = d - (d % 4);
  let t = 0;
  for (; t < d4; t += 4) {
    const o = <usize>t << 3;
    a01 = f64x2.add(a01, f64x2.mul(v128.load(x1 + o), v128.load(y1 + o)));
    a23 = f64x2.add(a23, f64x2.mul(v128.load(x1 + o + 16), v128.load(y1 + o + 16)));
    b01 = f64x2.add(b01, f64x2.mul(v128.load(x2 + o), v128.load(y2 + o)));
    b23 = f64x2.add(b23, f64x2.mul(v128.load(x2 + o + 16), v128.load(y2 + o + 16)));
  }
  let a0 = f64x2.extract_lane(a01, 0);
  let b0 = f64x2.extract_lane(b01, 0);
  for (; t < d; t++) {
    a0 += load<f64>(f64At(x1, t)) * load<f64>(f64At(y1, t));
    b0 += load<f64>(f64At(x2, t)) * load<f64>(f64At(y2, t));
  }
  const a = a0 + f64x2.extract_lane(a01, 1) + (f64x2.extract_lane(a23, 0) + f64x2.extract_lane(a23, 1));
  const b = b0 + f64x2.extract_lane(b01, 1) + (f64x2.extract_lane(b23, 0) + f64x2.extract_lane(b23, 1));
  return f64x2.replace_lane(f64x2.splat(a), 1, b);
}

/** axpy(x, p, cx) and axpy(y, p, cy) in one pass. */
@inline
function axpyPair(x: usize, y: usize, p: usize, cx: f64, cy: f64, d: i32): void {
  const cxv = f64x2.splat(cx), cyv = f64x2.splat(cy);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    const pv = v128.load(p + o);
    v128.store(x + o, f64x2.sub(v128.load(x + o), f64x2.mul(cxv, pv)));
    v128.store(y + o, f64x2.sub(v128.load(y + o), f64x2.mul(cyv, pv)));
  }
  if (t < d) {
    const pt = load<f64>(f64At(p, t));
    store<f64>(f64At(x, t), load<f64>(f64At(x, t)) - cx * pt);
    store<f64>(f64At(y, t), load<f64>(f64At(y, t)) - cy * pt);
  }
}

/** axpyDot(x, p, cx, q) and axpyDot(y, p, cy, q) in one pass; the two dots as lanes 0 and 1. */
@inline
function axpyDotPair(x: usize, y: usize, p: usize, cx: f64, cy: f64, q: usize, d: i32): v128 {
  const cxv = f64x2.splat(cx), cyv = f64x2.splat(cy);
  let sx = f64x2.splat(0), sy = f64x2.splat(0);
  const d2 = d & ~1;
  let t = 0;
  for (; t < d2; t += 2) {
    const o = <usize>t << 3;
    const pv = v128.load(p + o), qv = v128.load(q + o);
    const yx = f64x2.sub(v128.load(x + o), f64x2.mul(cxv, pv));
    const yy = f64x2.sub(v128.load(y + o), f64x2.mul(cyv, pv));
    v128.store(x + o, yx);
    v128.store(y + o, yy);
    sx = f64x2.add(sx, f64x2.mul(qv, yx));
    sy = f64x2.add(sy, f64x2.mul(qv, yy));
  }
  let sx0 = f64x2.extract_lane(sx, 0);
  let sy0 = f64x2.extract_lane(sy, 0);
  if (t < d) {
    const pt = load<f64>(f64At(p, t)), qt = load<f64>(f64At(q, t));
    const yx = load<f64>(f64At(x, t)) - cx * pt;
    const yy = load<f64>(f64At(y, t)) - cy * pt;
    store<f64>(f64At(x, t), yx);
    store<f64>(f64At(y, t), yy);
    sx0 += qt * yx;
    sy0 += qt * yy;
  }
  return f64x2.replace_lane(
    f64x2.splat(sx0 + f64x2.extract_lane(sx, 1)), 1, sy0 + f64x2.extract_lane(sy, 1));
}

/** One sweep of MGS of u against the `out` columns at `cols`: u ← u − ⟨uᵢ, u⟩uᵢ, i ascending. */
@inline
function sweep(cols: usize, colBytes: usize, u: usize, out: i32, d: i32): void {
  if (out > 0) {
    let c = dot4(cols, u, d);
    for (let i = 0; i < out; i++) {
      const ci = cols + <usize>i * colBytes;
      if (i + 1 < out) c = axpyDot(u, ci, c, ci + colBytes, d);
      else axpy(u, ci, c, d);
    }
  }
}

/**
 * The rest of the reference's pass loop for the column at `u` after its first sweep: the norm
 * test, a second sweep if the column lost more than half its norm, and the drop / normalisation.
 * Returns whether the column is kept.
 */
@inline
function finish(cols: usize, colBytes: usize, u: usize, out: i32, d: i32, norm0: f64): bool {
  let nrm = Math.sqrt(dot4(u, u, d));
  if (!(nrm >= 0.5 * norm0)) {
    sweep(cols, colBytes, u, out, d);
    nrm = Math.sqrt(dot4(u, u, d));
  }
  if (!(nrm > 1e-10 * norm0) || !isFinite(nrm)) return false;
  scale(u, 1 / nrm, d);
  return true;
}

/**
 * Modified Gram–Schmidt with the reference's control flow ("twice is enough" for a column that
 * loses more than half its norm; a vanished column is dropped and the later ones move up).
 * Returns the number of columns kept (they are the first ones at `cols`).
 *
 * Columns go in pairs (x, y) = (j, j + 1): each sweep of y against the finished columns runs in
 * the same pass as x's, so the two independent dependency chains overlap and each finished column
 * is read once for both. The operations on each column are still exactly the reference's: y's
 * sweep stops after the update by the last finished column; once x is finished (kept or dropped),
 * y takes its dot product with x exactly as the reference's sweep would have (axpyDot's two
 * partial sums, or dot4 when x is the first column), then the update by x.
 */
export function mgs(cols: usize, d: i32, k: i32): i32 {
  const colBytes = <usize>d << 3;
  let out = 0;
  let j = 0;
  for (; j + 1 < k; j += 2) {
    const x = cols + <usize>out * colBytes;
    const xs = cols + <usize>j * colBytes;
    if (x != xs) memory.copy(x, xs, colBytes);
    let y = x + colBytes;
    const ys = xs + colBytes;
    if (y != ys) memory.copy(y, ys, colBytes);
    const norms = dot4Pair(x, x, y, y, d);
    const normX = Math.sqrt(f64x2.extract_lane(norms, 0));
    const normY = Math.sqrt(f64x2.extract_lane(norms, 1));
    if (out > 0) {
      let c = dot4Pair(cols, x, cols, y, d);
      for (let i = 0; i < out; i++) {
        const ci = cols + <usize>i * colBytes;
        const cx = f64x2.extract_lane(c, 0), cy = f64x2.extract_lane(c, 1);
        if (i + 1 < out) c = axpyDotPair(x, y, ci, cx, cy, ci + colBytes, d);
        else axpyPair(x, y, ci, cx, cy, d);
      }
    }
    if (finish(cols, colBytes, x, out, d, normX)) {
      const c = out == 0 ? dot4(x, y, d) : dot2(x, y, d);
      axpy(y, x, c, d);
      out++;
    } else {
      memory.copy(x, y, colBytes);
      y = x;
    }
    if (finish(cols, colBytes, y, out, d, normY)) out++;
  }
  if (j < k) {
    const u = cols + <usize>out * colBytes;
    const us = cols + <usize>j * colBytes;
    if (u != us) memory.copy(u, us, colBytes);
    const norm0 = Math.sqrt(dot4(u, u, d));
    sweep(cols, colBytes, u, out, d);
    if (finish(cols, colBytes, u, out, d, norm0)) out++;
  }
  return out;
}

/**
 * The k columns of length d at `cols` (column-major) as a row-major `d × k` matrix at `out`:
 * float64, or float32 (`toF32`, each value rounded once).
 */
@inline
function transposeImpl(cols: usize, d: i32, k: i32, out: usize, toF32: bool): void {
  const colBytes = <usize>d << 3;
  const es: usize = toF32 ? 4 : 8;
  const rowBytes = <usize>k * es;
  const d2 = d & ~1;
  for (let i = 0; i < d2; i += 2) {
    let src = cols + (<usize>i << 3);
    let dst = out + <usize>i * rowBytes;
    for (let j = 0; j < k; j++) {
      const v = v128.load(src);
      if (toF32) {
        const f = f32x4.demote_f64x2_zero(v);
        v128.store32_lane(dst, f, 0);
        v128.store32_lane(dst + rowBytes, f, 1);
      } else {
        v128.store64_lane(dst, v, 0);
        v128.store64_lane(dst + rowBytes, v, 1);
      }
      src += colBytes;
      dst += es;
    }
  }
  if (d2 < d) {
    for (let j = 0; j < k; j++) {
      const x = load<f64>(cols + <usize>j * colBytes + (<usize>d2 << 3));
      const at = out + <usize>d2 * rowBytes + <usize>j * es;
      if (toF32) store<f32>(at, <f32>x);
      else store<f64>(at, x);
    }
  }
}

export function transposeF64(cols: usize, d: i32, k: i32, out: usize): void {
  transposeImpl(cols, d, k, out, false);
}

export function transposeF32(cols: usize, d: i32, k: i32, out: usize): void {
  transposeImpl(cols, d, k, out, true);
}

// ---------------------------------------------------------------------------------------------
// residualProducts and combineHost of orthogonalization: rᵢ = gᵢ − Σⱼ Cᵢⱼaⱼ, as
// r ← gᵢ; r ← r − Cᵢⱼ·aⱼ for the listed columns j in order. Sixteen rows at a time (eight
// independent chains), lanes hold rows i, i + 1 (so C and g must be readable 16 rows past d).

@inline
function gPair(g: usize, i: i32, gIsF64: bool): v128 {
  return f64x2.replace_lane(f64x2.splat(ld(g, i, gIsF64)), 1, ld(g, i + 1, gIsF64));
}

/** rᵢ for the 16 rows i0 … i0+15 (lanes: row pairs), stored at `out` (16 float64). */
@inline
function rowResiduals16(
  c: usize, i0: i32, m: i32, g: usize, gIsF64: bool, idx: usize, coef: usize, n: i32,
  isF64: bool, out: usize,
): void {
  const stride = <usize>m;
  let r0 = gPair(g, i0, gIsF64), r1 = gPair(g, i0 + 2, gIsF64);
  let r2 = gPair(g, i0 + 4, gIsF64), r3 = gPair(g, i0 + 6, gIsF64);
  let r4 = gPair(g, i0 + 8, gIsF64), r5 = gPair(g, i0 + 10, gIsF64);
  let r6 = gPair(g, i0 + 12, gIsF64), r7 = gPair(g, i0 + 14, gIsF64);
  const base = <usize>i0 * stride;
  const s2: usize = stride << 1;
  for (let t = 0; t < n; t++) {
    const j = <usize>load<i32>(idx + (<usize>t << 2));
    const av = v128.load64_splat(coef + (<usize>t << 3));
    const e = base + j;
    r0 = f64x2.sub(r0, f64x2.mul(ldCol2(c, e, stride, isF64), av));
    r1 = f64x2.sub(r1, f64x2.mul(ldCol2(c, e + s2, stride, isF64), av));
    r2 = f64x2.sub(r2, f64x2.mul(ldCol2(c, e + 2 * s2, stride, isF64), av));
    r3 = f64x2.sub(r3, f64x2.mul(ldCol2(c, e + 3 * s2, stride, isF64), av));
    r4 = f64x2.sub(r4, f64x2.mul(ldCol2(c, e + 4 * s2, stride, isF64), av));
    r5 = f64x2.sub(r5, f64x2.mul(ldCol2(c, e + 5 * s2, stride, isF64), av));
    r6 = f64x2.sub(r6, f64x2.mul(ldCol2(c, e + 6 * s2, stride, isF64), av));
    r7 = f64x2.sub(r7, f64x2.mul(ldCol2(c, e + 7 * s2, stride, isF64), av));
  }
  v128.store(out, r0); v128.store(out, r1, 16); v128.store(out, r2, 32); v128.store(out, r3, 48);
  v128.store(out, r4, 64); v128.store(out, r5, 80); v128.store(out, r6, 96); v128.store(out, r7, 112);
}

/**
 * residualProducts: out = Cᵀ(g − C a), out[j] ← out[j] + Cᵢⱼ·rᵢ over the rows in order (out
 * zeroed by the caller). `idx` lists 0 … m−1 (i32), `coef` = a. `work`: `chunk` float64 (chunk
 * a multiple of 16).
 */
@inline
function residualImpl(
  c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, out: usize,
  work: usize, chunk: i32, isF64: bool,
): void {
  const m2 = m & ~1;
  for (let r0 = 0; r0 < d; r0 += chunk) {
    const rows = min(chunk, d - r0);
    for (let t = 0; t < rows; t += 16) {
      rowResiduals16(c, r0 + t, m, g, gIsF64, idx, coef, m, isF64, work + (<usize>t << 3));
    }
    // out[j … j+7] ← out + C[i, j … j+7]·rᵢ for i in order.
    let j = 0;
    for (; j + 8 <= m2; j += 8) {
      const oj = f64At(out, j);
      let o0 = v128.load(oj), o1 = v128.load(oj + 16), o2 = v128.load(oj + 32), o3 = v128.load(oj + 48);
      let e = <usize>r0 * <usize>m + <usize>j;
      for (let t = 0; t < rows; t++) {
        const r = v128.load64_splat(work + (<usize>t << 3));
        o0 = f64x2.add(o0, f64x2.mul(ld2(c, e, isF64), r));
        o1 = f64x2.add(o1, f64x2.mul(ld2(c, e + 2, isF64), r));
        o2 = f64x2.add(o2, f64x2.mul(ld2(c, e + 4, isF64), r));
        o3 = f64x2.add(o3, f64x2.mul(ld2(c, e + 6, isF64), r));
        e += <usize>m;
      }
      v128.store(oj, o0); v128.store(oj + 16, o1); v128.store(oj + 32, o2); v128.store(oj + 48, o3);
    }
    for (; j < m2; j += 2) {
      const oj = f64At(out, j);
      let o0 = v128.load(oj);
      let e = <usize>r0 * <usize>m + <usize>j;
      for (let t = 0; t < rows; t++) {
        o0 = f64x2.add(o0, f64x2.mul(ld2(c, e, isF64), v128.load64_splat(work + (<usize>t << 3))));
        e += <usize>m;
      }
      v128.store(oj, o0);
    }
    if (m2 < m) {
      let o = load<f64>(f64At(out, m2));
      let e = <usize>r0 * <usize>m + <usize>m2;
      for (let t = 0; t < rows; t++) {
        o += ld(c, e, isF64) * load<f64>(work + (<usize>t << 3));
        e += <usize>m;
      }
      store<f64>(f64At(out, m2), o);
    }
  }
}

export function residualF32(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, out: usize, work: usize, chunk: i32): void {
  residualImpl(c, g, gIsF64, d, m, idx, coef, out, work, chunk, false);
}

export function residualF64(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, out: usize, work: usize, chunk: i32): void {
  residualImpl(c, g, gIsF64, d, m, idx, coef, out, work, chunk, true);
}

/**
 * combineHost: u = float32(g − C a) over the n listed columns (`idx`, `coef`), returning
 * ‖u‖² ← ‖u‖² + uᵢ·uᵢ over the rounded values in row order. `u` must hold d rounded up to 16
 * float32; `work` 16 float64.
 */
@inline
function combineImpl(
  c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, n: i32, u: usize,
  work: usize, isF64: bool,
): f64 {
  let uu: f64 = 0;
  for (let i0 = 0; i0 < d; i0 += 16) {
    rowResiduals16(c, i0, m, g, gIsF64, idx, coef, n, isF64, work);
    const p = u + (<usize>i0 << 2);
    // float32 rounding of each pair, and its squares in float64 for ‖u‖² (rows in order).
    const rows = min(16, d - i0);
    for (let t = 0; t < 16; t += 2) {
      const f = f32x4.demote_f64x2_zero(v128.load(work + (<usize>t << 3)));
      v128.store64_lane(p + (<usize>t << 2), f, 0);
      const q = f64x2.promote_low_f32x4(f);
      const sq = f64x2.mul(q, q);
      if (t < rows) uu += f64x2.extract_lane(sq, 0);
      if (t + 1 < rows) uu += f64x2.extract_lane(sq, 1);
    }
  }
  return uu;
}

export function combineF32(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, n: i32, u: usize, work: usize): f64 {
  return combineImpl(c, g, gIsF64, d, m, idx, coef, n, u, work, false);
}

export function combineF64(c: usize, g: usize, gIsF64: bool, d: i32, m: i32, idx: usize, coef: usize, n: i32, u: usize, work: usize): f64 {
  return combineImpl(c, g, gIsF64, d, m, idx, coef, n, u, work, true);
}
