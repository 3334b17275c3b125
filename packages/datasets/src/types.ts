/**
 * The dataset contract shared by every MTU package.
 *
 * A {@link Dataset} is held in memory as flat typed arrays, one per split and per task, in
 * channels-last (NHWC) order. Instance ids are integers, unique across the whole dataset: the
 * `train` split holds ids `0 … N_train − 1` (so a train id is also its position), the `test` split
 * ids `N_train … N_train + N_test − 1`. Forget requests name train ids.
 *
 * @module
 */

/** What a task predicts. */
export type TaskKind = 'classification' | 'segmentation' | 'depth' | 'normals';

/** Every task kind, in a stable order. */
export const TASK_KINDS: readonly TaskKind[] = [
  'classification',
  'segmentation',
  'depth',
  'normals',
];

/**
 * A task as a source declares it (see {@link Task} for the resolved form).
 *
 * Label conventions, one per kind (the same as the MTAN / LibMTL pre-processed files):
 * - `classification`: one int32 class per instance in `[0, classes)`; `ignoreIndex` = no label;
 * - `segmentation`: an int32 class per pixel, `[h, w]`; `ignoreIndex` marks invalid pixels;
 * - `depth`: one float32 per pixel, `[h, w, 1]`; `0` marks invalid pixels (values must be ≥ 0);
 * - `normals`: a unit float32 3-vector per pixel, `[h, w, 3]`; `(0, 0, 0)` marks invalid pixels.
 */
export interface TaskSpec {
  /** Unique task name, e.g. `'segmentation'`, `'left'`. Letters, digits, `_` and `-`. */
  readonly name: string;
  readonly kind: TaskKind;
  /** Number of classes (classification and segmentation only; ≥ 2). */
  readonly classes?: number;
  /** The label meaning "no label here" for classification and segmentation (default −1). */
  readonly ignoreIndex?: number;
  /**
   * The label's spatial size `[h, w]` for dense tasks (default: the input's `[H, W]`).
   * Classification tasks have no spatial size.
   */
  readonly size?: readonly [number, number];
  /** Human-readable class names (optional; length = `classes`). */
  readonly classNames?: readonly string[];
}

/** A resolved task: every field of {@link TaskSpec} filled in. */
export interface Task {
  readonly name: string;
  readonly kind: TaskKind;
  /** Number of classes; 0 for depth and normals. */
  readonly classes: number;
  /** The "no label" class value (classification / segmentation); −1 by default. */
  readonly ignoreIndex: number;
  /** The per-instance label shape: `[]` (classification), `[h, w]`, `[h, w, 1]` or `[h, w, 3]`. */
  readonly labelShape: readonly number[];
  /** Number of scalars of one instance's label (product of `labelShape`, 1 for classification). */
  readonly labelSize: number;
  /** Whether labels are int32 (classification, segmentation) or float32 (depth, normals). */
  readonly dtype: 'int32' | 'float32';
  /** Class names, when the source provides them. */
  readonly classNames: readonly string[] | undefined;
}

/** Label storage of one task over one split: `N × labelSize` values, instance-major. */
export type LabelArray = Int32Array | Float32Array;

/**
 * The raw arrays of one split, as a source produces them.
 *
 * Shapes (N instances, input `[H, W, C]`):
 * - `inputs`: float32, `N·H·W·C`, NHWC;
 * - `labels[task]`: `N · task.labelSize` values (see {@link TaskSpec} for the conventions);
 * - `present[task]` (optional): `N` bytes, 1 where the instance has a label for the task
 *   (default: all present).
 */
export interface SplitArrays {
  readonly inputs: Float32Array;
  readonly labels: Readonly<Record<string, LabelArray>>;
  readonly present?: Readonly<Record<string, Uint8Array>>;
}

/** One split of a {@link Dataset}. */
export interface Split {
  readonly name: 'train' | 'test';
  /** Number of instances. */
  readonly size: number;
  /** The split's instance ids, ascending and contiguous: `first … first + size − 1`. */
  readonly ids: Int32Array;
  /** The first id of the split (0 for train, `N_train` for test). */
  readonly first: number;
  /** Inputs, float32 NHWC, `size · H · W · C` values. */
  readonly inputs: Float32Array;
  /** Labels per task name, `size · labelSize` values each. */
  readonly labels: Readonly<Record<string, LabelArray>>;
  /** Label presence per task name: `size` bytes, 1 = the instance has a label for the task. */
  readonly present: Readonly<Record<string, Uint8Array>>;
}

/** A multi-task dataset held in memory. Build with `createDataset`. */
export interface Dataset {
  /** The dataset id, e.g. `'scenes'`. */
  readonly id: string;
  /** A one-line description. */
  readonly description: string;
  /** The resolved options it was loaded with (JSON-serialisable; part of its provenance). */
  readonly options: Readonly<Record<string, unknown>>;
  /** The tasks, in a fixed order. */
  readonly tasks: readonly Task[];
  /** The input shape `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number];
  readonly train: Split;
  readonly test: Split;
}
