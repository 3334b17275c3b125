/**
 * Retain-constraint selection (research/method.md §2.5, "Retain-instance selection").
 *
 * @module
 */
import { ConfigError, tf } from '@mtu/core-tensors';
import type { Rank, Rng, Tensor1D, Tensor2D } from '@mtu/core-tensors';
import { checkOptionsObject, checkVectorAndMatrix } from './validate.js';

/**
 * How {@link selectConstraints} picks columns: `'random'` (seeded, without replacement) or
 * `'most-conflicting'` (largest `⟨g, c_j⟩`).
 */
export type ConstraintSelectionStrategy = 'random' | 'most-conflicting';

const STRATEGIES: readonly ConstraintSelectionStrategy[] = ['random', 'most-conflicting'];

/** Options of {@link selectConstraints}. */
export interface SelectConstraintsOptions {
  /** How many columns to keep, a non-negative integer; more than the pool holds keeps them all. */
  readonly count: number;
  /** Default `'random'`. */
  readonly strategy?: ConstraintSelectionStrategy;
  /** The seeded stream of `'random'` (required there; one `rng.sample` per call). */
  readonly rng?: Rng;
}

/** Result of {@link selectConstraints}. */
export interface SelectedConstraints {
  /** `Tensor2D` `[D, count']` with `count' = min(count, P)`: the chosen columns, new (caller owns). */
  readonly columns: Tensor2D;
  /** The pool column of each chosen column, in the same order. */
  readonly indices: readonly number[];
}

/**
 * Picks `count` retain constraints from a pool of candidate columns.
 *
 * - `'random'` (default): `min(count, P)` distinct columns drawn with `rng.sample`, in draw order.
 * - `'most-conflicting'`: the columns with the largest `⟨g, c_j⟩` (the most similar retain
 *   instances, whose loss an ascent step along g would raise most), in descending order of that
 *   score; equal scores are ordered by index. The scores are one `Cᵀg` product on the backend
 *   (float32). The method's option: a pool of 4M, keep the top M.
 *
 * @param pool - `Tensor2D` `[D, P]`, float32: one candidate per column. Not disposed.
 * @param g - `Tensor1D` `[D]`, float32: the forget ascent direction. Not disposed.
 * @param options - `count` (integer ≥ 0), `strategy`, `rng` (required for `'random'`).
 * @returns `{ columns, indices }`; `columns` is `[D, min(count, P)]` and owned by the caller.
 * @throws ShapeError when `pool` has not `D` rows (naming both shapes).
 * @throws ConfigError for a bad `count` or `strategy`, a missing `rng` for `'random'`, or
 *   non-finite scores.
 *
 * @example
 * ```ts
 * const pool = perInstanceGradients(model, dataset, ids);            // [D, 4M]
 * const { columns, indices } = selectConstraints(pool, g, { count: M, strategy: 'most-conflicting' });
 * const u = orthogonalize(g, columns);
 * tf.dispose([pool, columns]);
 * ```
 */
export function selectConstraints(
  pool: Tensor2D,
  g: Tensor1D,
  options: SelectConstraintsOptions,
): SelectedConstraints {
  checkVectorAndMatrix('selectConstraints', 'pool', g, pool);
  if (options === undefined) {
    throw new ConfigError('options', options, 'selectConstraints needs { count }');
  }
  checkOptionsObject('selectConstraints', options);
  const count: unknown = options.count;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new ConfigError('count', count, 'must be a non-negative integer');
  }
  const strategy: unknown = options.strategy ?? 'random';
  if (typeof strategy !== 'string' || !(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new ConfigError(
      'strategy',
      strategy,
      `must be one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}`,
    );
  }
  const rng: unknown = options.rng;
  if (strategy === 'random') {
    if (
      typeof rng !== 'object' ||
      rng === null ||
      typeof (rng as { sample?: unknown }).sample !== 'function'
    ) {
      throw new ConfigError(
        'rng',
        rng,
        "the 'random' strategy needs a seeded Rng (createRng from @mtu/core-tensors)",
      );
    }
  }
  const [D, P] = pool.shape;
  const k = Math.min(count, P);

  let indices: number[];
  if (strategy === 'random') {
    const all = Array.from({ length: P }, (_, i) => i);
    indices = (rng as Rng).sample(all, k);
  } else {
    const scores = tf.tidy(() => tf.matMul(tf.reshape(g, [1, D]), pool).dataSync());
    for (let j = 0; j < P; j++) {
      const s = scores[j] as number;
      if (!Number.isFinite(s)) {
        throw new ConfigError(`score[${j}]`, s, '⟨g, c_j⟩ must be finite (check g and the pool)');
      }
    }
    indices = Array.from({ length: P }, (_, i) => i)
      .sort((i, j) => (scores[j] as number) - (scores[i] as number) || i - j)
      .slice(0, k);
  }
  const columns =
    k === 0
      ? tf.zeros<Rank.R2>([D, 0], 'float32')
      : tf.tidy(() => tf.gather(pool, tf.tensor1d(indices, 'int32'), 1));
  return { columns, indices };
}
