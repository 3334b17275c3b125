/**
 * Losses and gradients of a model on a batch: the total loss, per-task gradients, and per-instance
 * gradients from batched passes (see the `per-instance` module).
 *
 * @module
 */
import { ConfigError, flatten, tf } from '@mtu/core-tensors';
import type {
  NamedTensorMap,
  ParamLayout,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
} from '@mtu/core-tensors';
import type { Batch, Dataset, SupervisionMask } from '@mtu/datasets';
import { disposeBatch, getTask, readBatch } from '@mtu/datasets';
import { batchLoss } from './losses.js';
import type { MultiTaskModel } from './model.js';
import { forward, groupLayout } from './model.js';
import { perInstanceGradientRows, sharedPassRows } from './per-instance.js';
import type { PerInstanceRows } from './per-instance.js';
import { usedParams } from './spec.js';

/** Which tasks and parameters a loss or gradient covers. */
export interface LossOptions {
  /** Tasks whose losses are summed (default: every head). */
  readonly tasks?: readonly string[];
  /** Weight per task (default 1). */
  readonly weights?: Readonly<Record<string, number>>;
  /** Parameter groups to differentiate (default: every group). */
  readonly groups?: readonly string[];
  /**
   * Parameter values to use instead of the model's variables (same names and shapes), e.g. a
   * look-ahead point. Gradients are then taken at these values.
   */
  readonly params?: NamedTensorMap;
}

/** What {@link lossAndGradients} returns; the caller owns `grads`. */
export interface LossAndGradients {
  /** The weighted total loss. */
  readonly loss: number;
  /** Each task's batch loss (unweighted). */
  readonly taskLosses: Readonly<Record<string, number>>;
  /** Gradients of the total loss by parameter name (only the requested groups). */
  readonly grads: NamedTensorMap;
}

function selectedNames(model: MultiTaskModel, groups?: readonly string[]): string[] {
  return groups === undefined ? [...model.layout.names] : [...groupLayout(model, groups).names];
}

function taskList(model: MultiTaskModel, tasks?: readonly string[]): readonly string[] {
  const list = tasks ?? model.tasks;
  if (list.length === 0) throw new ConfigError('tasks', [], 'name at least one task');
  for (const t of list) {
    if (!model.tasks.includes(t)) {
      throw new ConfigError(
        'task',
        t,
        `the model has no head for it (heads: ${model.tasks.join(', ')})`,
      );
    }
  }
  return list;
}

/**
 * The batch losses of the given tasks as scalars, from a parameter map (tensors or variables).
 * Creates tensors: call inside a tidy / gradient function.
 */
export function taskLosses(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  params: NamedTensorMap,
  tasks: readonly string[],
): Record<string, Scalar> {
  const out = forward(model.spec, params, batch.x, tasks);
  const losses: Record<string, Scalar> = {};
  for (const t of tasks) {
    const task = getTask(dataset, t);
    losses[t] = batchLoss(task, out[t]!, batch.labels[t]!, batch.mask[t]);
  }
  return losses;
}

/** Options of {@link valueAndGradients}. */
export interface ValueAndGradientsOptions {
  /** The heads the objective uses: decides which parameters it can reach (see `usedParams`). */
  readonly tasks: readonly string[];
  /** Parameter groups to differentiate (default: every group). */
  readonly groups?: readonly string[];
  /** Parameter values to differentiate at (default: the model's variables). */
  readonly params?: NamedTensorMap;
}

/**
 * Any scalar objective of the parameters and its gradients w.r.t. the chosen groups: `objective`
 * receives a full parameter map (the model's variables, or `options.params`, with the
 * differentiated ones substituted) and returns a scalar; it may create tensors freely (everything
 * is tidied). Parameters the objective cannot reach through `options.tasks`' heads get zero
 * gradients. The caller owns `grads`.
 *
 * @example
 * ```ts
 * // A capped (bounded-ascent) forget loss of the depth head:
 * const { value, grads } = valueAndGradients(model, (p) => {
 *   const out = forward(model.spec, p, batch.x, ['depth']);
 *   const { loss } = instanceLosses(task, out.depth, batch.labels.depth);
 *   return tf.mean(tf.minimum(loss, cap));
 * }, { tasks: ['depth'], groups: ['shared', 'depth'] });
 * ```
 */
export function valueAndGradients(
  model: MultiTaskModel,
  objective: (params: NamedTensorMap) => Scalar,
  options: ValueAndGradientsOptions,
): { value: number; grads: NamedTensorMap } {
  const tasks = taskList(model, options.tasks);
  const requested = selectedNames(model, options.groups);
  // tf.grads refuses parameters the loss does not reach: differentiate the used ones, zero the rest.
  const used = usedParams(model.spec, tasks);
  const names = requested.filter((n) => used.has(n));
  const base: NamedTensorMap = options.params ?? model.variables;
  const { value, grads } = tf.tidy(() => {
    const f = (...xs: Tensor[]): Scalar => {
      const params: NamedTensorMap = { ...base };
      names.forEach((n, i) => (params[n] = xs[i]!));
      return objective(params);
    };
    const xs = names.map((n) => {
      const t = base[n];
      if (t === undefined) throw new ConfigError('params', n, 'is missing from the parameter map');
      return t;
    });
    if (xs.length === 0) return { value: objective({ ...base }), grads: [] as Tensor[] };
    return tf.valueAndGrads(f)(xs);
  });
  const v = value.dataSync()[0]!;
  value.dispose();
  const map: NamedTensorMap = {};
  let k = 0;
  for (const n of requested) {
    map[n] = used.has(n) ? grads[k++]! : tf.zeros(model.variables[n]!.shape, 'float32');
  }
  return { value: v, grads: map };
}

/**
 * The weighted sum of task losses on a batch and its gradients w.r.t. the chosen parameter groups.
 * Gradient shapes equal the parameters' shapes; parameters a task does not touch (another head)
 * get zeros.
 *
 * @example
 * ```ts
 * const { loss, grads } = lossAndGradients(model, ds, batch, { groups: ['shared'] });
 * tf.dispose(grads);
 * ```
 */
export function lossAndGradients(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  options: LossOptions = {},
): LossAndGradients {
  const tasks = taskList(model, options.tasks);
  const weights = options.weights ?? {};
  const parts: Record<string, Scalar> = {};
  const { value, grads } = valueAndGradients(
    model,
    (params) => {
      const losses = taskLosses(model, dataset, batch, params, tasks);
      let total: Scalar = tf.scalar(0);
      for (const t of tasks) {
        parts[t] = tf.keep(losses[t]!.clone());
        total = tf.add(total, tf.mul(losses[t]!, weights[t] ?? 1));
      }
      return total;
    },
    {
      tasks,
      ...(options.groups === undefined ? {} : { groups: options.groups }),
      ...(options.params === undefined ? {} : { params: options.params }),
    },
  );
  const perTask: Record<string, number> = {};
  for (const t of tasks) {
    perTask[t] = parts[t]!.dataSync()[0]!;
    parts[t]!.dispose();
  }
  return { loss: value, taskLosses: perTask, grads };
}

/**
 * One gradient map per task (of that task's batch loss alone), w.r.t. the chosen groups.
 * The caller owns every tensor.
 *
 * @example
 * ```ts
 * const g = taskGradients(model, ds, batch, { groups: ['shared'] });
 * const d = flatten(groupLayout(model, ['shared']), g.depth); // Tensor1D [D_shared]
 * ```
 */
export function taskGradients(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  options: Omit<LossOptions, 'weights'> = {},
): Record<string, NamedTensorMap> {
  const out: Record<string, NamedTensorMap> = {};
  for (const t of taskList(model, options.tasks)) {
    out[t] = lossAndGradients(model, dataset, batch, { ...options, tasks: [t] }).grads;
  }
  return out;
}

/** Options of {@link perInstanceGradients} and {@link forEachInstanceGradient}. */
export interface PerInstanceOptions {
  /** The task whose loss is differentiated (or several, summed with `weights`). */
  readonly tasks: readonly string[];
  readonly weights?: Readonly<Record<string, number>>;
  /** Parameter groups (default: all). */
  readonly groups?: readonly string[];
  /** Which train labels may be used (default: label presence). */
  readonly supervision?: SupervisionMask;
  /** Parameter values to differentiate at (default: the model's variables). */
  readonly params?: NamedTensorMap;
  /**
   * Instances per batched pass (default {@link PER_INSTANCE_BATCH}): each chunk of ids runs one
   * forward and one backward pass that yield every instance's own gradient (see the module
   * `per-instance`); memory grows with it (activations and `[batchSize, D]` gradients).
   */
  readonly batchSize?: number;
}

/**
 * Default {@link PerInstanceOptions.batchSize}: 16 (8 until 2026-12-08). Measured against one pass
 * per instance (package README, "Measured"): `scenes` 80 → 100 gradients/s over the shared group,
 * `multi-mnist` 133 → 409 at 8; 16 gave ≈ 10–40% more on `scenes` and up to 15% more on
 * `multi-mnist` (32 was slower there over all groups). The chunk size changes no bit of a result.
 *
 * @example
 * ```ts
 * // Halve the activation memory of each pass (32 instances, 4 passes):
 * const G = perInstanceGradients(model, ds, ids, { tasks: ['depth'], batchSize: PER_INSTANCE_BATCH / 2 });
 * ```
 */
export const PER_INSTANCE_BATCH = 16;

function chunkSize(options: PerInstanceOptions): number {
  const b = options.batchSize ?? PER_INSTANCE_BATCH;
  if (!Number.isInteger(b) || b < 1) {
    throw new ConfigError('batchSize', b, 'must be a positive integer');
  }
  return b;
}

/**
 * The per-instance gradients of `ids[from, to)` as rows `[to − from, D]` over the layout, and
 * their losses: one batched pass.
 */
function gradientRows(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: ArrayLike<number>,
  from: number,
  to: number,
  layout: ParamLayout,
  options: PerInstanceOptions,
): PerInstanceRows {
  const chunk = Int32Array.from({ length: to - from }, (_, k) => ids[from + k]!);
  const batch = readBatch(
    dataset,
    chunk,
    options.supervision === undefined ? {} : { supervision: options.supervision },
  );
  try {
    return perInstanceGradientRows(
      model,
      dataset,
      batch,
      layout.names,
      taskList(model, options.tasks),
      options.weights ?? {},
      options.params,
    );
  } finally {
    disposeBatch(batch);
  }
}

/**
 * Calls `visit(id, g, loss)` with each instance's flat gradient `g` (float32 `[D]`, `D` = size of
 * the chosen groups, layout order of {@link groupLayout}) of the task loss on that instance alone.
 * Chunks of `options.batchSize` instances (default {@link PER_INSTANCE_BATCH}) run one batched
 * forward and backward pass each, which yields every instance's own gradient (the model has no
 * batch coupling; see the `per-instance` module); only one chunk's tensors exist at a time. `g` is
 * disposed after `visit` returns (clone it to keep it). An instance without a supervised label for
 * the tasks gets a zero vector.
 *
 * @example
 * ```ts
 * forEachInstanceGradient(model, ds, [0, 1, 2], { tasks: ['depth'], groups: ['shared'] }, (id, g) => {
 *   norms.push(tf.tidy(() => tf.norm(g).dataSync()[0]));
 * });
 * ```
 */
export function forEachInstanceGradient(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: ArrayLike<number>,
  options: PerInstanceOptions,
  visit: (id: number, gradient: Tensor1D, loss: number) => void,
): void {
  const layout = groupLayout(model, options.groups ?? model.layout.groupNames);
  const b = chunkSize(options);
  for (let from = 0; from < ids.length; from += b) {
    const to = Math.min(ids.length, from + b);
    const { rows, losses } = gradientRows(model, dataset, ids, from, to, layout, options);
    try {
      for (let k = 0; k < to - from; k++) {
        const g = tf.tidy(() => tf.reshape<tf.Rank.R1>(tf.slice(rows, [k, 0], [1, -1]), [-1]));
        try {
          visit(ids[from + k]!, g, losses[k]!);
        } finally {
          g.dispose();
        }
      }
    } finally {
      rows.dispose();
    }
  }
}

/**
 * The per-instance gradients of `ids` as the columns of a float32 `[D, n]` matrix (the input of
 * `orthonormalBasis`). Memory: the matrix plus one instance's gradient.
 *
 * @example
 * ```ts
 * const G = perInstanceGradients(model, ds, ids, { tasks: ['segmentation'], groups: ['shared'] });
 * const U = orthonormalBasis(G, { energy: 0.97 });
 * ```
 */
export function perInstanceGradients(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: ArrayLike<number>,
  options: PerInstanceOptions,
): Tensor2D {
  const layout = groupLayout(model, options.groups ?? model.layout.groupNames);
  const b = chunkSize(options);
  const chunks: Tensor2D[] = [];
  try {
    for (let from = 0; from < ids.length; from += b) {
      const to = Math.min(ids.length, from + b);
      chunks.push(gradientRows(model, dataset, ids, from, to, layout, options).rows);
    }
    return tf.tidy(() =>
      chunks.length === 0
        ? tf.zeros<tf.Rank.R2>([layout.size, 0])
        : tf.transpose(chunks.length === 1 ? chunks[0]! : tf.concat(chunks, 0)),
    );
  } finally {
    tf.dispose(chunks);
  }
}

/** Options of {@link sharedPassGradients}. */
export interface SharedPassOptions {
  /** The batched objective (what {@link valueAndGradients} would differentiate). */
  readonly objective: {
    /** The heads whose outputs `loss` reads. */
    readonly tasks: readonly string[];
    /** Parameter groups to differentiate (default: every group). */
    readonly groups?: readonly string[];
    /** The scalar objective from those heads' outputs on the batch, by task name. */
    readonly loss: (outputs: Record<string, Tensor>) => Scalar;
  };
  /** Per-instance gradients of single tasks' losses on the same instances. */
  readonly perInstance: readonly {
    readonly task: string;
    /** Parameter groups (default: every group). */
    readonly groups?: readonly string[];
    /**
     * Batch positions (0 ≤ i < B) whose gradients are wanted, in column order (default: the whole
     * batch). Only these instances are tiled, so a short list costs that many gradients.
     */
    readonly positions?: ArrayLike<number>;
  }[];
  /** Which train labels the per-instance losses may use (default: label presence). */
  readonly supervision?: SupervisionMask;
}

/** What {@link sharedPassGradients} returns; the caller owns `grads` and `columns`. */
export interface SharedPassGradients {
  /** The objective's value. */
  readonly value: number;
  /** The objective's gradients by parameter name (the requested groups; zero where unreached). */
  readonly grads: NamedTensorMap;
  /**
   * Per `perInstance` entry, `[D_k, B]`: column `i` is instance `i`'s gradient of that task's loss
   * over the entry's groups (as {@link perInstanceGradients} gives it); with `positions`,
   * `[D_k, positions.length]`, column `j` the instance at batch position `positions[j]`.
   */
  readonly columns: Tensor2D[];
}

/**
 * A batched objective's gradient and per-instance gradients of single tasks on the **same batch**
 * from one forward pass of the backbone: the same bits as {@link valueAndGradients} of the objective
 * plus one {@link perInstanceGradients} call per entry, for the cost of one backbone forward pass
 * instead of one per call (the heads and the backward passes cost what they did). Batch size B up to
 * what one per-instance pass takes (memory grows with (entries + 1)·B).
 *
 * @example
 * ```ts
 * // the forget gradient of segmentation, and each instance's depth and normals gradients
 * const r = sharedPassGradients(model, dataset, batch, {
 *   objective: { tasks: ['segmentation'], groups: ['shared', 'segmentation'],
 *                loss: (out) => tf.neg(batchLoss(segTask, out.segmentation!, labels)) },
 *   perInstance: [{ task: 'depth', groups: ['shared'] }, { task: 'normals', groups: ['shared'] }],
 * });
 * r.columns[0]!.shape; // [D_shared, B]
 * ```
 */
export function sharedPassGradients(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  options: SharedPassOptions,
): SharedPassGradients {
  const tasks = taskList(model, options.objective.tasks);
  const requested = selectedNames(model, options.objective.groups);
  const used = usedParams(model.spec, tasks);
  const names = requested.filter((n) => used.has(n));
  const layouts = options.perInstance.map((r) => {
    taskList(model, [r.task]);
    return groupLayout(model, r.groups ?? model.layout.groupNames);
  });
  const positions = options.perInstance.map((r, k) =>
    r.positions === undefined ? undefined : batchPositions(r.positions, batch.ids.length, k),
  );
  const read = (ids: ArrayLike<number>): Batch =>
    readBatch(
      dataset,
      ids,
      options.supervision === undefined ? {} : { supervision: options.supervision },
    );
  const supervised: Batch[] = [];
  let result: ReturnType<typeof sharedPassRows>;
  // Entries with an empty position list get `[D_k, 0]` without a copy of their own.
  const live = positions.flatMap((p, k) => (p === undefined || p.length > 0 ? [k] : []));
  try {
    const whole = live.some((k) => positions[k] === undefined) ? read(batch.ids) : undefined;
    if (whole !== undefined) supervised.push(whole);
    const requests = live.map((k) => {
      const rows = positions[k];
      let own = whole;
      if (rows !== undefined) {
        own = read(Array.from(rows, (i) => batch.ids[i]!));
        supervised.push(own);
      }
      return {
        task: options.perInstance[k]!.task,
        names: layouts[k]!.names,
        supervised: own!,
        ...(rows === undefined ? {} : { rows }),
      };
    });
    result = sharedPassRows(
      model,
      dataset,
      batch,
      { tasks, names, loss: options.objective.loss },
      requests,
    );
  } finally {
    supervised.forEach(disposeBatch);
  }
  const grads: NamedTensorMap = {};
  let k = 0;
  for (const n of requested) {
    grads[n] = used.has(n) ? result.grads[k++]! : tf.zeros(model.variables[n]!.shape, 'float32');
  }
  const columns = layouts.map((layout, j) => {
    const at = live.indexOf(j);
    if (at < 0) return tf.zeros<tf.Rank.R2>([layout.size, 0]);
    const rows = result.rows[at]!;
    const c = tf.transpose<Tensor2D>(rows);
    rows.dispose();
    return c;
  });
  return { value: result.value, grads, columns };
}

/** `positions` of `perInstance[k]` as an `Int32Array`, each an integer in [0, B). */
function batchPositions(positions: ArrayLike<number>, B: number, k: number): Int32Array {
  const out = new Int32Array(positions.length);
  for (let j = 0; j < positions.length; j++) {
    const i = positions[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= B) {
      throw new ConfigError(
        `perInstance[${k}].positions[${j}]`,
        i,
        `a batch position must be an integer in [0, ${B})`,
      );
    }
    out[j] = i;
  }
  return out;
}

/** Flattens a gradient map over the given groups into one float32 vector (layout order). */
export function gradientVector(
  model: MultiTaskModel,
  grads: NamedTensorMap,
  groups?: readonly string[],
): Tensor1D {
  return flatten(groupLayout(model, groups ?? model.layout.groupNames), grads);
}
