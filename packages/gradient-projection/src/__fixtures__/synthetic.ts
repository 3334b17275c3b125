/**
 * Seeded synthetic data for the tests: small multi-task layouts and per-instance gradient matrices
 * with low-rank structure plus noise (so energy thresholds matter), and float64 host-side helpers
 * to check properties independently of the backend's float32 arithmetic.
 */
import { createParamLayout, SHARED_GROUP, tf } from '@mtu/core-tensors';
import type { ParamLayout, ParamSpec, Rng, Tensor, Tensor1D, Tensor2D } from '@mtu/core-tensors';

/** The shared trunk of the toy model: two layers, each a weight and a bias block. */
export const SHARED_SPECS: readonly ParamSpec[] = [
  { name: 'shared/enc1/w', shape: [10, 16], group: SHARED_GROUP },
  { name: 'shared/enc1/b', shape: [16], group: SHARED_GROUP },
  { name: 'shared/enc2/w', shape: [16, 12], group: SHARED_GROUP },
  { name: 'shared/enc2/b', shape: [12], group: SHARED_GROUP },
];

/** Task heads of the toy model. */
export const HEAD_SPECS: Readonly<Record<string, readonly ParamSpec[]>> = {
  a: [
    { name: 'a/head/w', shape: [12, 3], group: 'a' },
    { name: 'a/head/b', shape: [3], group: 'a' },
  ],
  b: [{ name: 'b/head/w', shape: [12, 4], group: 'b' }],
  c: [{ name: 'c/head/w', shape: [12, 2], group: 'c' }],
};

/** The layout of the shared blocks only. */
export function sharedLayout(): ParamLayout {
  return createParamLayout(SHARED_SPECS);
}

/** The layout of shared + head `task` (the vectors a target task's projector acts on). */
export function taskLayout(task: string): ParamLayout {
  return createParamLayout([...SHARED_SPECS, ...(HEAD_SPECS[task] ?? [])]);
}

/** The layout of the whole toy model (shared + every head). */
export function fullLayout(): ParamLayout {
  return createParamLayout([...SHARED_SPECS, ...Object.values(HEAD_SPECS).flat()]);
}

/** Options of {@link lowRankGradients}. */
export interface LowRankOptions {
  /** Rank of the structured part per block. Default 4. */
  readonly rank?: number;
  /** Ratio between consecutive singular directions' scales. Default 0.5. */
  readonly decay?: number;
  /** Standard deviation of the additive noise (full rank). Default 0.02. */
  readonly noise?: number;
  /** Blocks (names) to fill; the other rows are zero. Default: every block. */
  readonly blocks?: readonly string[];
}

/**
 * A `[layout.size × N]` matrix, row-major float64: per block `A_b diag(decay^i) C_b + noise·Z`
 * (Gaussian factors), i.e. a few dominant directions plus full-rank noise.
 */
export function lowRankGradients(
  rng: Rng,
  layout: ParamLayout,
  N: number,
  options: LowRankOptions = {},
): Float64Array {
  const r = options.rank ?? 4;
  const decay = options.decay ?? 0.5;
  const noise = options.noise ?? 0.02;
  const out = new Float64Array(layout.size * N);
  for (const e of layout.entries) {
    if (options.blocks !== undefined && !options.blocks.includes(e.name)) continue;
    const A = Array.from({ length: e.size * r }, () => rng.normal());
    const C = Array.from({ length: r * N }, () => rng.normal());
    for (let i = 0; i < e.size; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let q = 0; q < r; q++) s += (A[i * r + q] ?? 0) * decay ** q * (C[q * N + j] ?? 0);
        out[(e.offset + i) * N + j] = s + noise * rng.normal();
      }
    }
  }
  return out;
}

/** A float32 tensor `[rows, cols]` from row-major data. */
export function matrix(data: ArrayLike<number>, rows: number, cols: number): Tensor2D {
  return tf.tensor2d(Float32Array.from(data), [rows, cols], 'float32');
}

/** A Gaussian float32 vector `[D]`. */
export function randomVector(rng: Rng, D: number): Tensor1D {
  return tf.tensor1d(
    Float32Array.from({ length: D }, () => rng.normal()),
    'float32',
  );
}

/** A Gaussian float32 matrix `[rows, cols]`. */
export function randomMatrix(rng: Rng, rows: number, cols: number): Tensor2D {
  return matrix(
    Array.from({ length: rows * cols }, () => rng.normal()),
    rows,
    cols,
  );
}

/** A tensor's values as float64. */
export function read(t: Tensor): Float64Array {
  return Float64Array.from(t.dataSync());
}

/** ⟨x[off … off+size), y[off … off+size)⟩ in float64. */
export function dot64(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  off: number = 0,
  size: number = x.length,
): number {
  let s = 0;
  for (let i = off; i < off + size; i++) s += (x[i] ?? 0) * (y[i] ?? 0);
  return s;
}

/** ‖x[off … off+size)‖ in float64. */
export function norm64(x: ArrayLike<number>, off: number = 0, size: number = x.length): number {
  return Math.sqrt(dot64(x, x, off, size));
}

/** Column `j` of a row-major `[rows × cols]` matrix. */
export function column(
  data: ArrayLike<number>,
  rows: number,
  cols: number,
  j: number,
): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = data[i * cols + j] ?? 0;
  return out;
}

/** Rows `[off, off+size)` of a row-major `[· × cols]` matrix (row-major copy). */
export function rowBlock(
  data: Float64Array,
  cols: number,
  off: number,
  size: number,
): Float64Array {
  return data.slice(off * cols, (off + size) * cols);
}

/** A vector over `target` that equals `source`'s entries on the parameters both layouts share and 0 elsewhere. */
export function embed(
  source: ParamLayout,
  x: ArrayLike<number>,
  target: ParamLayout,
): Float64Array {
  const out = new Float64Array(target.size);
  for (const e of target.entries) {
    const s = source.byName.get(e.name);
    if (s === undefined) continue;
    for (let i = 0; i < e.size; i++) out[e.offset + i] = x[s.offset + i] ?? 0;
  }
  return out;
}

/** Collects disposables and disposes them in reverse order. */
export class Owned {
  readonly #items: { dispose(): void }[] = [];
  /** Registers `x` for disposal and returns it. */
  add<T extends { dispose(): void }>(x: T): T {
    this.#items.push(x);
    return x;
  }
  /** Disposes everything registered so far. */
  dispose(): void {
    for (const x of this.#items.reverse()) x.dispose();
    this.#items.length = 0;
  }
}

/** Runs `fn` with an {@link Owned} collector that is disposed afterwards (also on failure). */
export function withOwned(fn: (own: Owned) => void): void {
  const own = new Owned();
  try {
    fn(own);
  } finally {
    own.dispose();
  }
}
