/**
 * Training: the original model, and exact retraining on the retained supervision of a forget
 * request (the same function with a supervision mask).
 *
 * @module
 */
import { ConfigError, createRng, tf } from '@mtu/core-tensors';
import type { Dataset, SupervisionMask } from '@mtu/datasets';
import { disposeBatch, fullSupervision, iterateBatches, supervisedIds } from '@mtu/datasets';
import { z } from 'zod';
import { lossAndGradients } from './gradients.js';
import type { MultiTaskModel } from './model.js';
import { createOptimizer } from './optimizer.js';

/** The optimisers {@link train} supports. */
export type OptimizerName = 'sgd' | 'momentum' | 'adam';

/** The JSON-serialisable training recipe (stored in checkpoints; part of a model's identity). */
export interface TrainConfig {
  /** Passes over the training instances. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerName;
  readonly learningRate: number;
  /** Momentum of `'momentum'` (ignored otherwise). */
  readonly momentum: number;
  /** L2 weight decay added to the gradient (`g + λ·w`) before the optimiser. */
  readonly weightDecay: number;
  /** Seed of the batch order. */
  readonly seed: number;
  /** Loss weight per task (default 1 each). */
  readonly taskWeights: Readonly<Record<string, number>>;
}

/** Progress of {@link train}, as events (libraries never print). */
export type TrainEvent =
  | {
      readonly type: 'start';
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly instances: number;
    }
  | {
      readonly type: 'step';
      readonly epoch: number;
      readonly step: number;
      readonly stepsPerEpoch: number;
      readonly loss: number;
      readonly taskLosses: Readonly<Record<string, number>>;
    }
  | {
      readonly type: 'epoch';
      readonly epoch: number;
      readonly epochs: number;
      readonly loss: number;
      readonly taskLosses: Readonly<Record<string, number>>;
      readonly seconds: number;
    }
  | { readonly type: 'end'; readonly steps: number; readonly seconds: number };

/** Options of {@link train}: a partial {@link TrainConfig} plus run-time hooks. */
export interface TrainOptions extends Partial<TrainConfig> {
  /**
   * Which (instance, task) labels may be used; default: every label present. Pass
   * `requestViews(dataset, request).supervision` to retrain exactly without the forgotten data.
   */
  readonly supervision?: SupervisionMask;
  readonly onEvent?: (event: TrainEvent) => void;
  /** Stops training between steps (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** The resolved recipe. */
  readonly config: TrainConfig;
  /** Mean loss per epoch. */
  readonly history: readonly {
    readonly loss: number;
    readonly taskLosses: Readonly<Record<string, number>>;
  }[];
  readonly steps: number;
  /** Number of instances trained on (instances with at least one supervised label). */
  readonly instances: number;
  readonly seconds: number;
}

/** Default recipe (see the package README for what it reaches on each dataset). */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = Object.freeze({
  epochs: 10,
  batchSize: 16,
  optimizer: 'adam',
  learningRate: 2e-3,
  momentum: 0.9,
  weightDecay: 0,
  seed: 0,
  taskWeights: Object.freeze({}),
});

const configSchema = z
  .object({
    epochs: z.number().int().min(0),
    batchSize: z.number().int().min(1),
    optimizer: z.enum(['sgd', 'momentum', 'adam']),
    learningRate: z.number().positive().finite(),
    momentum: z.number().min(0).lt(1),
    weightDecay: z.number().min(0).finite(),
    seed: z.number().int(),
    taskWeights: z.record(z.string(), z.number().min(0).finite()),
  })
  .strict();

/**
 * Fills defaults and validates a training recipe; a bad value raises a {@link ConfigError} naming
 * the field.
 *
 * @example
 * ```ts
 * resolveTrainConfig({ epochs: 3 }).optimizer; // 'adam'
 * ```
 */
export function resolveTrainConfig(raw: Partial<TrainConfig> = {}): TrainConfig {
  const merged = { ...DEFAULT_TRAIN_CONFIG, ...raw };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key =
      issue.code === 'unrecognized_keys' ? issue.keys[0]! : issue.path.map(String).join('.');
    const value = (merged as Record<string, unknown>)[key.split('.')[0]!];
    throw new ConfigError(
      `train.${key}`,
      value,
      issue.code === 'unrecognized_keys' ? 'unknown option' : issue.message,
    );
  }
  return Object.freeze({
    ...parsed.data,
    taskWeights: Object.freeze({ ...parsed.data.taskWeights }),
  });
}

const RUNTIME_KEYS = new Set(['supervision', 'onEvent', 'signal']);

/**
 * Trains `model` in place on the train split: `epochs` passes over the instances that have at least
 * one supervised label, in a seeded random order (`createRng(seed).fork('epoch').fork(e)`), minimising
 * `Σ_t w_t L_t` (see `batchLoss`). Deterministic for a given model, dataset, recipe and backend.
 *
 * Exact unlearning is the same call on a fresh model with the request's retained supervision:
 * forgotten labels never reach a loss (they are blanked when batches are read) and, in full-task
 * unlearning, forgotten instances are never read at all.
 *
 * @example
 * ```ts
 * const model = createModel(defaultModelSpec(ds), { seed: 0 });
 * await train(model, ds, { epochs: 5, onEvent: (e) => e.type === 'epoch' && log(e) });
 * // exact unlearning:
 * const retrained = createModel(model.spec, { seed: 0 });
 * await train(retrained, ds, { epochs: 5, supervision: requestViews(ds, request).supervision });
 * ```
 */
export async function train(
  model: MultiTaskModel,
  dataset: Dataset,
  options: TrainOptions = {},
): Promise<TrainResult> {
  const recipe: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options))
    if (!RUNTIME_KEYS.has(k) && v !== undefined) recipe[k] = v;
  const config = resolveTrainConfig(recipe);
  for (const t of Object.keys(config.taskWeights)) {
    if (!model.tasks.includes(t))
      throw new ConfigError('train.taskWeights', t, 'is not a task of the model');
  }
  for (const t of model.tasks) {
    if (!dataset.tasks.some((d) => d.name === t)) {
      throw new ConfigError('dataset', dataset.id, `has no task '${t}' for the model's head`);
    }
  }
  const supervision = options.supervision ?? fullSupervision(dataset);
  const ids = supervisedIds(dataset, supervision);
  if (ids.length === 0)
    throw new ConfigError('supervision', 'empty', 'no instance has a supervised label');
  const stepsPerEpoch = Math.ceil(ids.length / config.batchSize);
  const emit = options.onEvent ?? (() => undefined);
  const optimizer = createOptimizer(model, config);
  const started = performance.now();
  const history: { loss: number; taskLosses: Record<string, number> }[] = [];
  let steps = 0;
  emit({ type: 'start', epochs: config.epochs, stepsPerEpoch, instances: ids.length });
  try {
    const epochRng = createRng(config.seed).fork('epoch');
    for (let epoch = 0; epoch < config.epochs; epoch++) {
      const epochStart = performance.now();
      let sum = 0;
      const taskSums: Record<string, number> = {};
      let step = 0;
      for (const batch of iterateBatches(dataset, ids, {
        batchSize: config.batchSize,
        shuffle: epochRng.fork(epoch),
        supervision,
      })) {
        try {
          options.signal?.throwIfAborted();
          const { loss, taskLosses, grads } = lossAndGradients(model, dataset, batch, {
            weights: config.taskWeights,
          });
          if (config.weightDecay > 0) {
            for (const [name, g] of Object.entries(grads)) {
              grads[name] = tf.tidy(() =>
                tf.add(g, tf.mul(model.variables[name]!, config.weightDecay)),
              );
              g.dispose();
            }
          }
          optimizer.step(grads);
          tf.dispose(grads);
          if (!Number.isFinite(loss)) {
            throw new ConfigError(
              'train.learningRate',
              config.learningRate,
              `the loss became ${loss} at epoch ${epoch}, step ${step}: training diverged`,
            );
          }
          sum += loss;
          for (const [t, l] of Object.entries(taskLosses)) taskSums[t] = (taskSums[t] ?? 0) + l;
          step++;
          steps++;
          emit({ type: 'step', epoch, step, stepsPerEpoch, loss, taskLosses });
        } finally {
          disposeBatch(batch);
        }
        // Let timers, abort signals and progress output run between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const taskLosses: Record<string, number> = {};
      for (const [t, s] of Object.entries(taskSums)) taskLosses[t] = s / step;
      history.push({ loss: sum / step, taskLosses });
      emit({
        type: 'epoch',
        epoch,
        epochs: config.epochs,
        loss: sum / step,
        taskLosses,
        seconds: (performance.now() - epochStart) / 1000,
      });
    }
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  emit({ type: 'end', steps, seconds });
  return { config, history, steps, instances: ids.length, seconds };
}
