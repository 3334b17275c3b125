/**
 * Task subspaces (Mode G of the reconstruction, `research/method.md` §2.3) and their per-block
 * union, the protected subspace `B_{¬t}` of §2.4.
 *
 * Both objects own their basis tensors: call `dispose()` once they are no longer needed (a
 * {@link TaskProjector} built on a protected subspace only borrows its bases, so dispose the
 * subspace after the last use of the projector).
 *
 * @module
 */
import {
  ConfigError,
  DEFAULT_RTOL,
  ShapeError,
  orthonormalBasis,
  tf,
  unionBasis,
} from '@mtu/core-tensors';
import type { ParamLayout, Tensor2D } from '@mtu/core-tensors';
import { blockSlices } from './blocks.js';

/** Default energy threshold ε of {@link buildTaskSubspace} (GPM's criterion; DESIGN.md §3). */
export const DEFAULT_SUBSPACE_ENERGY: number = 0.97;

/**
 * Per-block orthonormal bases of one task's per-instance gradients. Owns its tensors.
 *
 * Build with {@link buildTaskSubspace}. `dispose()` frees every basis (idempotent); a disposed
 * subspace must not be used any more ({@link protectedSubspace} rejects it with a
 * `ConfigError`).
 */
export interface TaskSubspace {
  /** The task whose gradients span the subspace. */
  readonly task: string;
  /** Basis per block name: Tensor2D [blockSize × k_b] with orthonormal columns (k_b may be 0). */
  readonly bases: ReadonlyMap<string, Tensor2D>;
  /** Number of gradient columns it was built from. */
  readonly samples: number;
  /** The energy threshold used. */
  readonly energy: number;
  /** Frees every basis tensor. Idempotent. */
  dispose(): void;
}

/** Options of {@link buildTaskSubspace}. */
export interface SubspaceOptions {
  /**
   * Energy threshold ε in [0, 1]: per block, the basis holds the fraction ε of ‖G_b‖²_F (the
   * smallest such rank). Default {@link DEFAULT_SUBSPACE_ENERGY} = 0.97. `1` keeps the whole
   * numerical span, `0` gives empty bases.
   */
  readonly energy?: number;
  /**
   * Relative cut-off on the block's Gram eigenvalues: `λᵢ ≤ rtol·λ_max` is dropped before the
   * energy rank is taken. Default `DEFAULT_RTOL` of `@mtu/core-tensors` (1e-10).
   */
  readonly rtol?: number;
  /**
   * The blocks (parameter names of the layout) to build bases for. Default: every entry of the
   * layout. Pass the shared group's names (`layout.groups.get(SHARED_GROUP)?.names`) when G also
   * covers heads. An unknown or repeated name throws `ConfigError`.
   */
  readonly blocks?: readonly string[];
}

/**
 * The per-block union of several tasks' subspaces: `B_{¬t}` of `research/method.md` §2.4 when
 * built from the subspaces of every task but the target `t`. Owns its tensors.
 */
export interface ProtectedSubspace {
  /** The tasks whose subspaces were united, in the order given. */
  readonly tasks: readonly string[];
  /**
   * Basis per block name: Tensor2D [blockSize × k_b] with orthonormal columns, spanning the sum of
   * the tasks' subspaces on that block (k_b may be 0). A block no task has is absent.
   */
  readonly bases: ReadonlyMap<string, Tensor2D>;
  /** Frees every basis tensor. Idempotent. */
  dispose(): void;
}

/** The one implementation of both owning objects: a map of bases plus a dispose. */
function owningBases(bases: Map<string, Tensor2D>): () => void {
  let disposed = false;
  return (): void => {
    if (disposed) return;
    disposed = true;
    for (const B of bases.values()) B.dispose();
  };
}

function checkEnergy(energy: unknown): number {
  if (typeof energy !== 'number' || !(energy >= 0 && energy <= 1)) {
    throw new ConfigError('energy', energy, 'must be a number in [0, 1]');
  }
  return energy;
}

function checkRtol(rtol: unknown): number {
  if (typeof rtol !== 'number' || !(rtol >= 0) || !Number.isFinite(rtol)) {
    throw new ConfigError('rtol', rtol, 'must be a finite number ≥ 0');
  }
  return rtol;
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Builds the Mode-G subspace of one task (`research/method.md` §2.3): for every block `b`, the
 * block's rows `G_b` of the per-instance gradient matrix go through `orthonormalBasis(G_b, { energy,
 * rtol })` of `@mtu/core-tensors` (float64 Gram eigendecomposition, relative cut-off `rtol`, GPM
 * energy rank `k_b = min{k : Σ_{i≤k} σᵢ² ≥ ε Σᵢ σᵢ²}`, float64 re-orthonormalisation; stored as
 * float32). Hence `k_b ≤ min(blockSize, N)`.
 *
 * **Which data.** The columns must be per-instance gradients of *this task's* loss on instances
 * that carry *retained* supervision for it (`R_t` of §2.1). Full-task unlearning: retained
 * instances only, never a forget instance. Partial-task: a non-target task's sample must include
 * forget instances (up to half of it). Choosing the instances is the caller's job; this function
 * cannot check it.
 *
 * Cost per block of size p: `p·N²/2 + p·N·k + p·k²` float64 multiply-adds in JavaScript (see
 * `orthonormalBasis`); the block's rows are copied once from G.
 *
 * @param task - Non-empty task name (stored; {@link protectedSubspace} reports it).
 * @param G - `Tensor2D [layout.size × N]`: column j is instance j's flat gradient over `layout`
 *   (layout order, e.g. from `flatten`). N may be 0. Not disposed; the result shares no memory
 *   with it.
 * @param layout - The layout of G's columns.
 * @param options - `energy` (default 0.97), `rtol` (default `DEFAULT_RTOL`), `blocks` (default
 *   every entry). Invalid values throw `ConfigError`.
 * @returns A {@link TaskSubspace} owning one basis per selected block; dispose it.
 * @throws `ShapeError` if G is not `[layout.size, N]`; `ConfigError` for an empty task
 *   name, a bad option, or a non-finite gradient entry (naming the block).
 *
 * @example
 * ```ts
 * // G: [layout.size, 64], the 64 per-instance gradients of the depth loss on retained instances.
 * const depth = buildTaskSubspace('depth', G, layout, {
 *   energy: 0.97,
 *   blocks: layout.groups.get(SHARED_GROUP)?.names,
 * });
 * depth.bases.get('shared/enc1/w')?.shape; // [blockSize, k]
 * G.dispose();
 * // ... use it, then
 * depth.dispose();
 * ```
 */
export function buildTaskSubspace(
  task: string,
  G: Tensor2D,
  layout: ParamLayout,
  options: SubspaceOptions = {},
): TaskSubspace {
  if (typeof task !== 'string' || task.length === 0) {
    throw new ConfigError('task', task, 'must be a non-empty string');
  }
  const energy = checkEnergy(options.energy ?? DEFAULT_SUBSPACE_ENERGY);
  const rtol = checkRtol(options.rtol ?? DEFAULT_RTOL);
  const slices = blockSlices(layout, options.blocks);
  if (G.rank !== 2 || G.shape[0] !== layout.size) {
    throw new ShapeError(
      `buildTaskSubspace('${task}'): G must be [layout.size, N] = [${layout.size}, N], got ${shapeString(G.shape)}`,
      { expected: [layout.size, -1], actual: G.shape },
    );
  }
  const N = G.shape[1];
  const bases = new Map<string, Tensor2D>();
  const dispose = owningBases(bases);
  try {
    for (const { name, offset, size } of slices) {
      const B = tf.tidy(() => {
        const Gb = tf.slice(G, [offset, 0], [size, N]);
        try {
          return orthonormalBasis(Gb, { energy, rtol });
        } catch (err) {
          if (err instanceof ConfigError && err.field === 'G') {
            throw new ConfigError(
              `G (task '${task}', block '${name}')`,
              err.value,
              'gradient entries must be finite (row is relative to the block)',
            );
          }
          throw err;
        }
      });
      bases.set(name, B);
    }
  } catch (err) {
    dispose();
    throw err;
  }
  return Object.freeze({ task, bases, samples: N, energy, dispose });
}

/**
 * The per-block union of several tasks' subspaces: `B_{¬t}^l = orth([U_{t'}^l : t' ∈ protected])`
 * (`research/method.md` §2.4). For each block that at least one subspace has, the bases of the
 * subspaces that have it are united with `unionBasis` of `@mtu/core-tensors` (float64 Gram route,
 * default `rtol`): a direction shared by several tasks appears once, and every task's basis lies
 * in the union (`B Bᵀ U_{t'} = U_{t'}`, property G4). A block no subspace has is absent; a block
 * every subspace has with `k = 0` gets a `[blockSize, 0]` basis. An empty list gives an empty
 * protected set (no bases), whose projector is the identity (full-task with one task).
 *
 * Which tasks to pass for target `t`: every other task in full-task unlearning; in partial-task, the
 * non-target tasks (subspaces built with forget instances) plus the other target tasks (subspaces
 * built without). Never `t` itself.
 *
 * @param subspaces - The protected tasks' subspaces (not disposed, not modified; they may be
 *   disposed right after this call). Task names must be distinct.
 * @returns A {@link ProtectedSubspace} owning new basis tensors; dispose it.
 * @throws `ShapeError` naming the block if two subspaces disagree on its size;
 *   `ConfigError` for a repeated task name or an already-disposed subspace.
 *
 * @example
 * ```ts
 * // Full-task, three tasks, target 'seg': protect depth and normals.
 * const others = protectedSubspace([depthSubspace, normalsSubspace]);
 * others.tasks;                              // ['depth', 'normals']
 * others.bases.get('shared/enc1/w')?.shape;  // [blockSize, k ≤ k_depth + k_normals]
 * const projector = createTaskProjector(segLayout, others);
 * // ... after the last use of the projector:
 * others.dispose();
 * ```
 */
export function protectedSubspace(subspaces: readonly TaskSubspace[]): ProtectedSubspace {
  const asUnknown: unknown = subspaces;
  if (!Array.isArray(asUnknown)) {
    throw new ConfigError('subspaces', typeof asUnknown, 'must be an array of TaskSubspace');
  }
  const tasks: string[] = [];
  const byBlock = new Map<string, { task: string; basis: Tensor2D }[]>();
  subspaces.forEach((s, i) => {
    if (tasks.includes(s.task)) {
      throw new ConfigError(`subspaces[${i}].task`, s.task, 'repeated task');
    }
    tasks.push(s.task);
    for (const [name, basis] of s.bases) {
      if (basis.isDisposed) {
        throw new ConfigError(
          `subspaces[${i}]`,
          s.task,
          `its basis of block '${name}' has been disposed`,
        );
      }
      let list = byBlock.get(name);
      if (list === undefined) {
        list = [];
        byBlock.set(name, list);
      }
      list.push({ task: s.task, basis });
    }
  });

  for (const [name, parts] of byBlock) {
    const first = parts[0];
    for (const p of parts) {
      if (p.basis.rank !== 2 || p.basis.shape[0] !== first?.basis.shape[0]) {
        throw new ShapeError(
          `protectedSubspace: block '${name}' has a basis of shape ${shapeString(p.basis.shape)} in task '${p.task}' but ${shapeString(first?.basis.shape ?? [])} in task '${first?.task ?? ''}'`,
          { expected: [first?.basis.shape[0] ?? -1, -1], actual: p.basis.shape },
        );
      }
    }
  }

  const bases = new Map<string, Tensor2D>();
  const dispose = owningBases(bases);
  try {
    for (const [name, parts] of byBlock) {
      const nonEmpty = parts.map((p) => p.basis).filter((B) => B.shape[1] > 0);
      const rows = parts[0]?.basis.shape[0] ?? 0;
      bases.set(name, nonEmpty.length === 0 ? tf.zeros([rows, 0]) : unionBasis(nonEmpty));
    }
  } catch (err) {
    dispose();
    throw err;
  }
  return Object.freeze({
    tasks: Object.freeze(tasks),
    bases,
    dispose,
  });
}
