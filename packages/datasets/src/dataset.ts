/**
 * Building and querying {@link Dataset}s.
 *
 * @module
 */
import { ConfigError, ShapeError } from '@mtu/core-tensors';
import type { Dataset, LabelArray, Split, SplitArrays, Task, TaskKind, TaskSpec } from './types.js';
import { TASK_KINDS } from './types.js';

/** Everything {@link createDataset} needs. */
export interface DatasetInit {
  readonly id: string;
  readonly description: string;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly tasks: readonly TaskSpec[];
  /** `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number];
  readonly train: SplitArrays;
  readonly test: SplitArrays;
}

const TASK_NAME = /^[A-Za-z0-9_-]+$/;

function positiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(field, value, 'must be a positive integer');
  }
  return value;
}

/** Resolves a {@link TaskSpec} against the input size. */
export function resolveTask(spec: TaskSpec, inputShape: readonly [number, number, number]): Task {
  const where = `task '${spec.name}'`;
  if (typeof spec.name !== 'string' || !TASK_NAME.test(spec.name)) {
    throw new ConfigError(
      'task.name',
      spec.name,
      'must be non-empty letters, digits, "_" or "-" only',
    );
  }
  if (!TASK_KINDS.includes(spec.kind)) {
    throw new ConfigError(`${where}.kind`, spec.kind, `must be one of ${TASK_KINDS.join(', ')}`);
  }
  const kind: TaskKind = spec.kind;
  const categorical = kind === 'classification' || kind === 'segmentation';
  let classes = 0;
  if (categorical) {
    classes = positiveInt(`${where}.classes`, spec.classes);
    if (classes < 2) throw new ConfigError(`${where}.classes`, classes, 'must be at least 2');
  } else if (spec.classes !== undefined) {
    throw new ConfigError(`${where}.classes`, spec.classes, `a ${kind} task has no classes`);
  }
  const ignoreIndex = spec.ignoreIndex ?? -1;
  if (!Number.isInteger(ignoreIndex) || (ignoreIndex >= 0 && ignoreIndex < classes)) {
    throw new ConfigError(
      `${where}.ignoreIndex`,
      ignoreIndex,
      `must be an integer outside [0, ${classes})`,
    );
  }
  if (spec.classNames !== undefined && spec.classNames.length !== classes) {
    throw new ConfigError(
      `${where}.classNames`,
      spec.classNames.length,
      `must name all ${classes} classes`,
    );
  }
  let labelShape: number[];
  if (kind === 'classification') {
    if (spec.size !== undefined) {
      throw new ConfigError(`${where}.size`, spec.size, 'a classification task has no size');
    }
    labelShape = [];
  } else {
    const [h, w] = spec.size ?? [inputShape[0], inputShape[1]];
    positiveInt(`${where}.size[0]`, h);
    positiveInt(`${where}.size[1]`, w);
    labelShape = kind === 'segmentation' ? [h, w] : [h, w, kind === 'depth' ? 1 : 3];
  }
  return Object.freeze({
    name: spec.name,
    kind,
    classes,
    ignoreIndex,
    labelShape: Object.freeze(labelShape),
    labelSize: labelShape.reduce((a, b) => a * b, 1),
    dtype: categorical ? 'int32' : 'float32',
    classNames: spec.classNames === undefined ? undefined : Object.freeze([...spec.classNames]),
  });
}

function checkLabels(task: Task, labels: LabelArray, n: number, where: string): void {
  const expectedType = task.dtype === 'int32' ? Int32Array : Float32Array;
  if (!(labels instanceof expectedType)) {
    throw new ConfigError(
      `${where}.labels.${task.name}`,
      labels?.constructor?.name,
      `must be a ${expectedType.name} for a ${task.kind} task`,
    );
  }
  if (labels.length !== n * task.labelSize) {
    throw new ShapeError(
      `${where}.labels.${task.name}: expected ${n} × ${task.labelSize} = ${n * task.labelSize} values, got ${labels.length}`,
      { expected: [n, ...task.labelShape], actual: [labels.length] },
    );
  }
  if (task.dtype === 'int32') {
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      if (v !== task.ignoreIndex && (v < 0 || v >= task.classes)) {
        throw new ConfigError(
          `${where}.labels.${task.name}[${i}]`,
          v,
          `must be in [0, ${task.classes}) or the ignore index ${task.ignoreIndex}`,
        );
      }
    }
  } else {
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      if (!Number.isFinite(v) || (task.kind === 'depth' && v < 0)) {
        throw new ConfigError(
          `${where}.labels.${task.name}[${i}]`,
          v,
          task.kind === 'depth' ? 'depth must be finite and ≥ 0' : 'must be finite',
        );
      }
    }
  }
}

function makeSplit(
  name: 'train' | 'test',
  first: number,
  arrays: SplitArrays,
  tasks: readonly Task[],
  inputShape: readonly [number, number, number],
): Split {
  const where = `${name}`;
  const inputSize = inputShape[0] * inputShape[1] * inputShape[2];
  if (!(arrays.inputs instanceof Float32Array)) {
    throw new ConfigError(`${where}.inputs`, arrays.inputs, 'must be a Float32Array');
  }
  if (arrays.inputs.length % inputSize !== 0) {
    throw new ShapeError(
      `${where}.inputs: length ${arrays.inputs.length} is not a multiple of H·W·C = ${inputSize}`,
      { expected: [-1, ...inputShape], actual: [arrays.inputs.length] },
    );
  }
  const n = arrays.inputs.length / inputSize;
  if (n < 1) throw new ConfigError(`${where}.inputs`, 0, 'a split needs at least one instance');
  const known = new Set(tasks.map((t) => t.name));
  for (const key of Object.keys(arrays.labels)) {
    if (!known.has(key)) throw new ConfigError(`${where}.labels`, key, 'is not a task');
  }
  const present: Record<string, Uint8Array> = {};
  for (const task of tasks) {
    const labels = arrays.labels[task.name];
    if (labels === undefined) {
      throw new ConfigError(`${where}.labels.${task.name}`, undefined, 'is missing');
    }
    checkLabels(task, labels, n, where);
    const p = arrays.present?.[task.name];
    if (p !== undefined && (!(p instanceof Uint8Array) || p.length !== n)) {
      throw new ShapeError(`${where}.present.${task.name}: expected ${n} bytes`, {
        expected: [n],
        actual: [p.length],
      });
    }
    present[task.name] = p ?? new Uint8Array(n).fill(1);
  }
  const ids = new Int32Array(n);
  for (let i = 0; i < n; i++) ids[i] = first + i;
  return Object.freeze({
    name,
    size: n,
    ids,
    first,
    inputs: arrays.inputs,
    labels: Object.freeze({ ...arrays.labels }),
    present: Object.freeze(present),
  });
}

/**
 * Validates a source's arrays and builds a {@link Dataset}: tasks are resolved, every label array is
 * checked for its length, dtype and value range (a bad value names the split, task and position),
 * and ids are assigned (train `0 … N−1`, test `N …`).
 *
 * @example
 * ```ts
 * const ds = createDataset({
 *   id: 'toy', description: 'two instances', inputShape: [2, 2, 1],
 *   tasks: [{ name: 'cls', kind: 'classification', classes: 2 }],
 *   train: { inputs: new Float32Array(8), labels: { cls: Int32Array.from([0, 1]) } },
 *   test: { inputs: new Float32Array(4), labels: { cls: Int32Array.from([1]) } },
 * });
 * ds.test.ids; // Int32Array [2]
 * ```
 */
export function createDataset(init: DatasetInit): Dataset {
  const inputShape = init.inputShape;
  if (inputShape.length !== 3) {
    throw new ConfigError('inputShape', inputShape, 'must be [H, W, C]');
  }
  inputShape.forEach((d, i) => positiveInt(`inputShape[${i}]`, d));
  if (init.tasks.length === 0) throw new ConfigError('tasks', [], 'a dataset needs a task');
  const tasks = init.tasks.map((t) => resolveTask(t, inputShape));
  const names = new Set<string>();
  for (const t of tasks) {
    if (names.has(t.name)) throw new ConfigError('tasks', t.name, 'duplicate task name');
    names.add(t.name);
  }
  const shape = Object.freeze([...inputShape]) as unknown as readonly [number, number, number];
  const train = makeSplit('train', 0, init.train, tasks, shape);
  const test = makeSplit('test', train.size, init.test, tasks, shape);
  return Object.freeze({
    id: init.id,
    description: init.description,
    options: Object.freeze({ ...(init.options ?? {}) }),
    tasks: Object.freeze(tasks),
    inputShape: shape,
    train,
    test,
  });
}

/**
 * The task named `name`, or a {@link ConfigError} listing the dataset's tasks.
 *
 * @example
 * ```ts
 * getTask(ds, 'depth').labelShape; // [h, w, 1]
 * ```
 */
export function getTask(dataset: Dataset, name: string): Task {
  const task = dataset.tasks.find((t) => t.name === name);
  if (task === undefined) {
    throw new ConfigError(
      'task',
      name,
      `not a task of dataset '${dataset.id}' (tasks: ${taskNames(dataset).join(', ')})`,
    );
  }
  return task;
}

/** The task names of a dataset, in order. */
export function taskNames(dataset: Dataset): string[] {
  return dataset.tasks.map((t) => t.name);
}

/**
 * The split holding instance `id` and the id's position in it, or a {@link ConfigError} when the
 * id is not an instance of the dataset.
 */
export function locate(dataset: Dataset, id: number): { split: Split; index: number } {
  if (Number.isInteger(id)) {
    if (id >= 0 && id < dataset.train.size) return { split: dataset.train, index: id };
    const t = id - dataset.test.first;
    if (t >= 0 && t < dataset.test.size) return { split: dataset.test, index: t };
  }
  throw new ConfigError(
    'instance id',
    id,
    `not an instance of '${dataset.id}' (train ids 0…${dataset.train.size - 1}, test ids ${dataset.test.first}…${dataset.test.first + dataset.test.size - 1})`,
  );
}

/** Number of scalars of one input instance, `H · W · C`. */
export function inputSize(dataset: Dataset): number {
  const [h, w, c] = dataset.inputShape;
  return h * w * c;
}
