/**
 * Forget requests and the views every other package derives from them.
 *
 * A request is plain data, `{ instances, tasks }`: the train instances to forget, and the tasks to
 * forget them from (`'all'` = full-task unlearning; a strict subset of the tasks = partial-task).
 *
 * @module
 */
import { ConfigError, createRng } from '@mtu/core-tensors';
import { getTask, taskNames } from './dataset.js';
import type { Dataset } from './types.js';

/** A forget request, as users write it (e.g. in a JSON file). */
export interface ForgetRequest {
  /** Train instance ids to forget (no duplicates, at least one). */
  readonly instances: readonly number[];
  /** `'all'` (full-task) or the names of the target tasks (partial-task when not all). */
  readonly tasks: 'all' | readonly string[];
}

/** `'full-task'` when the request targets every task, `'partial-task'` otherwise. */
export type UnlearningSetting = 'full-task' | 'partial-task';

/**
 * Retained supervision over the train split: for each task, one byte per train instance
 * (indexed by train id), 1 where the (instance, task) label may be used for training.
 */
export type SupervisionMask = Readonly<Record<string, Uint8Array>>;

/** A validated request and the splits and masks derived from it. */
export interface RequestViews {
  /** The request, normalised: ids ascending, `tasks` as the explicit list of target tasks. */
  readonly request: { readonly instances: readonly number[]; readonly tasks: readonly string[] };
  readonly setting: UnlearningSetting;
  /** Tasks whose supervision of the forget instances is removed (all tasks in full-task). */
  readonly targetTasks: readonly string[];
  /** The other tasks (empty in full-task); their labels of the forget instances are kept. */
  readonly nonTargetTasks: readonly string[];
  /** Forget instance ids (ascending). */
  readonly forget: Int32Array;
  /** Train ids not in the forget set (ascending). */
  readonly retain: Int32Array;
  /** Test ids (ascending). */
  readonly test: Int32Array;
  /**
   * The retained supervision: label presence, minus the target tasks' labels of the forget
   * instances. Exact unlearning (retraining) trains on exactly this.
   */
  readonly supervision: SupervisionMask;
}

/**
 * Checks a request against a dataset and normalises it. Throws a {@link ConfigError} naming the
 * offending field and value for: a malformed request, no instances, a non-integer, unknown or
 * duplicate id, an id from the test split, an unknown or duplicate task name, or an empty task list.
 *
 * @example
 * ```ts
 * validateForgetRequest(ds, { instances: [3, 1], tasks: ['depth'] });
 * // → { instances: [1, 3], tasks: ['depth'] }
 * ```
 */
export function validateForgetRequest(
  dataset: Dataset,
  request: unknown,
): { instances: number[]; tasks: string[] } {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new ConfigError('request', request, 'must be an object { instances, tasks }');
  }
  const r = request as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'instances' && key !== 'tasks') {
      throw new ConfigError(`request.${key}`, r[key], 'unknown field (expected instances, tasks)');
    }
  }
  const instances = r['instances'];
  if (!Array.isArray(instances)) {
    throw new ConfigError('request.instances', instances, 'must be an array of train ids');
  }
  if (instances.length === 0) {
    throw new ConfigError('request.instances', instances, 'is empty: nothing to forget');
  }
  const seen = new Set<number>();
  const n = dataset.train.size;
  instances.forEach((id: unknown, i) => {
    if (typeof id !== 'number' || !Number.isInteger(id)) {
      throw new ConfigError(`request.instances[${i}]`, id, 'must be an integer id');
    }
    if (id < 0 || id >= dataset.test.first + dataset.test.size) {
      throw new ConfigError(
        `request.instances[${i}]`,
        id,
        `unknown id: '${dataset.id}' has train ids 0…${n - 1}`,
      );
    }
    if (id >= n) {
      throw new ConfigError(
        `request.instances[${i}]`,
        id,
        `is a test instance; only train ids 0…${n - 1} can be forgotten`,
      );
    }
    if (seen.has(id)) throw new ConfigError(`request.instances[${i}]`, id, 'duplicate id');
    seen.add(id);
  });
  const tasksField = r['tasks'];
  let tasks: string[];
  if (tasksField === 'all') {
    tasks = taskNames(dataset);
  } else if (Array.isArray(tasksField)) {
    if (tasksField.length === 0) {
      throw new ConfigError('request.tasks', tasksField, "is empty: name tasks or use 'all'");
    }
    const named = new Set<string>();
    tasksField.forEach((t: unknown, i) => {
      if (typeof t !== 'string') {
        throw new ConfigError(`request.tasks[${i}]`, t, 'must be a task name');
      }
      try {
        getTask(dataset, t);
      } catch {
        throw new ConfigError(
          `request.tasks[${i}]`,
          t,
          `unknown task (tasks of '${dataset.id}': ${taskNames(dataset).join(', ')})`,
        );
      }
      if (named.has(t)) throw new ConfigError(`request.tasks[${i}]`, t, 'duplicate task');
      named.add(t);
    });
    // Keep the dataset's task order.
    tasks = taskNames(dataset).filter((t) => named.has(t));
  } else {
    throw new ConfigError('request.tasks', tasksField, "must be 'all' or an array of task names");
  }
  return { instances: [...seen].sort((a, b) => a - b), tasks };
}

/** How {@link makeForgetRequest} draws a request. Give exactly one of `ratio` and `count`. */
export interface MakeForgetRequestOptions {
  /** Fraction of the train split to forget, in (0, 1); rounded to the nearest count, at least 1. */
  readonly ratio?: number;
  /** Number of train instances to forget, in [1, N_train). */
  readonly count?: number;
  /** Seed of the draw. */
  readonly seed: number;
  /** `'all'` (default) or the target task names. */
  readonly tasks?: 'all' | readonly string[];
}

/**
 * Draws a forget request uniformly at random (without replacement) from the train split.
 * The same `(dataset, options)` always gives the same request.
 *
 * @example
 * ```ts
 * const request = makeForgetRequest(ds, { ratio: 0.1, seed: 0, tasks: ['segmentation'] });
 * const views = requestViews(ds, request);
 * ```
 */
export function makeForgetRequest(
  dataset: Dataset,
  options: MakeForgetRequestOptions,
): ForgetRequest {
  const n = dataset.train.size;
  const { ratio, count } = options;
  if ((ratio === undefined) === (count === undefined)) {
    throw new ConfigError('ratio/count', { ratio, count }, 'give exactly one of ratio and count');
  }
  let k: number;
  if (ratio !== undefined) {
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) {
      throw new ConfigError('ratio', ratio, 'must be in (0, 1)');
    }
    k = Math.max(1, Math.round(ratio * n));
  } else {
    k = count!;
    if (!Number.isInteger(k) || k < 1)
      throw new ConfigError('count', k, 'must be a positive integer');
  }
  if (k >= n) {
    throw new ConfigError(
      ratio !== undefined ? 'ratio' : 'count',
      ratio ?? count,
      `would forget ${k} of ${n} train instances; something must be retained`,
    );
  }
  if (!Number.isInteger(options.seed))
    throw new ConfigError('seed', options.seed, 'must be an integer');
  const rng = createRng(options.seed).fork('forget-request');
  const ids = Array.from(rng.permutation(n).subarray(0, k)).sort((a, b) => a - b);
  const request: ForgetRequest = { instances: ids, tasks: options.tasks ?? 'all' };
  validateForgetRequest(dataset, request);
  return request;
}

/**
 * Label presence of the train split as a {@link SupervisionMask} (a fresh copy): the supervision
 * of the original model.
 */
export function fullSupervision(dataset: Dataset): Record<string, Uint8Array> {
  const mask: Record<string, Uint8Array> = {};
  for (const task of dataset.tasks) mask[task.name] = dataset.train.present[task.name]!.slice();
  return mask;
}

/**
 * Validates `request` and derives the forget / retain / test instance lists, the setting and the
 * retained-supervision mask.
 *
 * @example
 * ```ts
 * const v = requestViews(ds, { instances: [0, 5], tasks: ['depth'] });
 * v.setting;                 // 'partial-task'
 * v.supervision.depth[5];    // 0: removed
 * v.supervision.normals[5];  // 1: kept (non-target task)
 * ```
 */
export function requestViews(dataset: Dataset, request: ForgetRequest): RequestViews {
  const normal = validateForgetRequest(dataset, request);
  const all = taskNames(dataset);
  const target = new Set(normal.tasks);
  const forget = Int32Array.from(normal.instances);
  const inForget = new Uint8Array(dataset.train.size);
  for (const id of forget) inForget[id] = 1;
  const retain = new Int32Array(dataset.train.size - forget.length);
  let r = 0;
  for (let id = 0; id < dataset.train.size; id++) if (inForget[id] === 0) retain[r++] = id;
  const supervision = fullSupervision(dataset);
  for (const t of normal.tasks) {
    const m = supervision[t]!;
    for (const id of forget) m[id] = 0;
  }
  const request_ = Object.freeze({
    instances: Object.freeze(normal.instances),
    tasks: Object.freeze(normal.tasks),
  });
  return Object.freeze({
    request: request_,
    setting: normal.tasks.length === all.length ? 'full-task' : 'partial-task',
    targetTasks: request_.tasks,
    nonTargetTasks: Object.freeze(all.filter((t) => !target.has(t))),
    forget,
    retain,
    test: dataset.test.ids.slice(),
    supervision: Object.freeze(supervision),
  });
}
