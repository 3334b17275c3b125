/**
 * What several commands share: reading checkpoints, finding the dataset a checkpoint belongs to
 * (and refusing one it does not fit), and building a forget request from a file or from flags.
 *
 * @module
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CheckpointError, ConfigError } from '@mtu/core-tensors';
import type { Registries } from '@mtu/bench';
import type { Dataset, ForgetRequest, RequestViews } from '@mtu/datasets';
import { makeForgetRequest, requestViews, taskNames, validateForgetRequest } from '@mtu/datasets';
import type { LoadedModel, ModelProvenance, ModelSpec } from '@mtu/multitask-model';
import { defaultModelSpec, loadModel, specDifference } from '@mtu/multitask-model';
import type { RunContext } from './context.js';
import {
  UsageError,
  describeFsError,
  optionalNumber,
  parsePairs,
  parseTasks,
  readJsonFile,
} from './args.js';

/** `--dataset` and `--option` as given. */
export interface DatasetFlags {
  readonly dataset?: string;
  readonly option?: readonly string[];
}

/**
 * Checks an output path before any work is done: its folder must exist or be creatable, and the
 * path must not be a folder. Nothing is written.
 */
export async function checkOutputPath(path: string, option: string): Promise<void> {
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw new ConfigError(option, path, 'is a directory, not a file');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(option, path, `cannot write: ${describeFsError(error)}`);
    }
  }
  const dir = dirname(path);
  try {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new ConfigError(option, path, `${dir} is not a directory`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // A missing folder is created when the file is written.
  }
}

/** Creates the folder of an output file (just before writing it). */
export async function ensureParent(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}

/** Loads a checkpoint; the error of a missing or corrupt file names the file. */
export async function readCheckpoint(
  ctx: RunContext,
  path: string,
  expectSpec?: ModelSpec,
): Promise<LoadedModel> {
  await ctx.backend();
  return loadModel(path, expectSpec === undefined ? {} : { expectSpec });
}

/** The parts of a spec a dataset determines: the input shape and the heads' tasks and outputs. */
function datasetPart(spec: ModelSpec): ModelSpec {
  return {
    inputShape: spec.inputShape,
    heads: spec.heads.map((h) => ({
      task: h.task,
      kind: h.kind,
      outputs: h.outputs,
      ...(h.size === undefined ? {} : { size: h.size }),
    })),
  } as unknown as ModelSpec;
}

/**
 * Refuses a model whose input shape or heads do not fit the dataset (e.g. a `scenes` model with
 * `multi-mnist`, or dataset options that change the image size).
 */
export function checkFits(
  file: string,
  spec: ModelSpec,
  dataset: Dataset,
  provenance: ModelProvenance,
): void {
  const diff = specDifference(datasetPart(defaultModelSpec(dataset)), datasetPart(spec));
  if (diff !== undefined) {
    const recorded = provenance.dataset?.id;
    const context =
      recorded === undefined
        ? ''
        : recorded === dataset.id
          ? ' with these options'
          : ` (it was trained on '${recorded}')`;
    const what = diff.replace(/^spec\./, '').replace(/\.(\d+)(?=\b)/g, '[$1]');
    throw new CheckpointError(
      file,
      `the model does not fit dataset '${dataset.id}'${context}: ${what}`,
    );
  }
}

/**
 * The dataset of a command: `--dataset` (with `--option`s), else the one recorded in the
 * checkpoint's provenance with its options (any `--option` overriding them). Loaded with a
 * progress bar, then checked against the model's spec.
 */
export async function datasetFor(
  ctx: RunContext,
  registries: Registries,
  flags: DatasetFlags,
  checkpoint: { readonly file: string; readonly loaded: LoadedModel },
): Promise<Dataset> {
  const overrides = parsePairs('--option', flags.option ?? []);
  const recorded = checkpoint.loaded.provenance.dataset;
  let id: string;
  let options: Record<string, unknown>;
  if (flags.dataset !== undefined) {
    id = flags.dataset;
    options =
      recorded !== undefined && recorded.id === id
        ? { ...recorded.options, ...overrides }
        : overrides;
  } else if (recorded !== undefined) {
    id = recorded.id;
    options = { ...recorded.options, ...overrides };
  } else {
    throw new UsageError(
      `${checkpoint.file} does not record its dataset: give --dataset <id> (and its --option key=value)`,
    );
  }
  const dataset = await loadDataset(ctx, registries, id, options);
  checkFits(checkpoint.file, checkpoint.loaded.model.spec, dataset, checkpoint.loaded.provenance);
  return dataset;
}

/** Loads a dataset by id with raw options, showing a bar for long loads; aborts on Ctrl-C. */
export async function loadDataset(
  ctx: RunContext,
  registries: Registries,
  id: string,
  options: Record<string, unknown>,
): Promise<Dataset> {
  let phase: string | undefined;
  try {
    return await registries.datasets.load(id, options, {
      signal: ctx.signal,
      onProgress: (p) => {
        if (p.phase !== phase) {
          phase = p.phase;
          ctx.progress.start(`${p.dataset}: ${p.phase}`, p.total);
        }
        ctx.progress.update(p.done);
      },
    });
  } finally {
    ctx.progress.stop();
  }
}

/** The request flags of `unlearn` and `eval`. */
export interface RequestFlags {
  readonly request?: string;
  readonly ratio?: string;
  readonly count?: string;
  readonly tasks?: string;
  readonly requestSeed?: string;
}

/** A request source, parsed and checked before anything is loaded. */
export type RequestSource =
  | { readonly kind: 'file'; readonly file: string; readonly json: unknown }
  | {
      readonly kind: 'draw';
      readonly ratio?: number;
      readonly count?: number;
      readonly tasks: 'all' | string[];
      readonly seed: number;
    }
  | { readonly kind: 'checkpoint' };

/**
 * Reads `--request` (a JSON file: malformed JSON names the file) or parses `--ratio` / `--count`,
 * `--tasks` and `--request-seed`. With neither: the checkpoint's recorded request when
 * `allowCheckpoint` (eval), else a usage error.
 */
export async function requestSource(
  flags: RequestFlags,
  defaultSeed: number,
  allowCheckpoint: boolean,
): Promise<RequestSource> {
  const drawn =
    flags.ratio !== undefined ||
    flags.count !== undefined ||
    flags.tasks !== undefined ||
    flags.requestSeed !== undefined;
  if (flags.request !== undefined) {
    if (drawn) {
      throw new UsageError(
        '--request cannot be combined with --ratio, --count, --tasks or --request-seed',
      );
    }
    return {
      kind: 'file',
      file: flags.request,
      json: await readJsonFile(flags.request, 'request'),
    };
  }
  if (flags.ratio !== undefined && flags.count !== undefined) {
    throw new UsageError('give --ratio or --count, not both');
  }
  if (flags.ratio === undefined && flags.count === undefined) {
    if (drawn) throw new UsageError('--tasks and --request-seed need --ratio or --count');
    if (allowCheckpoint) return { kind: 'checkpoint' };
    throw new UsageError('give a forget request: --request <file.json> or --ratio <x>');
  }
  const ratio = optionalNumber('--ratio', flags.ratio, { above: 0, below: 1 });
  const count = optionalNumber('--count', flags.count, { integer: true, min: 1 });
  const seed =
    optionalNumber('--request-seed', flags.requestSeed, { integer: true }) ?? defaultSeed;
  return {
    kind: 'draw',
    ...(ratio === undefined ? {} : { ratio }),
    ...(count === undefined ? {} : { count }),
    tasks: flags.tasks === undefined ? 'all' : parseTasks(flags.tasks),
    seed,
  };
}

/**
 * Turns a request source into validated views of `dataset`. Errors name the file (`--request`) or
 * the flag (`--tasks`, `--count`), and the offending id or task.
 */
export function resolveRequest(
  dataset: Dataset,
  source: RequestSource,
  recorded: ModelProvenance['request'] | undefined,
  modelFile: string,
): RequestViews {
  switch (source.kind) {
    case 'file':
      try {
        validateForgetRequest(dataset, source.json);
      } catch (error) {
        if (error instanceof ConfigError) throw new CheckpointError(source.file, error.message);
        throw error;
      }
      return requestViews(dataset, source.json as ForgetRequest);
    case 'draw': {
      if (source.tasks !== 'all') {
        const known = taskNames(dataset);
        for (const t of source.tasks) {
          if (!known.includes(t)) {
            throw new ConfigError(
              '--tasks',
              t,
              `unknown task (tasks of '${dataset.id}': ${known.join(', ')})`,
            );
          }
        }
      }
      const n = dataset.train.size;
      if (source.count !== undefined && source.count >= n) {
        throw new ConfigError(
          '--count',
          source.count,
          `'${dataset.id}' has ${n} train instances; at least one must be retained`,
        );
      }
      try {
        return requestViews(
          dataset,
          makeForgetRequest(dataset, {
            ...(source.ratio === undefined ? {} : { ratio: source.ratio }),
            ...(source.count === undefined ? {} : { count: source.count }),
            seed: source.seed,
            tasks: source.tasks,
          }),
        );
      } catch (error) {
        if (error instanceof ConfigError && !error.field.startsWith('-')) {
          throw new ConfigError(`--${error.field}`, error.value, reasonOf(error));
        }
        throw error;
      }
    }
    case 'checkpoint':
      if (recorded === undefined) {
        throw new UsageError(
          `${modelFile} records no forget request: give --request <file.json> or --ratio <x>`,
        );
      }
      return requestViews(dataset, recorded);
  }
}

/** The reason part of a ConfigError's message (`invalid <field> = <value>: <reason>`). */
function reasonOf(error: ConfigError): string {
  let value: string;
  try {
    value = JSON.stringify(error.value) ?? String(error.value);
  } catch {
    value = String(error.value);
  }
  const head = `invalid ${error.field} = ${value}: `;
  return error.message.startsWith(head) ? error.message.slice(head.length) : error.message;
}
