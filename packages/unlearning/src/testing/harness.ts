/**
 * A hand-driven step: the context and batches the loop would give a method, for tests that call a
 * method's hooks (`loss`, `step`, `setup`) directly.
 *
 * @module
 */
import { createRng } from '@mtu/core-tensors';
import type { Rng } from '@mtu/core-tensors';
import type { Dataset, ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { resolveConfig } from '../config.js';
import type { LoopConfig, StepBatches, UnlearnContext, Unlearner } from '../contract.js';

/** Options of {@link createStepContext}. */
export interface StepContextOptions {
  /** A partial config, resolved against the method's schema (default `{}`). */
  readonly config?: Readonly<Record<string, unknown>>;
  /** The working model (default: `fixture.model` itself; pass a clone to let hooks mutate it). */
  readonly model?: MultiTaskModel;
  /** The test-loss level of every target task, or per task (default 1). */
  readonly testLoss?: number | Readonly<Record<string, number>>;
  /** The method's stream (default `createRng(0)`). */
  readonly rng?: Rng;
}

/**
 * The {@link UnlearnContext} the loop would build for `unlearner` on `request`, with no-op events,
 * counters and no abort signal; `original` is `fixture.model`.
 *
 * @example
 * ```ts
 * const ctx = createStepContext(finetune, fixture, fixture.requests['partial-task'], { config: { epochs: 1 } });
 * ```
 */
export function createStepContext<C extends LoopConfig, S>(
  unlearner: Unlearner<C, S>,
  fixture: { readonly dataset: Dataset; readonly model: MultiTaskModel },
  request: ForgetRequest,
  options: StepContextOptions = {},
): UnlearnContext<C> {
  const views = requestViews(fixture.dataset, request);
  const level = options.testLoss ?? 1;
  return {
    dataset: fixture.dataset,
    views,
    model: options.model ?? fixture.model,
    original: fixture.model,
    config: resolveConfig(unlearner, options.config ?? {}, fixture.dataset.id),
    rng: options.rng ?? createRng(0),
    testLoss:
      typeof level === 'number'
        ? Object.fromEntries(views.targetTasks.map((t) => [t, level]))
        : level,
    emit: () => undefined,
    countGradients: () => undefined,
    settled: new Set<string>(),
    signal: undefined,
  };
}

/**
 * The two batches of one step, as the loop reads them: every forget instance of the request (with
 * all labels), and the first `retain` retain instances plus the forget instances under the
 * request's retained supervision. Call `dispose` when done.
 *
 * @example
 * ```ts
 * const { batches, dispose } = readStepBatches(ctx, 8);
 * try { method.step!(ctx, batches, state); } finally { dispose(); }
 * ```
 */
export function readStepBatches(
  ctx: UnlearnContext,
  retain: number,
): { readonly batches: StepBatches; dispose(): void } {
  const forgetIds = Array.from(ctx.views.forget);
  const retainIds = Array.from(ctx.views.retain).slice(0, retain);
  const forget = readBatch(ctx.dataset, forgetIds);
  const retained = readBatch(ctx.dataset, [...retainIds, ...forgetIds], {
    supervision: ctx.views.supervision,
  });
  return {
    batches: { forget, retained },
    dispose: () => {
      disposeBatch(forget);
      disposeBatch(retained);
    },
  };
}
