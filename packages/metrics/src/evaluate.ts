/**
 * Evaluating a model on the splits of a forget request, in bounded memory.
 *
 * @module
 */
import { ConfigError, createRng, tf } from '@mtu/core-tensors';
import type { Tensor } from '@mtu/core-tensors';
import type { Dataset, ForgetRequest, RequestViews } from '@mtu/datasets';
import { disposeBatch, iterateBatches, requestViews } from '@mtu/datasets';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { createAccumulator } from './accumulators.js';
import type { MetricAccumulator } from './accumulators.js';
import type { ModelEvaluation, SplitName, TaskMetrics } from './definitions.js';
import { EmptySplitError } from './definitions.js';

/** Progress of {@link evaluate}, as an event. */
export interface EvaluateProgress {
  readonly split: SplitName;
  /** Instances of the split evaluated so far, and in all. */
  readonly done: number;
  readonly total: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Instances per forward pass (default 32). Results do not depend on it. */
  readonly batchSize?: number;
  /**
   * Evaluate at most this many retain instances, drawn without replacement with
   * `createRng(seed).fork('retain-sample')` (default: all). The size used is recorded in
   * `sizes.retainEvaluated`.
   */
  readonly retainSample?: number;
  /** Seed of the retain subsample (default 0). */
  readonly seed?: number;
  /** Tasks to evaluate (default: every head of the model). */
  readonly tasks?: readonly string[];
  readonly onProgress?: (progress: EvaluateProgress) => void;
  readonly signal?: AbortSignal;
}

/** The request's views, computing them when given a plain request. */
export function viewsOf(dataset: Dataset, request: ForgetRequest | RequestViews): RequestViews {
  return 'supervision' in request ? request : requestViews(dataset, request);
}

/**
 * The retain ids evaluated under `retainSample` / `seed`: all of them, or a seeded subsample
 * (ascending). {@link evaluate} and the membership-inference functions use the same subsample.
 *
 * @example
 * ```ts
 * retainSubset(views.retain, 200, 0).length; // min(200, |retain|)
 * ```
 */
export function retainSubset(retain: Int32Array, sample: number | undefined, seed = 0): Int32Array {
  if (sample === undefined || sample >= retain.length) return retain;
  if (!Number.isInteger(sample) || sample < 1) {
    throw new ConfigError('retainSample', sample, 'must be a positive integer');
  }
  const rng = createRng(seed).fork('retain-sample');
  const picked = rng.sample(Array.from(retain), sample).sort((a, b) => a - b);
  return Int32Array.from(picked);
}

/**
 * Streams `ids` through the model and feeds one accumulator per task. Predictions of
 * classification and segmentation heads are reduced to class ids on the backend (arg-max), so
 * only `B·h·w` integers per batch come back. Labels are the dataset's own (a forget request never
 * hides labels from evaluation; absent labels are skipped).
 */
function accumulate(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: Int32Array,
  tasks: readonly string[],
  split: SplitName,
  options: EvaluateOptions,
): Record<string, MetricAccumulator> {
  const accumulators: Record<string, MetricAccumulator> = {};
  for (const name of tasks) {
    const task = dataset.tasks.find((t) => t.name === name);
    if (task === undefined) throw new ConfigError('task', name, `not a task of '${dataset.id}'`);
    accumulators[name] = createAccumulator(task);
  }
  let done = 0;
  for (const batch of iterateBatches(dataset, ids, { batchSize: options.batchSize ?? 32 })) {
    try {
      options.signal?.throwIfAborted();
      const outputs = tf.tidy(() => {
        const raw = model.predict(batch.x, tasks);
        const reduced: Record<string, Tensor> = {};
        for (const name of tasks) {
          const acc = accumulators[name]!;
          const kind = acc.task.kind;
          reduced[name] =
            kind === 'classification' || kind === 'segmentation'
              ? tf.argMax(raw[name]!, -1)
              : raw[name]!;
        }
        return reduced;
      });
      try {
        for (const name of tasks) {
          const prediction = outputs[name]!.dataSync() as Int32Array | Float32Array;
          const label = batch.labels[name]!.dataSync() as Int32Array | Float32Array;
          accumulators[name]!.update(prediction, label);
        }
      } finally {
        tf.dispose(outputs);
      }
    } finally {
      disposeBatch(batch);
    }
    done += batch.ids.length;
    options.onProgress?.({ split, done, total: ids.length });
  }
  return accumulators;
}

/**
 * Every task's metrics of `model` on the forget, retain and test splits of a request (see
 * `METRICS` for the definitions; all pooled over the whole split). The forget split is evaluated
 * on every task: the target tasks (how much was forgotten) and, in partial-task unlearning, the
 * non-target tasks (how much of the kept supervision survived). Memory is one batch plus fixed-size
 * accumulators, whatever the split sizes.
 *
 * Throws {@link EmptySplitError} when a split has no valid label for a task.
 *
 * @example
 * ```ts
 * const ev = evaluate(model, ds, request, { retainSample: 256 });
 * ev.splits.forget.segmentation.values.mIoU;
 * ev.splits.test.depth.values.absErr;
 * ```
 */
export function evaluate(
  model: MultiTaskModel,
  dataset: Dataset,
  request: ForgetRequest | RequestViews,
  options: EvaluateOptions = {},
): ModelEvaluation {
  const views = viewsOf(dataset, request);
  const tasks = options.tasks ?? model.tasks;
  const retain = retainSubset(views.retain, options.retainSample, options.seed);
  const sets: Record<SplitName, Int32Array> = { forget: views.forget, retain, test: views.test };
  const splits = {} as Record<SplitName, Record<string, TaskMetrics>>;
  for (const split of ['forget', 'retain', 'test'] as const) {
    if (sets[split].length === 0) throw new EmptySplitError(`${split} split`);
    const accs = accumulate(model, dataset, sets[split], tasks, split, options);
    const metrics: Record<string, TaskMetrics> = {};
    for (const name of tasks) metrics[name] = accs[name]!.result(`${split} split, task ${name}`);
    splits[split] = metrics;
  }
  return {
    splits,
    sizes: {
      forget: views.forget.length,
      retain: views.retain.length,
      retainEvaluated: retain.length,
      test: views.test.length,
    },
  };
}
