/**
 * One cell of a grid, and the content-hashed cache of the models cells share.
 *
 * A cell is a pure function of its {@link CellSpec} plus the cached models it names: the original
 * model (keyed by everything that determines it: dataset id and resolved options, the resolved
 * training recipe, the seed, the cache format) and the retrained reference (keyed by the original's
 * key and the request's ratio, tasks and seed). Whoever needs a model that is not in the cache
 * builds and stores it (atomic writes), so cells can run in any order, in any process.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, writeFileAtomic } from '@mtu/core-tensors';
import type { Dataset, RequestViews } from '@mtu/datasets';
import { makeForgetRequest, requestViews, resolveDatasetOptions } from '@mtu/datasets';
import type { ResultRecord } from '@mtu/metrics';
import { validateResultRecord, writeResultRecord } from '@mtu/metrics';
import type { MultiTaskModel, TrainConfig, TrainEvent } from '@mtu/multitask-model';
import {
  createModel,
  defaultModelSpec,
  loadModel,
  resolveTrainConfig,
  saveModel,
  train,
} from '@mtu/multitask-model';
import type { UnlearnEvent } from '@mtu/unlearning';
import { checkSupported, unlearn } from '@mtu/unlearning';
import type { ModelSummary, Registries } from './pipeline.js';
import {
  buildRecord,
  codeFingerprints,
  collectProvenance,
  packageVersions,
  summarizeModel,
} from './pipeline.js';
import type { CellSpec, CellStatus } from './types.js';

/** Bumped when the cache layout or what a key covers changes: old entries are then ignored. */
export const CACHE_FORMAT = 1;

/** Canonical JSON: object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

/**
 * A 16-hex-digit SHA-256 content hash of a JSON value (key order does not matter).
 *
 * @example
 * ```ts
 * contentHash({ a: 1, b: 2 }) === contentHash({ b: 2, a: 1 }); // true
 * ```
 */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** The resolved inputs and cache keys of a cell's shared models. */
export interface CellKeys {
  /** The dataset options with defaults filled in. */
  readonly datasetOptions: Readonly<Record<string, unknown>>;
  /** The resolved training recipe (its seed is the cell's seed). */
  readonly training: TrainConfig;
  /** Key of the original model. */
  readonly original: string;
  /** Key of the retrained reference (and of the reference summaries). */
  readonly reference: string;
  /** Hash of the whole cell configuration (a finished cell with another hash is rerun). */
  readonly cell: string;
}

/**
 * Resolves a cell's dataset options and training recipe and derives its cache keys. Throws a
 * `ConfigError` naming the option for an invalid dataset option or training field.
 */
export function cellKeys(spec: CellSpec, registries: Registries): CellKeys {
  const descriptor = registries.datasets.get(spec.dataset.id);
  const datasetOptions = resolveDatasetOptions(descriptor, spec.dataset.options) as Record<
    string,
    unknown
  >;
  const training = resolveTrainConfig({
    ...(spec.training as Partial<TrainConfig>),
    seed: spec.seed,
  });
  const versions = packageVersions();
  const code = codeFingerprints();
  const original = contentHash({
    cache: CACHE_FORMAT,
    kind: 'original',
    dataset: { id: spec.dataset.id, options: datasetOptions },
    model: 'default',
    training,
    initSeed: spec.seed,
    versions: {
      datasets: versions['@mtu/datasets'],
      model: versions['@mtu/multitask-model'],
      tfjs: versions['@tensorflow/tfjs-core'],
    },
    code: {
      core: code['@mtu/core-tensors'],
      datasets: code['@mtu/datasets'],
      model: code['@mtu/multitask-model'],
    },
  });
  const reference = contentHash({
    cache: CACHE_FORMAT,
    kind: 'reference',
    original,
    request: { ratio: spec.request.ratio, tasks: spec.request.tasks, seed: spec.seed },
    evaluation: spec.evaluation,
    metrics: versions['@mtu/metrics'],
    metricsCode: code['@mtu/metrics'],
  });
  const cell = contentHash({ cache: CACHE_FORMAT, spec, reference, versions, code });
  return { datasetOptions, training, original, reference, cell };
}

/** Progress of a cell, as events (the runner forwards them to its caller). */
export type CellEvent =
  | { readonly type: 'phase'; readonly phase: string }
  | { readonly type: 'train'; readonly model: 'original' | 'retrained'; readonly event: TrainEvent }
  | { readonly type: 'unlearn'; readonly event: UnlearnEvent };

/** Where a cell reads and writes. */
export interface CellContext {
  readonly registries: Registries;
  /** Directory of the shared model cache. */
  readonly cacheDir: string;
  /** The cell's own directory (created). */
  readonly cellDir: string;
  readonly onEvent?: (event: CellEvent) => void;
  readonly signal?: AbortSignal;
  /** Loaded datasets by key, shared between the cells one process runs. */
  readonly datasets?: Map<string, Promise<Dataset>>;
}

/** What a finished cell reports. */
export interface CellResult {
  readonly status: CellStatus;
  readonly reason?: string;
  readonly record?: ResultRecord;
  /** Wall time of the whole cell, training of missing shared models included (s). */
  readonly seconds: number;
}

/** The reference entry of the cache: the request and the original's and retrained model's summaries. */
export interface ReferenceEntry {
  readonly request: { readonly instances: readonly number[]; readonly tasks: 'all' | string[] };
  readonly original: ModelSummary;
  readonly retrained: ModelSummary;
  readonly originalSeconds: number;
  readonly retrainSeconds: number;
}

function loadDataset(spec: CellSpec, keys: CellKeys, ctx: CellContext): Promise<Dataset> {
  const key = contentHash({ id: spec.dataset.id, options: keys.datasetOptions });
  const memo = ctx.datasets;
  const hit = memo?.get(key);
  if (hit !== undefined) return hit;
  const loading = ctx.registries.datasets.load(spec.dataset.id, keys.datasetOptions, {
    ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
  });
  memo?.set(key, loading);
  loading.catch(() => memo?.delete(key));
  return loading;
}

async function readJson<T>(path: string): Promise<T | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined; // a torn or foreign file is rebuilt, never trusted
  }
}

/** Path of a cached model. */
export function modelPath(cacheDir: string, key: string): string {
  return join(cacheDir, 'models', `${key}.safetensors`);
}

async function trainModel(
  which: 'original' | 'retrained',
  dataset: Dataset,
  keys: CellKeys,
  seed: number,
  ctx: CellContext,
  views?: RequestViews,
): Promise<{ model: MultiTaskModel; seconds: number }> {
  ctx.onEvent?.({ type: 'phase', phase: `train ${which}` });
  const model = createModel(defaultModelSpec(dataset), { seed });
  try {
    const r = await train(model, dataset, {
      ...keys.training,
      ...(views === undefined ? {} : { supervision: views.supervision }),
      onEvent: (event) => ctx.onEvent?.({ type: 'train', model: which, event }),
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    return { model, seconds: r.seconds };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Path of a cached reference entry (request + summaries of the original and retrained models). */
export function referencePath(cacheDir: string, key: string): string {
  return join(cacheDir, 'references', `${key}.json`);
}

/**
 * The original model of a cell, from the cache or trained (and stored) now. The caller disposes it.
 */
export async function originalModel(
  spec: CellSpec,
  keys: CellKeys,
  dataset: Dataset,
  ctx: CellContext,
): Promise<{ model: MultiTaskModel; seconds: number }> {
  const file = modelPath(ctx.cacheDir, keys.original);
  if (existsSync(file)) {
    try {
      const loaded = await loadModel(file, { expectSpec: defaultModelSpec(dataset) });
      return {
        model: loaded.model,
        seconds: Number(loaded.provenance.extra?.['seconds'] ?? Number.NaN),
      };
    } catch {
      await rm(file, { force: true }); // corrupt: rebuild
    }
  }
  const made = await trainModel('original', dataset, keys, spec.seed, ctx);
  await mkdir(join(ctx.cacheDir, 'models'), { recursive: true });
  await saveModel(file, made.model, {
    training: keys.training,
    dataset: { id: spec.dataset.id, options: keys.datasetOptions },
    extra: { seconds: made.seconds, key: keys.original },
  });
  return made;
}

/**
 * The reference of a cell: the forget request, the retrained model (trained on the retained
 * supervision with the original's recipe and seed) and both models' summaries, from the cache or
 * computed (and stored) now.
 */
export async function referenceEntry(
  spec: CellSpec,
  keys: CellKeys,
  dataset: Dataset,
  ctx: CellContext,
): Promise<ReferenceEntry> {
  const file = referencePath(ctx.cacheDir, keys.reference);
  const cached = await readJson<ReferenceEntry>(file);
  if (cached?.retrained?.evaluation !== undefined) return cached;
  const request = makeForgetRequest(dataset, {
    ratio: spec.request.ratio,
    seed: spec.seed,
    tasks: spec.request.tasks === 'all' ? 'all' : [...spec.request.tasks],
  });
  const views = requestViews(dataset, request);
  const original = await originalModel(spec, keys, dataset, ctx);
  try {
    const retrainFile = modelPath(ctx.cacheDir, keys.reference);
    let retrained: { model: MultiTaskModel; seconds: number };
    if (existsSync(retrainFile)) {
      const loaded = await loadModel(retrainFile, { expectSpec: original.model.spec });
      retrained = {
        model: loaded.model,
        seconds: Number(loaded.provenance.extra?.['seconds'] ?? Number.NaN),
      };
    } else {
      retrained = await trainModel('retrained', dataset, keys, spec.seed, ctx, views);
      await saveModel(retrainFile, retrained.model, {
        training: keys.training,
        dataset: { id: spec.dataset.id, options: keys.datasetOptions },
        request,
        extra: { seconds: retrained.seconds, key: keys.reference },
      });
    }
    try {
      ctx.onEvent?.({ type: 'phase', phase: 'evaluate references' });
      const o = { seed: spec.seed, ...spec.evaluation };
      const entry: ReferenceEntry = {
        request: {
          instances: request.instances,
          tasks: spec.request.tasks === 'all' ? 'all' : [...spec.request.tasks],
        },
        original: summarizeModel(original.model, dataset, views, o),
        retrained: summarizeModel(retrained.model, dataset, views, o),
        originalSeconds: original.seconds,
        retrainSeconds: retrained.seconds,
      };
      await mkdir(join(ctx.cacheDir, 'references'), { recursive: true });
      await writeFileAtomic(file, `${JSON.stringify(entry)}\n`);
      return entry;
    } finally {
      retrained.model.dispose();
    }
  } finally {
    original.model.dispose();
  }
}

/**
 * Whether the `retrain` method's run would reproduce the cached reference exactly: the same recipe,
 * seeds and supervision (bit-for-bit equality of the two is tested in `@mtu/baselines`). Then the
 * cell reuses the reference instead of training a third time.
 */
function reusesReference(spec: CellSpec): boolean {
  return spec.method.id === 'retrain' && Object.keys(spec.method.config).length === 0;
}

/** The `retrain` method's config matching a training recipe (for the record). */
function retrainConfig(training: TrainConfig): Record<string, unknown> {
  return {
    epochs: training.epochs,
    learningRate: training.learningRate,
    optimizer: training.optimizer,
    momentum: training.momentum,
    batchSize: training.batchSize,
    weightDecay: training.weightDecay,
    shuffleSeed: training.seed,
    initSeed: training.seed,
  };
}

/** The files of a cell directory. */
export const CELL_FILES = {
  config: 'config.json',
  request: 'request.json',
  result: 'result.json',
  outcome: 'outcome.json',
} as const;

/** What `outcome.json` holds: how the cell ended and the hash of the configuration it ran. */
export interface OutcomeFile {
  readonly cellHash: string;
  readonly status: CellStatus;
  readonly reason?: string;
  readonly seconds: number;
}

/**
 * The finished outcome stored in a cell directory for this configuration hash, or `undefined`
 * when the cell must (re)run: nothing stored, another configuration, a failure, or a torn file.
 */
export async function storedOutcome(
  cellDir: string,
  cellHash: string,
): Promise<{ outcome: OutcomeFile; record?: ResultRecord } | undefined> {
  const outcome = await readJson<OutcomeFile>(join(cellDir, CELL_FILES.outcome));
  if (outcome?.cellHash !== cellHash || outcome.status === 'failed') return undefined;
  if (outcome.status === 'not-applicable') return { outcome };
  const json = await readJson<unknown>(join(cellDir, CELL_FILES.result));
  try {
    return { outcome, record: validateResultRecord(json) };
  } catch {
    return undefined;
  }
}

/**
 * Runs one cell: loads the dataset, gets the original model and the reference (cached or built),
 * draws the request, runs the method, evaluates, and writes `config.json`, `request.json`,
 * `result.json` and — last, as the completion mark — `outcome.json` into the cell directory, each
 * atomically. A method that does not support the request ends as `not-applicable`; an error as
 * `failed` (with its message), so one bad cell does not stop a grid.
 *
 * @example
 * ```ts
 * const r = await runCell(plan.cells[0].spec, { registries, cacheDir: 'runs/cache', cellDir: 'runs/quick/cells/x' });
 * r.status; // 'done'
 * ```
 */
export async function runCell(spec: CellSpec, ctx: CellContext): Promise<CellResult> {
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  const keys = cellKeys(spec, ctx.registries);
  await mkdir(ctx.cellDir, { recursive: true });
  const finish = async (result: CellResult): Promise<CellResult> => {
    const outcome: OutcomeFile = {
      cellHash: keys.cell,
      status: result.status,
      ...(result.reason === undefined ? {} : { reason: result.reason }),
      seconds: result.seconds,
    };
    await writeFileAtomic(
      join(ctx.cellDir, CELL_FILES.outcome),
      `${JSON.stringify(outcome, null, 2)}\n`,
    );
    return result;
  };
  const method = ctx.registries.methods.get(spec.method.id);
  const methodConfig =
    spec.method.id === 'retrain'
      ? { ...retrainConfig(keys.training), ...spec.method.config }
      : spec.method.config;
  const provenance = collectProvenance(spec.seed);
  await writeFileAtomic(
    join(ctx.cellDir, CELL_FILES.config),
    `${JSON.stringify(
      {
        cellHash: keys.cell,
        spec,
        resolved: {
          datasetOptions: keys.datasetOptions,
          training: keys.training,
          methodConfig,
        },
        cache: { original: keys.original, reference: keys.reference },
        gitSha: provenance.gitSha ?? null,
        versions: provenance.versions,
        backend: { name: provenance.backend, threads: provenance.threads },
        node: provenance.node,
        platform: provenance.platform,
      },
      null,
      2,
    )}\n`,
  );
  try {
    ctx.onEvent?.({ type: 'phase', phase: 'load dataset' });
    const dataset = await loadDataset(spec, keys, ctx);
    const request = makeForgetRequest(dataset, {
      ratio: spec.request.ratio,
      seed: spec.seed,
      tasks: spec.request.tasks === 'all' ? 'all' : [...spec.request.tasks],
    });
    const views = requestViews(dataset, request);
    await writeFileAtomic(
      join(ctx.cellDir, CELL_FILES.request),
      `${JSON.stringify(request, null, 2)}\n`,
    );
    try {
      checkSupported(method, views, dataset);
    } catch (error) {
      if (error instanceof ConfigError) {
        return await finish({
          status: 'not-applicable',
          reason: error.message,
          seconds: seconds(),
        });
      }
      throw error;
    }
    const reference = await referenceEntry(spec, keys, dataset, ctx);
    let unlearned: ModelSummary;
    let cost: { seconds: number; gradientEvaluations: number; config: Record<string, unknown> };
    if (reusesReference(spec)) {
      unlearned = reference.retrained;
      const retained =
        views.retain.length + (views.setting === 'partial-task' ? views.forget.length : 0);
      cost = {
        seconds: reference.retrainSeconds,
        gradientEvaluations: keys.training.epochs * retained,
        config: methodConfig,
      };
    } else {
      const original = await originalModel(spec, keys, dataset, ctx);
      try {
        ctx.onEvent?.({ type: 'phase', phase: `unlearn ${spec.method.id}` });
        const r = await unlearn(original.model, dataset, views, method, {
          config: methodConfig,
          seed: spec.seed,
          onEvent: (event) => ctx.onEvent?.({ type: 'unlearn', event }),
          ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
        });
        try {
          ctx.onEvent?.({ type: 'phase', phase: 'evaluate' });
          unlearned = summarizeModel(r.model, dataset, views, {
            seed: spec.seed,
            ...spec.evaluation,
          });
        } finally {
          r.model.dispose();
        }
        cost = {
          seconds: r.seconds,
          gradientEvaluations: r.gradientEvaluations,
          config: r.config as unknown as Record<string, unknown>,
        };
      } finally {
        original.model.dispose();
      }
    }
    const record = buildRecord({
      dataset,
      views,
      method: { id: spec.method.id, config: cost.config },
      unlearned,
      original: reference.original,
      retrained: reference.retrained,
      cost: {
        seconds: cost.seconds,
        gradientEvaluations: cost.gradientEvaluations,
        retrainSeconds: reference.retrainSeconds,
        ratioToRetrain: cost.seconds / reference.retrainSeconds,
      },
      provenance,
    });
    await writeResultRecord(join(ctx.cellDir, CELL_FILES.result), record);
    return await finish({ status: 'done', record, seconds: seconds() });
  } catch (error) {
    if (ctx.signal?.aborted === true) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    return await finish({ status: 'failed', reason, seconds: seconds() });
  }
}
