/**
 * Model checkpoints: spec + weights + the training and dataset configuration, in one safetensors
 * file written atomically (via `@mtu/core-tensors`).
 *
 * @module
 */
import { CheckpointError, ConfigError, loadTensors, saveTensors, tf } from '@mtu/core-tensors';
import type { MultiTaskModel } from './model.js';
import { modelFromWeights } from './model.js';
import type { ModelSpec } from './spec.js';
import { MODEL_FORMAT, modelParams, validateModelSpec } from './spec.js';
import type { TrainConfig } from './train.js';

/** What a checkpoint records besides the weights. */
export interface ModelProvenance {
  /** The training recipe that produced the weights. */
  readonly training?: TrainConfig;
  /** The dataset (id and resolved options) the model was trained on. */
  readonly dataset?: { readonly id: string; readonly options: Readonly<Record<string, unknown>> };
  /** The forget request whose retained supervision the model was trained on (retrained models). */
  readonly request?: {
    readonly instances: readonly number[];
    readonly tasks: 'all' | readonly string[];
  };
  /** Anything else JSON-serialisable (backend, versions, git SHA, ...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A loaded checkpoint. The caller owns (disposes) the model. */
export interface LoadedModel {
  readonly model: MultiTaskModel;
  readonly provenance: ModelProvenance;
}

/**
 * Saves a model and its provenance to `path` (a `.safetensors` file PyTorch users can read; the
 * spec and provenance are JSON in its metadata). Written atomically: an interrupted save leaves
 * the previous file intact.
 *
 * @example
 * ```ts
 * await saveModel('runs/scenes/original.safetensors', model, { training: result.config, dataset: { id: ds.id, options: ds.options } });
 * ```
 */
export async function saveModel(
  path: string,
  model: MultiTaskModel,
  provenance: ModelProvenance = {},
): Promise<void> {
  if (model.disposed) throw new ConfigError('model', 'disposed', 'cannot save a disposed model');
  await saveTensors(path, model.variables, {
    format: MODEL_FORMAT,
    spec: model.spec,
    provenance,
  });
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * The architecture the caller expects: a checkpoint of any other architecture is refused with a
   * {@link CheckpointError} saying what differs.
   */
  readonly expectSpec?: ModelSpec;
}

/**
 * Loads a checkpoint written by {@link saveModel}. Refuses (with a {@link CheckpointError} naming the
 * file) a file that is missing, corrupt, not a model checkpoint, whose spec is invalid, whose
 * tensors do not match its spec, or whose spec differs from `expectSpec`.
 *
 * @example
 * ```ts
 * const { model, provenance } = await loadModel('original.safetensors', { expectSpec: defaultModelSpec(ds) });
 * ```
 */
export async function loadModel(
  path: string,
  options: LoadModelOptions = {},
): Promise<LoadedModel> {
  const { tensors, metadata } = await loadTensors(path);
  try {
    if (metadata['format'] !== MODEL_FORMAT) {
      throw new CheckpointError(
        path,
        `not an MTU model checkpoint (format ${JSON.stringify(metadata['format'])})`,
      );
    }
    let spec: ModelSpec;
    try {
      spec = validateModelSpec(metadata['spec']);
    } catch (error) {
      throw new CheckpointError(path, `invalid model spec: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (options.expectSpec !== undefined) {
      const diff = specDifference(options.expectSpec, spec);
      if (diff !== undefined) {
        throw new CheckpointError(path, `checkpoint of another architecture: ${diff}`);
      }
    }
    const params = modelParams(spec);
    const names = new Set(Object.keys(tensors));
    for (const p of params) {
      const t = tensors[p.name];
      if (t === undefined) throw new CheckpointError(path, `missing parameter '${p.name}'`);
      if (t.dtype !== 'float32' || t.shape.join(',') !== p.shape.join(',')) {
        throw new CheckpointError(
          path,
          `parameter '${p.name}' is ${t.dtype} [${t.shape.join(', ')}], the spec needs float32 [${p.shape.join(', ')}]`,
        );
      }
      names.delete(p.name);
    }
    if (names.size > 0)
      throw new CheckpointError(path, `unexpected tensors: ${[...names].join(', ')}`);
    const model = modelFromWeights(spec, tensors);
    const provenance = (metadata['provenance'] ?? {}) as ModelProvenance;
    return { model, provenance };
  } finally {
    tf.dispose(tensors);
  }
}

/** A one-line description of the first difference between two specs, or undefined if equal. */
export function specDifference(expected: ModelSpec, actual: ModelSpec): string | undefined {
  const walk = (a: unknown, b: unknown, path: string): string | undefined => {
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
      return a === b ? undefined : `${path} is ${JSON.stringify(b)}, expected ${JSON.stringify(a)}`;
    }
    if (Array.isArray(a) !== Array.isArray(b)) return `${path} differs`;
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = walk(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path === '' ? k : `${path}.${k}`,
      );
      if (d !== undefined) return d;
    }
    return undefined;
  };
  return walk(expected, actual, 'spec');
}
