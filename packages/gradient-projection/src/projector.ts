/**
 * The task-aware projector of step (a) of the combined update (`research/method.md` §2.7):
 * blockwise `v_b ← v_b − B_b B_bᵀ v_b` on the blocks that have a protected basis, identity on every
 * other block (the target task's head and unprotected blocks).
 *
 * @module
 */
import { ConfigError, ShapeError, tf } from '@mtu/core-tensors';
import type { ParamLayout, Rank, Tensor, Tensor1D, Tensor2D } from '@mtu/core-tensors';
import type { ProtectedSubspace } from './subspace.js';

/**
 * The blockwise task projector `Π = diag_b(I − B_b B_bᵀ)` over the blocks of a layout (identity on
 * blocks without a basis). It is the orthogonal projector onto the complement of the protected
 * subspace: symmetric, idempotent, never lengthens a vector.
 *
 * A projector owns no tensors (nothing to dispose) but borrows the bases of the
 * {@link ProtectedSubspace} it was built from: use it only while that subspace is alive (a call after
 * the subspace was disposed throws `ConfigError`).
 */
export interface TaskProjector {
  /** The layout of the vectors it applies to. */
  readonly layout: ParamLayout;
  /** Blocks whose protected basis spans the whole block (width = block size): every update there is zeroed — reported, not silent. */
  readonly saturated: readonly string[];
  /**
   * Total protected dimensions per block (for logs): `k_b`, the width of the block's protected
   * basis; 0 for a block without one. One entry per block of `layout`, in layout order.
   */
  readonly ranks: ReadonlyMap<string, number>;
  /**
   * Π(v): `Tensor1D [layout.size]` → new `Tensor1D [layout.size]` (float32, caller owns; `v` is
   * not disposed). Blocks without a basis are copied bit for bit; saturated blocks are exact zeros.
   * A wrong shape throws `ShapeError`.
   */
  apply(v: Tensor1D): Tensor1D;
  /**
   * Π applied to every column: `Tensor2D [layout.size × M]` → new `Tensor2D [layout.size × M]`
   * (the constraint push-through `Ê = Π E` of method.md §2.7(b)). M = 0 allowed. Same
   * conventions as {@link TaskProjector.apply}. The cost is mostly reading the bases (two
   * products per block), so one call with many columns is much cheaper than several with few; on
   * wasm each column's result has the same bits whatever columns it is projected with (and as
   * `apply`), so callers may join blocks into one call.
   */
  applyColumns(E: Tensor2D): Tensor2D;
}

/** One contiguous range of the flat vector and what Π does there. */
type Segment =
  | { readonly kind: 'copy'; readonly offset: number; readonly size: number }
  | { readonly kind: 'zero'; readonly offset: number; readonly size: number }
  | {
      readonly kind: 'project';
      readonly offset: number;
      readonly size: number;
      readonly name: string;
      readonly basis: Tensor2D;
    };

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Builds the blockwise projector of step (a) (`research/method.md` §2.7):
 *
 *     v_b ← v_b − B_b (B_bᵀ v_b)   for every block b of `layout` with a basis in `protectedSet`,
 *     v_b ← v_b                    on every other block (heads, blocks without a basis, k_b = 0).
 *
 * Block names are matched by parameter name. Bases of `protectedSet` for parameters that are not
 * in `layout` (e.g. another task's head) are ignored: the vectors Π acts on are zero there, so
 * this is exact. A block whose basis is as wide as the block (`k_b = blockSize`) is *saturated*:
 * `I − B_bB_bᵀ = 0`, its output is set to exact zeros, and it is listed in
 * {@link TaskProjector.saturated} (method.md §3 pitfall 4: forgetting then falls to the head).
 *
 * Everything runs as tf ops on the active backend in float32 (slice, two matMuls per protected
 * block, concat): `2·p·k` multiply-adds per protected block of size p, no per-element JS.
 *
 * @param layout - The layout of the vectors it will be applied to (e.g. shared + head t).
 * @param protectedSet - The protected subspace `B_{¬t}` ({@link protectedSubspace}), or `null` (no
 *   protection: Π is the identity). Not owned: keep it alive while the projector is used.
 * @returns The projector (owns no tensors).
 * @throws `ShapeError` naming the block if a basis is not `[blockSize, k]` with `k ≤
 *   blockSize`; `ConfigError` if `protectedSet` was already disposed.
 *
 * @example
 * ```ts
 * const others = protectedSubspace([depthSubspace, normalsSubspace]);   // B_{¬seg}
 * const projector = createTaskProjector(segLayout, others);              // shared + seg head
 * projector.saturated;                   // [] unless a block is fully protected
 * const v = projector.apply(forgetGrad); // [segLayout.size], shared blocks ⟂ B_{¬seg}
 * const Ehat = projector.applyColumns(E); // retain constraints pushed through step (a)
 * v.dispose();
 * Ehat.dispose();
 * others.dispose(); // after the last use of the projector
 * ```
 */
export function createTaskProjector(
  layout: ParamLayout,
  protectedSet: ProtectedSubspace | null,
): TaskProjector {
  const bases = protectedSet?.bases;
  const segments: Segment[] = [];
  const saturated: string[] = [];
  const ranks = new Map<string, number>();
  const pushCopy = (offset: number, size: number): void => {
    const last = segments[segments.length - 1];
    if (last !== undefined && last.kind === 'copy' && last.offset + last.size === offset) {
      segments[segments.length - 1] = { kind: 'copy', offset: last.offset, size: last.size + size };
    } else {
      segments.push({ kind: 'copy', offset, size });
    }
  };
  for (const entry of layout.entries) {
    const { name, offset, size } = entry;
    const B = bases?.get(name);
    if (B === undefined) {
      ranks.set(name, 0);
      pushCopy(offset, size);
      continue;
    }
    if (B.isDisposed) {
      throw new ConfigError(
        'protectedSet',
        `block '${name}'`,
        'the protected subspace has been disposed',
      );
    }
    if (B.rank !== 2 || B.shape[0] !== size || B.shape[1] > size) {
      throw new ShapeError(
        `createTaskProjector: the protected basis of block '${name}' has shape ${shapeString(B.shape)}, expected [${size}, k] with k ≤ ${size} (the block's size)`,
        { expected: [size, -1], actual: B.shape },
      );
    }
    const k = B.shape[1];
    ranks.set(name, k);
    if (k === 0) {
      pushCopy(offset, size);
    } else if (k === size) {
      saturated.push(name);
      segments.push({ kind: 'zero', offset, size });
    } else {
      segments.push({ kind: 'project', offset, size, name, basis: B });
    }
  }
  const identity = segments.every((s) => s.kind === 'copy');
  const D = layout.size;

  /** Π on the columns of X [D, M]; runs inside a tidy. */
  const run = (X: Tensor2D, M: number): Tensor2D => {
    const pieces = segments.map((s): Tensor2D => {
      if (s.kind === 'copy') return tf.slice(X, [s.offset, 0], [s.size, M]);
      if (s.kind === 'zero') return tf.zeros<Rank.R2>([s.size, M], 'float32');
      if (s.basis.isDisposed) {
        throw new ConfigError(
          'protectedSet',
          `block '${s.name}'`,
          'the protected subspace was disposed while its projector is in use',
        );
      }
      const Xb = tf.slice(X, [s.offset, 0], [s.size, M]);
      // Xbᵀ B ([M, k]), then B (Xbᵀ B)ᵀ: only the small operands are transposed, never B.
      const Ct = tf.matMul(Xb, s.basis, true, false);
      return tf.sub(Xb, tf.matMul(s.basis, Ct, false, true));
    });
    return pieces.length === 1 ? (pieces[0] as Tensor2D) : tf.concat<Tensor2D>(pieces, 0);
  };

  const asFloat = <T extends Tensor>(x: T): T =>
    x.dtype === 'float32' ? x : tf.cast(x, 'float32');

  return Object.freeze({
    layout,
    saturated: Object.freeze(saturated),
    ranks,
    apply(v: Tensor1D): Tensor1D {
      if (v.rank !== 1 || v.shape[0] !== D) {
        throw new ShapeError(
          `TaskProjector.apply: v must be [${D}] (the layout's size), got ${shapeString(v.shape)}`,
          { expected: [D], actual: v.shape },
        );
      }
      if (identity || D === 0) return tf.tidy(() => tf.clone(asFloat(v)));
      return tf.tidy(() => tf.reshape<Rank.R1>(run(tf.reshape(asFloat(v), [D, 1]), 1), [D]));
    },
    applyColumns(E: Tensor2D): Tensor2D {
      if (E.rank !== 2 || E.shape[0] !== D) {
        throw new ShapeError(
          `TaskProjector.applyColumns: E must be [${D}, M] (the layout's size × M), got ${shapeString(E.shape)}`,
          { expected: [D, -1], actual: E.shape },
        );
      }
      const M = E.shape[1];
      if (identity || D === 0 || M === 0) return tf.tidy(() => tf.clone(asFloat(E)));
      return tf.tidy(() => run(asFloat(E), M));
    },
  });
}
