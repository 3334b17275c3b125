/**
 * The Unlearner contract: what every unlearning method (the paper's and every baseline) declares
 * and which hooks it implements over the one shared loop (`unlearn`).
 *
 * The loop owns the optimiser, the step and epoch budget, early stopping, abort, progress events,
 * tensor hygiene and timing; a method owns only its objective and its gradient transforms.
 *
 * @module
 */
import type { NamedTensorMap, Rng, Scalar } from '@mtu/core-tensors';
import type { Batch, Dataset, RequestViews, UnlearningSetting } from '@mtu/datasets';
import type { MultiTaskModel } from '@mtu/multitask-model';
import type { z } from 'zod';

/** The paper a method comes from. */
export interface MethodReference {
  readonly title: string;
  readonly authors: string;
  /** Venue and year, e.g. `'NeurIPS 2023'`. */
  readonly venue: string;
  /** A stable link (arXiv, DOI). */
  readonly url: string;
}

/** The options the loop itself reads; every method's config includes them. */
export interface LoopConfig {
  /** Passes over the forget set (each step takes one forget minibatch). 0 = do nothing. */
  readonly epochs: number;
  /** Optimiser step size η. */
  readonly learningRate: number;
  /** `'sgd'` (plain; what projection methods need), `'momentum'` or `'adam'`. */
  readonly optimizer: 'sgd' | 'momentum' | 'adam';
  readonly momentum: number;
  /** Forget instances per step. */
  readonly forgetBatchSize: number;
  /** Retain instances sampled per step (0 = none). */
  readonly retainBatchSize: number;
  /** Stop after this many steps in all (0 = no limit beyond `epochs`). */
  readonly maxSteps: number;
  /**
   * Stop at the end of an epoch once, for every target task, the forget split's primary metric has
   * come down to the original model's test level.
   */
  readonly earlyStop: boolean;
}

/** What one step works on: a forget minibatch and a retain minibatch (tensors owned by the loop). */
export interface StepBatches {
  /**
   * Forget instances with **all** their labels (the target tasks' labels are the forget signal;
   * in partial-task the non-target labels are retained supervision).
   */
  readonly forget: Batch;
  /**
   * Retain instances **plus** the forget instances of this step, read under the request's retained
   * supervision: every label a retain objective may use, and nothing it may not (in full-task the
   * forget instances carry no label here; in partial-task they carry their non-target labels).
   * `undefined` when `retainBatchSize` is 0.
   */
  readonly retained: Batch | undefined;
}

/** What a step hook returns. The loop applies `grads` with its optimiser and disposes them. */
export interface StepOutput {
  /**
   * The gradient to **descend** (the optimiser computes θ ← θ − η·grads for SGD), by parameter
   * name; parameters left out are not updated. A method that ascends the forget loss returns the
   * negated ascent direction.
   */
  readonly grads: NamedTensorMap;
  /** The objective value, when the method has one (for progress events). */
  readonly loss?: number;
  /** Method-specific diagnostics for progress events (e.g. projected norm ratios). */
  readonly info?: Readonly<Record<string, number>>;
  /** Forward+backward instance passes this step used (per-instance gradients count one each). */
  readonly gradientEvaluations: number;
}

/** Everything a method's hooks may use. */
export interface UnlearnContext<C extends LoopConfig = LoopConfig> {
  readonly dataset: Dataset;
  readonly views: RequestViews;
  /** The working model: a copy of the original that the loop updates. */
  readonly model: MultiTaskModel;
  /** The original model (never modified; e.g. SCRUB's teacher). */
  readonly original: MultiTaskModel;
  /** The resolved config. */
  readonly config: C;
  /** The method's seeded random stream (`createRng(seed).fork(methodId)`). */
  readonly rng: Rng;
  /**
   * Per target task, the original model's mean loss on (a sample of) the test split: the level a
   * forget instance should come to (a cap for bounded ascent). Computed by the loop at setup.
   */
  readonly testLoss: Readonly<Record<string, number>>;
  /** Emits a method event (logged by apps; libraries never print). */
  readonly emit: (event: MethodEvent) => void;
  /** Adds to the gradient-evaluation count (for work done in `setup`). */
  readonly countGradients: (n: number) => void;
  /**
   * Target tasks whose primary metric on the forget split had reached the original model's test
   * level at the end of the last epoch (the loop's early-stop check, so only with `earlyStop`;
   * empty before the first epoch ends). The run stops when every target is in it; a method with
   * several targets (full-task) may stop forgetting the ones already here.
   */
  readonly settled: ReadonlySet<string>;
  readonly signal: AbortSignal | undefined;
}

/** A method's own event, e.g. "layer frozen for task t". */
export interface MethodEvent {
  readonly type: 'method';
  readonly name: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

/**
 * An unlearning method. Iterative methods implement `step` (or `loss`, optionally with
 * `transformGradients`); non-iterative ones implement `run`. `setup` and `teardown` bracket either.
 *
 * @typeParam C - the resolved config type (includes {@link LoopConfig}).
 * @typeParam S - the method's state, created by `setup`.
 */
export interface Unlearner<C extends LoopConfig = LoopConfig, S = unknown> {
  /** Stable id, e.g. `'interference-aware'` (file name and registry key). */
  readonly id: string;
  readonly displayName: string;
  /** Where the method comes from. */
  readonly reference: MethodReference;
  /** `false` only for exact unlearning (retraining). */
  readonly approximate: boolean;
  /** The request kinds the method handles. */
  readonly settings: readonly UnlearningSetting[];
  /** The default config. */
  readonly defaults: C;
  /**
   * Overrides of the defaults per dataset id (e.g. a learning rate that suits `multi-mnist` but
   * not `scenes`), applied between the defaults and the user's config. Each is validated like a
   * user config.
   */
  readonly datasetDefaults?: Readonly<Record<string, Readonly<Partial<C>>>>;
  /** Validates a partial config merged over the defaults (zod, strict). */
  readonly schema: z.ZodType<C, Record<string, unknown>>;
  /** Extra request checks (e.g. a method that cannot forget depth); throw a ConfigError. */
  checkRequest?(views: RequestViews, dataset: Dataset): void;
  /** One-off preparation on the original weights (subspaces, saliency masks, ...). */
  setup?(ctx: UnlearnContext<C>): S | Promise<S>;
  /** One step: the gradient to descend for this step's batches. */
  step?(ctx: UnlearnContext<C>, batches: StepBatches, state: S): StepOutput;
  /**
   * Alternative to `step`: the objective to **minimise** on this step's batches, as a function of a
   * parameter map (the loop differentiates it w.r.t. every parameter, reachable from `tasks`).
   */
  loss?(ctx: UnlearnContext<C>, batches: StepBatches, state: S, params: NamedTensorMap): Scalar;
  /** With `loss`: the heads the objective reads (default: every head). */
  lossTasks?(ctx: UnlearnContext<C>): readonly string[];
  /** With `loss`: a pure transform of the gradients before the optimiser (e.g. a mask). */
  transformGradients?(ctx: UnlearnContext<C>, grads: NamedTensorMap, state: S): NamedTensorMap;
  /** Non-iterative methods: do everything (the loop still times, validates and checks abort). */
  run?(ctx: UnlearnContext<C>, state: S): Promise<void>;
  /** Releases the state's tensors. */
  teardown?(ctx: UnlearnContext<C>, state: S): void;
}
