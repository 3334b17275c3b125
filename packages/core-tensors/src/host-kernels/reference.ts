/**
 * The JavaScript reference of MTU's float64 host kernels: the loops the wasm module
 * (`assembly/f64.ts`) reproduces bit for bit, and the fallback where WebAssembly is unavailable.
 *
 * Internal: `@mtu/core-tensors` exports the dispatching functions of `./index.ts`; the tests
 * compare the wasm kernels with these for exact equality. Changing the order or parenthesization
 * of any float64 operation here changes results recorded in MTU's READMEs, and must be mirrored in
 * the assembly.
 *
 * @module
 */

/** Row-major float32 or float64 data. */
export type RowMajor = Float32Array | Float64Array;

/** `G = CᵀC`, `b = Cᵀg` and `‖g‖²` in float64. */
export interface GramProducts {
  /** `M × M`, row-major, exactly symmetric. */
  readonly G: Float64Array;
  /** Length `M`: `b_j = ⟨c_j, g⟩`. */
  readonly b: Float64Array;
  /** `‖g‖²`. */
  readonly gg: number;
}

/** `u = g − C a` rounded once to float32, and `‖u‖²`. */
export interface Combination {
  /** `u = g − C a`, rounded once to float32. */
  readonly u: Float32Array;
  /** `‖u‖²` of the rounded values, in float64. */
  readonly uu: number;
}

/**
 * `CᵀC`, `Cᵀg` and `‖g‖²` in float64 (upper triangle, four rows of C at a time; per entry and
 * block `G ← G + ((x₀y₀ + x₁y₁) + (x₂y₂ + x₃y₃))`, rows past D read as zeros).
 *
 * @param C - `D × M`, row-major.
 * @param g - Length `D`.
 * @param D - Rows.
 * @param M - Columns.
 * @returns The products.
 */
export function gramProductsJs(C: RowMajor, g: RowMajor, D: number, M: number): GramProducts {
  const G = new Float64Array(M * M);
  const b = new Float64Array(M);
  let gg = 0;
  const rows = new Float64Array(4 * M);
  const M2 = 2 * M;
  const M3 = 3 * M;
  for (let r0 = 0; r0 < D; r0 += 4) {
    const m = Math.min(4, D - r0);
    rows.fill(0);
    for (let t = 0; t < m; t++) {
      const src = (r0 + t) * M;
      const dst = t * M;
      for (let a = 0; a < M; a++) rows[dst + a] = C[src + a] as number;
    }
    const g0 = g[r0] as number;
    const g1 = m > 1 ? (g[r0 + 1] as number) : 0;
    const g2 = m > 2 ? (g[r0 + 2] as number) : 0;
    const g3 = m > 3 ? (g[r0 + 3] as number) : 0;
    gg += g0 * g0 + g1 * g1 + (g2 * g2 + g3 * g3);
    for (let a = 0; a < M; a++) {
      const x0 = rows[a] as number;
      const x1 = rows[M + a] as number;
      const x2 = rows[M2 + a] as number;
      const x3 = rows[M3 + a] as number;
      b[a] = (b[a] as number) + (x0 * g0 + x1 * g1 + (x2 * g2 + x3 * g3));
      const base = a * M;
      for (let c = a; c < M; c++) {
        G[base + c] =
          (G[base + c] as number) +
          (x0 * (rows[c] as number) +
            x1 * (rows[M + c] as number) +
            (x2 * (rows[M2 + c] as number) + x3 * (rows[M3 + c] as number)));
      }
    }
  }
  for (let a = 0; a < M; a++) {
    for (let c = a + 1; c < M; c++) G[c * M + a] = G[a * M + c] as number;
  }
  return { G, b, gg };
}

/**
 * `Cᵀ(g − C a)` in float64, one pass over the rows: `r ← gᵢ; r ← r − Cᵢⱼaⱼ` (j ascending), then
 * `out[j] ← out[j] + Cᵢⱼ r` (rows ascending).
 *
 * @param C - `D × M`, row-major.
 * @param g - Length D.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M).
 * @returns Length M.
 */
export function residualProductsJs(
  C: RowMajor,
  g: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Float64Array {
  const out = new Float64Array(M);
  for (let i = 0; i < D; i++) {
    const row = i * M;
    let r = g[i] as number;
    for (let j = 0; j < M; j++) r -= (C[row + j] as number) * (a[j] as number);
    for (let j = 0; j < M; j++) out[j] = (out[j] as number) + (C[row + j] as number) * r;
  }
  return out;
}

/**
 * `u = g − C a` in float64 over the non-zero coefficients (j ascending), rounded once to float32,
 * and `‖u‖²` of the rounded values (rows ascending).
 *
 * @param g - Length `D`.
 * @param C - `D × M`, row-major.
 * @param D - Rows.
 * @param M - Columns.
 * @param a - Coefficients (length M).
 * @returns The float32 vector and its squared norm.
 */
export function combineJs(
  g: RowMajor,
  C: RowMajor,
  D: number,
  M: number,
  a: Float64Array,
): Combination {
  const idx: number[] = [];
  const coef: number[] = [];
  for (let j = 0; j < M; j++) {
    const aj = a[j] as number;
    if (aj !== 0) {
      idx.push(j);
      coef.push(aj);
    }
  }
  const n = idx.length;
  const u = new Float32Array(D);
  let uu = 0;
  for (let i = 0; i < D; i++) {
    const row = i * M;
    let acc = g[i] as number;
    for (let t = 0; t < n; t++)
      acc -= (C[row + (idx[t] as number)] as number) * (coef[t] as number);
    u[i] = acc;
    const r = u[i] as number;
    uu += r * r;
  }
  return { u, uu };
}

/**
 * Step 2 of the Gram-route basis (`linalg.ts`): the Gram matrix of `Gs = (G·f1)·f2` in float64,
 * upper triangle, four rows at a time (`C ← (((C + x₀y₀) + x₁y₁) + x₂y₂) + x₃y₃`), then mirrored.
 *
 * @param data - G, `D × n` row-major.
 * @param D - Rows.
 * @param n - Columns.
 * @param f1 - First power-of-two factor.
 * @param f2 - Second power-of-two factor.
 * @returns `n × n`, row-major, exactly symmetric.
 */
export function basisGramJs(
  data: RowMajor,
  D: number,
  n: number,
  f1: number,
  f2: number,
): Float64Array {
  const C = new Float64Array(n * n);
  const rows = new Float64Array(4 * n);
  const n2 = 2 * n;
  const n3 = 3 * n;
  for (let r0 = 0; r0 < D; r0 += 4) {
    const m = Math.min(4, D - r0);
    rows.fill(0);
    for (let t = 0; t < m; t++) {
      const src = (r0 + t) * n;
      const dst = t * n;
      for (let a = 0; a < n; a++) rows[dst + a] = (data[src + a] as number) * f1 * f2;
    }
    for (let a = 0; a < n; a++) {
      const x0 = rows[a] as number;
      const x1 = rows[n + a] as number;
      const x2 = rows[n2 + a] as number;
      const x3 = rows[n3 + a] as number;
      const base = a * n;
      for (let b = a; b < n; b++) {
        C[base + b] =
          (C[base + b] as number) +
          x0 * (rows[b] as number) +
          x1 * (rows[n + b] as number) +
          x2 * (rows[n2 + b] as number) +
          x3 * (rows[n3 + b] as number);
      }
    }
  }
  for (let a = 0; a < n; a++) {
    for (let b = a + 1; b < n; b++) C[b * n + a] = C[a * n + b] as number;
  }
  return C;
}

/**
 * Step 5 of the Gram-route basis: `U = Gs·W` with `Gs = (G·f1)·f2`, column-major (column j at
 * `j·D`); `s ← 0; s ← s + xₐwⱼₐ` for a ascending, per row and column.
 *
 * @param data - G, `D × n` row-major.
 * @param D - Rows.
 * @param n - Columns of G.
 * @param f1 - First power-of-two factor.
 * @param f2 - Second power-of-two factor.
 * @param Wt - `k × n`, row-major: row j holds column j of `W`.
 * @param k - Columns of U.
 * @returns `k·D` values, column-major.
 */
export function basisColumnsJs(
  data: RowMajor,
  D: number,
  n: number,
  f1: number,
  f2: number,
  Wt: Float64Array,
  k: number,
): Float64Array {
  const rows = new Float64Array(4 * n);
  const n2 = 2 * n;
  const n3 = 3 * n;
  const cols = new Float64Array(k * D);
  for (let i0 = 0; i0 < D; i0 += 4) {
    const m = Math.min(4, D - i0);
    rows.fill(0);
    for (let t = 0; t < m; t++) {
      const src = (i0 + t) * n;
      const dst = t * n;
      for (let a = 0; a < n; a++) rows[dst + a] = (data[src + a] as number) * f1 * f2;
    }
    // Register block of 4 rows × 2 columns: each load of Wt serves four rows.
    let j = 0;
    for (; j + 1 < k; j += 2) {
      const w0 = j * n;
      const w1 = w0 + n;
      let s00 = 0,
        s10 = 0,
        s20 = 0,
        s30 = 0;
      let s01 = 0,
        s11 = 0,
        s21 = 0,
        s31 = 0;
      for (let a = 0; a < n; a++) {
        const y0 = Wt[w0 + a] as number;
        const y1 = Wt[w1 + a] as number;
        const x0 = rows[a] as number;
        const x1 = rows[n + a] as number;
        const x2 = rows[n2 + a] as number;
        const x3 = rows[n3 + a] as number;
        s00 += x0 * y0;
        s10 += x1 * y0;
        s20 += x2 * y0;
        s30 += x3 * y0;
        s01 += x0 * y1;
        s11 += x1 * y1;
        s21 += x2 * y1;
        s31 += x3 * y1;
      }
      writeBlock(cols, j * D + i0, m, s00, s10, s20, s30);
      writeBlock(cols, (j + 1) * D + i0, m, s01, s11, s21, s31);
    }
    if (j < k) {
      const w0 = j * n;
      let s00 = 0,
        s10 = 0,
        s20 = 0,
        s30 = 0;
      for (let a = 0; a < n; a++) {
        const y0 = Wt[w0 + a] as number;
        s00 += (rows[a] as number) * y0;
        s10 += (rows[n + a] as number) * y0;
        s20 += (rows[n2 + a] as number) * y0;
        s30 += (rows[n3 + a] as number) * y0;
      }
      writeBlock(cols, j * D + i0, m, s00, s10, s20, s30);
    }
  }
  return cols;
}

/**
 * Step 6 of the Gram-route basis: one modified Gram–Schmidt pass in float64 over the `k` columns
 * (column-major, length D) in place; a column that lost more than half its norm is projected a
 * second time, a vanished column is dropped and the later ones move up.
 *
 * @param cols - `k·D` values, column-major; overwritten.
 * @param D - Column length.
 * @param k - Columns.
 * @returns The number of columns kept (the first ones of `cols`).
 */
export function mgsJs(cols: Float64Array, D: number, k: number): number {
  let out = 0;
  for (let j = 0; j < k; j++) {
    const cj = j * D;
    const dst = out * D;
    if (dst !== cj) cols.copyWithin(dst, cj, cj + D);
    const norm0 = columnNorm(cols, dst, D);
    let before = norm0;
    let nrm = norm0;
    for (let pass = 0; pass < 2; pass++) {
      // u ← u − ⟨uᵢ, u⟩ uᵢ for i = 0 … out−1, each coefficient taken from the updated u (MGS).
      // The update by uᵢ and the dot product with uᵢ₊₁ share one pass over u.
      if (out > 0) {
        let c = dotF64(cols, 0, dst, D);
        for (let i = 0; i < out; i++) {
          const ci = i * D;
          c =
            i + 1 < out
              ? axpyDot(cols, dst, ci, c, (i + 1) * D, D)
              : (axpy(cols, dst, ci, c, D), 0);
        }
      }
      nrm = columnNorm(cols, dst, D);
      if (nrm >= 0.5 * before) break;
      before = nrm;
    }
    if (!(nrm > 1e-10 * norm0) || !Number.isFinite(nrm)) continue; // vanished: drop
    const inv = 1 / nrm;
    for (let t = 0; t < D; t++) cols[dst + t] = (cols[dst + t] as number) * inv;
    out++;
  }
  return out;
}

/**
 * Steps 2, 5 and 6 of the Gram-route basis on one matrix G (in wasm, G is copied into the module
 * once and the basis columns stay there between the steps). Use in this order:
 * {@link BasisStage.gram}, {@link BasisStage.columns}, optionally {@link BasisStage.mgs},
 * {@link BasisStage.rowMajorF64} or {@link BasisStage.rowMajorF32}; then
 * {@link BasisStage.release} (also when stopping early). In wasm no other host-kernel call may run
 * while a stage is open (they share the module's memory): `linalg.ts` runs only the
 * eigendecomposition between the steps.
 */
export interface BasisStage {
  /** Step 2: the `n × n` Gram matrix of `(G·f1)·f2`, row-major, exactly symmetric. */
  gram(): Float64Array;
  /** Step 5: `U = Gs·W` for `Wt` (`k × n`, row j = column j of W), kept column-major. */
  columns(Wt: Float64Array, k: number): void;
  /** Step 6: modified Gram–Schmidt on the columns; returns how many are kept. */
  mgs(): number;
  /** The first `k` columns as a row-major `D × k` float64 matrix. */
  rowMajorF64(k: number): Float64Array;
  /** The first `k` columns as a row-major `D × k` float32 matrix (each value rounded once). */
  rowMajorF32(k: number): Float32Array;
  /** Ends the stage (in wasm, drops an instance whose memory outgrew the retained size). */
  release(): void;
}

/**
 * The reference implementation of {@link BasisStage}.
 *
 * @param data - G, `D × n` row-major.
 * @param D - Rows.
 * @param n - Columns.
 * @param f1 - First power-of-two factor.
 * @param f2 - Second power-of-two factor.
 * @returns The stage.
 */
export function basisStageJs(
  data: RowMajor,
  D: number,
  n: number,
  f1: number,
  f2: number,
): BasisStage {
  let cols: Float64Array = new Float64Array(0);
  let k = 0;
  return {
    gram: () => basisGramJs(data, D, n, f1, f2),
    columns: (Wt, kk) => {
      k = kk;
      cols = basisColumnsJs(data, D, n, f1, f2, Wt, kk);
    },
    mgs: () => (k = mgsJs(cols, D, k)),
    rowMajorF64: (kk) => {
      const basis = new Float64Array(D * kk);
      for (let j = 0; j < kk; j++) {
        const cj = j * D;
        for (let i = 0; i < D; i++) basis[i * kk + j] = cols[cj + i] as number;
      }
      return basis;
    },
    rowMajorF32: (kk) => {
      const out = new Float32Array(D * kk);
      for (let j = 0; j < kk; j++) {
        const cj = j * D;
        for (let i = 0; i < D; i++) out[i * kk + j] = cols[cj + i] as number;
      }
      return out;
    },
    release: () => undefined,
  };
}

/** Writes the first `m` of four consecutive values at `out[at …]`. */
function writeBlock(
  out: Float64Array,
  at: number,
  m: number,
  v0: number,
  v1: number,
  v2: number,
  v3: number,
): void {
  out[at] = v0;
  if (m > 1) out[at + 1] = v1;
  if (m > 2) out[at + 2] = v2;
  if (m > 3) out[at + 3] = v3;
}

/** ⟨x[a … a+D), x[b … b+D)⟩ with four partial sums (independent dependency chains). */
function dotF64(x: Float64Array, a: number, b: number, D: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const D4 = D - (D % 4);
  let t = 0;
  for (; t < D4; t += 4) {
    s0 += (x[a + t] as number) * (x[b + t] as number);
    s1 += (x[a + t + 1] as number) * (x[b + t + 1] as number);
    s2 += (x[a + t + 2] as number) * (x[b + t + 2] as number);
    s3 += (x[a + t + 3] as number) * (x[b + t + 3] as number);
  }
  for (; t < D; t++) s0 += (x[a + t] as number) * (x[b + t] as number);
  return s0 + s1 + (s2 + s3);
}

/** `x[u …] −= c · x[p …]` over D entries. */
function axpy(x: Float64Array, u: number, p: number, c: number, D: number): void {
  for (let t = 0; t < D; t++) x[u + t] = (x[u + t] as number) - c * (x[p + t] as number);
}

/** `x[u …] −= c · x[p …]`, then returns ⟨x[q …], x[u …]⟩ of the updated values (one pass). */
function axpyDot(x: Float64Array, u: number, p: number, c: number, q: number, D: number): number {
  let s0 = 0;
  let s1 = 0;
  const D2 = D - (D % 2);
  let t = 0;
  for (; t < D2; t += 2) {
    const y0 = (x[u + t] as number) - c * (x[p + t] as number);
    const y1 = (x[u + t + 1] as number) - c * (x[p + t + 1] as number);
    x[u + t] = y0;
    x[u + t + 1] = y1;
    s0 += (x[q + t] as number) * y0;
    s1 += (x[q + t + 1] as number) * y1;
  }
  if (t < D) {
    const y = (x[u + t] as number) - c * (x[p + t] as number);
    x[u + t] = y;
    s0 += (x[q + t] as number) * y;
  }
  return s0 + s1;
}

function columnNorm(cols: Float64Array, start: number, D: number): number {
  // Scaled accumulation is unnecessary here: the columns have norm ≈ 1.
  return Math.sqrt(dotF64(cols, start, start, D));
}
