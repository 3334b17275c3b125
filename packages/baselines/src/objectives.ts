/**
 * Objectives shared by the baselines. All are functions of a parameter map (so the loop can
 * differentiate them) and honour the multi-task rules of every baseline:
 *
 * - forget objectives use the **target tasks only** (in partial-task the non-target labels of the
 *   forget instances are retained supervision);
 * - retain objectives use the step's `retained` batch, which the loop reads under the request's
 *   retained supervision (retain instances plus the forget instances' non-target labels).
 *
 * Call them inside a gradient function or `tf.tidy`: they create tensors.
 *
 * @module
 */
import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar, Tensor } from '@mtu/core-tensors';
import type { Batch } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import { forward, instanceLosses, taskLosses } from '@mtu/multitask-model';
import type { StepBatches, UnlearnContext } from '@mtu/unlearning';

/** The request's target tasks that the model has a head for. */
export function targetTasks(ctx: UnlearnContext): string[] {
  return ctx.views.targetTasks.filter((t) => ctx.model.tasks.includes(t));
}

/**
 * The retain objective: `Σ_t L_t` over every task on the step's retained batch (0 when the step has
 * none).
 *
 * @example
 * ```ts
 * loss: (ctx, batches, _s, params) => retainLoss(ctx, batches, params),
 * ```
 */
export function retainLoss(
  ctx: UnlearnContext,
  batches: StepBatches,
  params: NamedTensorMap,
): Scalar {
  if (batches.retained === undefined) return tf.scalar(0);
  const losses = taskLosses(ctx.model, ctx.dataset, batches.retained, params, ctx.model.tasks);
  return Object.values(losses).reduce((a, b) => tf.add(a, b), tf.scalar(0));
}

/**
 * Per-instance losses of task `t` on `batch` at `params`: `{ loss [B], valid [B] }` with `valid` 1
 * where the instance has at least one valid label for `t`.
 */
export function taskInstanceLosses(
  ctx: UnlearnContext,
  batch: Batch,
  params: NamedTensorMap,
  t: string,
  labels?: Tensor,
): { loss: Tensor; valid: Tensor } {
  const out = forward(ctx.model.spec, params, batch.x, [t]);
  const { loss, count } = instanceLosses(
    getTask(ctx.dataset, t),
    out[t]!,
    labels ?? batch.labels[t]!,
  );
  return { loss, valid: tf.cast(tf.greater(count, 0), 'float32') };
}

/**
 * The forget objective: `Σ_{t ∈ T_f} mean_{x valid} f(ℓ_t(x))` on the step's forget batch, with `f`
 * the identity or, with `cap`, `min(ℓ, cap_t)` (bounded ascent: an instance whose loss reached the
 * original test level contributes nothing — needed for regression tasks, whose loss is unbounded).
 *
 * @example
 * ```ts
 * // Gradient ascent = minimise the negated (capped) forget loss:
 * loss: (ctx, b, _s, p) => tf.neg(forgetLoss(ctx, b, p, { cap: ctx.testLoss })),
 * ```
 */
export function forgetLoss(
  ctx: UnlearnContext,
  batches: StepBatches,
  params: NamedTensorMap,
  options: { readonly cap?: Readonly<Record<string, number>>; readonly capFactor?: number } = {},
): Scalar {
  let total: Scalar = tf.scalar(0);
  for (const t of targetTasks(ctx)) {
    const { loss, valid } = taskInstanceLosses(ctx, batches.forget, params, t);
    const cap = options.cap?.[t];
    const capped = cap === undefined ? loss : tf.minimum(loss, cap * (options.capFactor ?? 1));
    const n = tf.maximum(tf.sum(valid), 1);
    total = tf.add(total, tf.div(tf.sum(tf.mul(capped, valid)), n));
  }
  return total;
}
