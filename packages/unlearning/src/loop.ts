/**
 * The one unlearning loop every method runs through.
 *
 * @module
 */
import { ConfigError, createRng, tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { Dataset, ForgetRequest, RequestViews } from '@mtu/datasets';
import { batchIds, disposeBatch, getTask, readBatch, requestViews } from '@mtu/datasets';
import { PRIMARY_METRIC, createAccumulator, instanceLossTable } from '@mtu/metrics';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { createOptimizer, instanceLosses, valueAndGradients } from '@mtu/multitask-model';
import { resolveConfig } from './config.js';
import type {
  LoopConfig,
  MethodEvent,
  StepBatches,
  StepOutput,
  UnlearnContext,
  Unlearner,
} from './contract.js';

/** Progress of {@link unlearn}, as events (libraries never print). */
export type UnlearnEvent =
  | {
      readonly type: 'start';
      readonly method: string;
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly setting: 'full-task' | 'partial-task';
    }
  | {
      readonly type: 'step';
      readonly epoch: number;
      readonly step: number;
      readonly stepsPerEpoch: number;
      readonly loss: number | undefined;
      readonly info: Readonly<Record<string, number>> | undefined;
    }
  | {
      readonly type: 'epoch';
      readonly epoch: number;
      readonly epochs: number;
      /** Target tasks' primary metric on the forget split (only with `earlyStop`). */
      readonly forgetMetric: Readonly<Record<string, number>> | undefined;
      /** The original model's test level of the same metric (only with `earlyStop`). */
      readonly testLevel: Readonly<Record<string, number>> | undefined;
      readonly seconds: number;
    }
  | MethodEvent
  | {
      readonly type: 'end';
      readonly steps: number;
      readonly seconds: number;
      readonly gradientEvaluations: number;
      readonly stoppedEarly: boolean;
    };

/** Options of {@link unlearn}. */
export interface UnlearnOptions {
  /** A partial config, merged over the method's defaults and validated. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** Seed of every random draw of the run (default 0). */
  readonly seed?: number;
  readonly onEvent?: (event: UnlearnEvent) => void;
  /** Aborts between steps (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Test instances used for the test-loss levels and the early-stop level (default 128). */
  readonly testSample?: number;
}

/** What {@link unlearn} returns. The caller owns (disposes) `model`. */
export interface UnlearnResult<C extends LoopConfig = LoopConfig> {
  /** The unlearned model (a new model; the original is never modified). */
  readonly model: MultiTaskModel;
  readonly method: string;
  readonly config: C;
  readonly steps: number;
  readonly epochs: number;
  readonly seconds: number;
  readonly gradientEvaluations: number;
  readonly stoppedEarly: boolean;
}

/** Checks the request against what the method supports. */
export function checkSupported(
  unlearner: Unlearner<LoopConfig, unknown>,
  views: RequestViews,
  dataset: Dataset,
): void {
  if (!unlearner.settings.includes(views.setting)) {
    throw new ConfigError(
      'request.tasks',
      views.request.tasks,
      `${unlearner.id} does not support ${views.setting} unlearning (supports: ${unlearner.settings.join(', ')})`,
    );
  }
  unlearner.checkRequest?.(views, dataset);
}

function mean(values: Float64Array): number {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n === 0 ? 0 : s / n;
}

/**
 * Target tasks' primary metric of `model` on `ids` and, with `losses`, every instance's loss per
 * task (NaN without a label), from one forward pass per chunk of 32.
 */
function primaryMetrics(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: Int32Array,
  tasks: readonly string[],
  losses?: Record<string, Float64Array>,
): Record<string, number> {
  const out: Record<string, number> = {};
  const accs = tasks.map((t) => createAccumulator(getTask(dataset, t)));
  let offset = 0;
  for (const chunk of batchIds(ids, { batchSize: 32 })) {
    const batch = readBatch(dataset, chunk);
    try {
      const outputs = tf.tidy(() => {
        const raw = model.predict(batch.x, tasks);
        return tasks.map((t) => {
          const task = getTask(dataset, t);
          const kind = task.kind;
          const prediction =
            kind === 'classification' || kind === 'segmentation' ? tf.argMax(raw[t]!, -1) : raw[t]!;
          if (losses === undefined) return [prediction];
          const { loss, count } = instanceLosses(task, raw[t]!, batch.labels[t]!);
          return [prediction, loss, count];
        });
      });
      tasks.forEach((t, k) => {
        const [prediction, loss, count] = outputs[k]!;
        accs[k]!.update(
          prediction!.dataSync() as Int32Array | Float32Array,
          batch.labels[t]!.dataSync() as Int32Array | Float32Array,
        );
        if (losses !== undefined) {
          const l = loss!.dataSync();
          const c = count!.dataSync();
          for (let i = 0; i < l.length; i++) losses[t]![offset + i] = c[i]! > 0 ? l[i]! : NaN;
        }
      });
      tf.dispose(outputs.flat());
      offset += chunk.length;
    } finally {
      disposeBatch(batch);
    }
  }
  tasks.forEach((t, k) => {
    const m = accs[k]!.result(`early stop, task ${t}`);
    out[t] = m.values[PRIMARY_METRIC[m.kind]]!;
  });
  return out;
}

function validGrads(grads: NamedTensorMap, model: MultiTaskModel, method: string): void {
  for (const [name, g] of Object.entries(grads)) {
    const v = model.variables[name];
    if (v === undefined)
      throw new ConfigError(`${method}.step`, name, 'returned a gradient for an unknown parameter');
    if (g.shape.join(',') !== v.shape.join(',')) {
      throw new ConfigError(
        `${method}.step`,
        name,
        `gradient shape [${g.shape.join(', ')}] ≠ [${v.shape.join(', ')}]`,
      );
    }
  }
}

/**
 * Runs `unlearner` on a copy of `original` for a forget request: validates the config and the
 * request (unsupported settings are rejected), computes the original model's test-loss levels,
 * calls the method's `setup`, then for each epoch over the (seeded, shuffled) forget set takes one
 * step per forget minibatch — with a seeded retain minibatch — applying the method's gradient with
 * the loop's optimiser; stops at the epoch / step budget, on early stop or abort; calls `teardown`.
 * Deterministic for a given seed and backend; the tensor count is the same before and after (apart
 * from the returned model).
 *
 * @example
 * ```ts
 * const registry = createUnlearnerRegistry();
 * registerInterferenceAware(registry);
 * const result = await unlearn(model, ds, request, registry.get('interference-aware'), {
 *   config: { epochs: 3 },
 *   onEvent: (e) => e.type === 'epoch' && console.log(e),
 * });
 * result.model; // the unlearned model (dispose it when done)
 * ```
 */
export async function unlearn<C extends LoopConfig, S>(
  original: MultiTaskModel,
  dataset: Dataset,
  request: ForgetRequest | RequestViews,
  unlearner: Unlearner<C, S>,
  options: UnlearnOptions = {},
): Promise<UnlearnResult<C>> {
  const started = performance.now();
  const config = resolveConfig(unlearner, options.config ?? {}, dataset.id);
  const views = 'supervision' in request ? request : requestViews(dataset, request);
  checkSupported(unlearner, views, dataset);
  if (original.disposed)
    throw new ConfigError('model', 'disposed', 'the original model was disposed');
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed)) throw new ConfigError('seed', seed, 'must be an integer');
  const emit = options.onEvent ?? (() => undefined);
  // The loop's draws (test sample, forget order, retain samples) depend on the seed only, so every
  // method sees the same batches; the method's own stream depends on its id too.
  const root = createRng(seed).fork('loop');
  const target = views.targetTasks.filter((t) => original.tasks.includes(t));

  // The original model's level on (a sample of) the test split: loss caps and early-stop levels.
  const testIds = Int32Array.from(
    root
      .fork('test-sample')
      .sample(Array.from(views.test), Math.min(options.testSample ?? 128, views.test.length))
      .sort((a, b) => a - b),
  );
  // One forward pass gives both (early stop on) or just the losses.
  let losses: Record<string, Float64Array>;
  let testLevel: Record<string, number> | undefined;
  if (config.earlyStop) {
    losses = Object.fromEntries(target.map((t) => [t, new Float64Array(testIds.length)]));
    testLevel = primaryMetrics(original, dataset, testIds, target, losses);
  } else {
    losses = instanceLossTable(original, dataset, testIds, target);
  }
  const testLoss: Record<string, number> = {};
  for (const t of target) testLoss[t] = mean(losses[t]!);

  const model = original.clone();
  let gradientEvaluations = 0;
  let steps = 0;
  let epochsRun = 0;
  let stoppedEarly = false;
  const settled = new Set<string>();
  const ctx: UnlearnContext<C> = {
    dataset,
    views,
    model,
    original,
    config,
    rng: createRng(seed).fork('method').fork(unlearner.id),
    testLoss,
    emit: (event) => emit(event),
    settled,
    countGradients: (n) => {
      gradientEvaluations += n;
    },
    signal: options.signal,
  };
  const optimizer = createOptimizer(model, config);
  let state: unknown;
  let setUp = false;
  try {
    options.signal?.throwIfAborted();
    const stepsPerEpoch = Math.ceil(views.forget.length / config.forgetBatchSize);
    emit({
      type: 'start',
      method: unlearner.id,
      epochs: config.epochs,
      stepsPerEpoch,
      setting: views.setting,
    });
    const u = unlearner as unknown as Unlearner<C, unknown>;
    if (config.epochs > 0) {
      state = await u.setup?.(ctx);
      setUp = true;
    }
    if (u.run !== undefined) {
      if (config.epochs > 0) await u.run(ctx, state);
    } else {
      if (u.step === undefined && u.loss === undefined) {
        throw new ConfigError(unlearner.id, 'hooks', 'a method needs run, step or loss');
      }
      const orderRng = root.fork('forget-order');
      const retainRng = root.fork('retain-sample');
      outer: for (let epoch = 0; epoch < config.epochs; epoch++) {
        const epochStart = performance.now();
        const batches = batchIds(views.forget, {
          batchSize: config.forgetBatchSize,
          shuffle: orderRng.fork(epoch),
        });
        let step = 0;
        for (const forgetIds of batches) {
          options.signal?.throwIfAborted();
          const retainIds =
            config.retainBatchSize > 0
              ? retainRng
                  .fork(steps)
                  .sample(
                    Array.from(views.retain),
                    Math.min(config.retainBatchSize, views.retain.length),
                  )
              : [];
          const forget = readBatch(dataset, forgetIds);
          const retained =
            config.retainBatchSize > 0
              ? readBatch(dataset, [...retainIds, ...forgetIds], { supervision: views.supervision })
              : undefined;
          const stepBatches: StepBatches = { forget, retained };
          let out: StepOutput | undefined;
          try {
            if (u.step !== undefined) {
              out = u.step(ctx, stepBatches, state);
            } else {
              const lossTasks = u.lossTasks?.(ctx) ?? model.tasks;
              const { value, grads } = valueAndGradients(
                model,
                (p) => u.loss!(ctx, stepBatches, state, p),
                {
                  tasks: lossTasks,
                },
              );
              const transformed = u.transformGradients?.(ctx, grads, state) ?? grads;
              if (transformed !== grads) {
                for (const [k, g] of Object.entries(grads)) if (transformed[k] !== g) g.dispose();
              }
              out = {
                grads: transformed,
                loss: value,
                gradientEvaluations: forgetIds.length + (retained?.ids.length ?? 0),
              };
            }
            validGrads(out.grads, model, unlearner.id);
            if (out.loss !== undefined && !Number.isFinite(out.loss)) {
              throw new ConfigError(
                `${unlearner.id}.learningRate`,
                config.learningRate,
                `the objective became ${out.loss} at epoch ${epoch}, step ${step}: the run diverged`,
              );
            }
            optimizer.step(out.grads);
          } finally {
            if (out !== undefined) tf.dispose(out.grads);
            disposeBatch(forget);
            if (retained !== undefined) disposeBatch(retained);
          }
          gradientEvaluations += out.gradientEvaluations;
          steps++;
          step++;
          emit({
            type: 'step',
            epoch,
            step,
            stepsPerEpoch: batches.length,
            loss: out.loss,
            info: out.info,
          });
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (config.maxSteps > 0 && steps >= config.maxSteps) {
            epochsRun = epoch + 1;
            break outer;
          }
        }
        epochsRun = epoch + 1;
        let forgetMetric: Record<string, number> | undefined;
        if (testLevel !== undefined) {
          forgetMetric = primaryMetrics(model, dataset, views.forget, target);
          settled.clear();
          for (const t of target) if (forgetMetric[t]! <= testLevel[t]!) settled.add(t);
          stoppedEarly = settled.size === target.length;
        }
        emit({
          type: 'epoch',
          epoch,
          epochs: config.epochs,
          forgetMetric,
          testLevel,
          seconds: (performance.now() - epochStart) / 1000,
        });
        if (stoppedEarly) break;
      }
    }
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    if (setUp) (unlearner as unknown as Unlearner<C, unknown>).teardown?.(ctx, state);
    optimizer.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  emit({ type: 'end', steps, seconds, gradientEvaluations, stoppedEarly });
  return {
    model,
    method: unlearner.id,
    config,
    steps,
    epochs: epochsRun,
    seconds,
    gradientEvaluations,
    stoppedEarly,
  };
}
