/**
 * Batches: tensors read from a dataset's arrays, owned by the caller.
 *
 * @module
 */
import { ConfigError, tf } from '@mtu/core-tensors';
import type { Rng, Tensor, Tensor1D, Tensor4D } from '@mtu/core-tensors';
import { locate } from './dataset.js';
import type { SupervisionMask } from './request.js';
import type { Dataset, Task } from './types.js';

/**
 * A batch of `B` instances. Every tensor is new and owned by the caller: release it with
 * {@link disposeBatch}.
 *
 * - `x`: float32 `[B, H, W, C]`;
 * - `labels[task]`: classification int32 `[B]`; segmentation int32 `[B, h, w]`; depth float32
 *   `[B, h, w, 1]`; normals float32 `[B, h, w, 3]`. A label that is absent or not supervised is
 *   replaced by the task's "no label" value (ignore index, depth 0, normal (0, 0, 0)), so a loss
 *   never reads it;
 * - `mask[task]`: float32 `[B]`, 1 where the instance is supervised for the task, else 0.
 */
export interface Batch {
  /** The instance ids, in batch order. */
  readonly ids: Int32Array;
  readonly x: Tensor4D;
  readonly labels: Readonly<Record<string, Tensor>>;
  readonly mask: Readonly<Record<string, Tensor1D>>;
}

/** Options of {@link readBatch}. */
export interface ReadBatchOptions {
  /**
   * Which train labels may be used (e.g. `requestViews(...).supervision`); default: label presence.
   * Test instances always use label presence.
   */
  readonly supervision?: SupervisionMask;
}

function blankLabel(task: Task, out: Int32Array | Float32Array, offset: number): void {
  out.fill(task.dtype === 'int32' ? task.ignoreIndex : 0, offset, offset + task.labelSize);
}

/**
 * Reads the instances `ids` (any mix of train and test ids, in the given order) into a {@link Batch}.
 *
 * @example
 * ```ts
 * const batch = readBatch(ds, [0, 1, 2], { supervision: views.supervision });
 * batch.x.shape; // [3, H, W, C]
 * disposeBatch(batch);
 * ```
 */
export function readBatch(
  dataset: Dataset,
  ids: ArrayLike<number>,
  options: ReadBatchOptions = {},
): Batch {
  const b = ids.length;
  if (b === 0) throw new ConfigError('ids', [], 'a batch needs at least one instance');
  const [h, w, c] = dataset.inputShape;
  const inSize = h * w * c;
  const x = new Float32Array(b * inSize);
  const labelBufs = dataset.tasks.map((t) =>
    t.dtype === 'int32' ? new Int32Array(b * t.labelSize) : new Float32Array(b * t.labelSize),
  );
  const maskBufs = dataset.tasks.map(() => new Float32Array(b));
  const idArray = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const id = ids[i]!;
    const { split, index } = locate(dataset, id);
    idArray[i] = id;
    x.set(split.inputs.subarray(index * inSize, (index + 1) * inSize), i * inSize);
    dataset.tasks.forEach((task, k) => {
      const present = split.present[task.name]![index] === 1;
      const supervised =
        present &&
        (split.name === 'test' ||
          options.supervision === undefined ||
          maskEntry(options.supervision, task.name, index) === 1);
      const out = labelBufs[k]!;
      if (supervised) {
        const src = split.labels[task.name]!;
        out.set(
          src.subarray(index * task.labelSize, (index + 1) * task.labelSize),
          i * task.labelSize,
        );
        maskBufs[k]![i] = 1;
      } else {
        blankLabel(task, out, i * task.labelSize);
      }
    });
  }
  const labels: Record<string, Tensor> = {};
  const mask: Record<string, Tensor1D> = {};
  dataset.tasks.forEach((task, k) => {
    labels[task.name] = tf.tensor(labelBufs[k]!, [b, ...task.labelShape], task.dtype);
    mask[task.name] = tf.tensor1d(maskBufs[k]!, 'float32');
  });
  return {
    ids: idArray,
    x: tf.tensor4d(x, [b, h, w, c], 'float32'),
    labels,
    mask,
  };
}

function maskEntry(mask: SupervisionMask, task: string, index: number): number {
  const m = mask[task];
  if (m === undefined) throw new ConfigError('supervision', task, 'has no entry for this task');
  return m[index]!;
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: Batch): void {
  batch.x.dispose();
  for (const t of Object.values(batch.labels)) t.dispose();
  for (const t of Object.values(batch.mask)) t.dispose();
}

/** Options of {@link batchIds} and {@link iterateBatches}. */
export interface BatchingOptions {
  /** Instances per batch (the last batch may be smaller unless `dropLast`). */
  readonly batchSize: number;
  /** A seeded stream to shuffle the order with; omit for the given order. */
  readonly shuffle?: Rng;
  /** Drop a last batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
}

/**
 * Splits `ids` into batches of ids (shuffled first when `shuffle` is given). Pure: the input is
 * not modified; the same stream state gives the same batches.
 *
 * @example
 * ```ts
 * batchIds([0, 1, 2, 3, 4], { batchSize: 2 }); // [[0, 1], [2, 3], [4]]
 * ```
 */
export function batchIds(ids: ArrayLike<number>, options: BatchingOptions): Int32Array[] {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ConfigError('batchSize', batchSize, 'must be a positive integer');
  }
  let order = Int32Array.from(ids);
  if (options.shuffle !== undefined) {
    const perm = options.shuffle.permutation(order.length);
    const src = order;
    order = new Int32Array(src.length);
    for (let i = 0; i < src.length; i++) order[i] = src[perm[i]!]!;
  }
  const out: Int32Array[] = [];
  for (let i = 0; i < order.length; i += batchSize) {
    const chunk = order.subarray(i, Math.min(i + batchSize, order.length));
    if (chunk.length < batchSize && options.dropLast === true) break;
    out.push(chunk.slice());
  }
  return out;
}

/**
 * Iterates over `ids` in batches, reading each batch only when it is reached (memory holds one
 * batch at a time). The caller disposes each yielded batch.
 *
 * @example
 * ```ts
 * for (const batch of iterateBatches(ds, views.retain, { batchSize: 16, shuffle: rng.fork('epoch-0') })) {
 *   try { train(batch); } finally { disposeBatch(batch); }
 * }
 * ```
 */
export function* iterateBatches(
  dataset: Dataset,
  ids: ArrayLike<number>,
  options: BatchingOptions & ReadBatchOptions,
): Generator<Batch, void, undefined> {
  for (const chunk of batchIds(ids, options)) yield readBatch(dataset, chunk, options);
}

/**
 * The train ids with at least one supervised task under `supervision`: the instances a model
 * trained on that supervision reads (in full-task unlearning, exactly the retain set).
 */
export function supervisedIds(dataset: Dataset, supervision: SupervisionMask): Int32Array {
  const out: number[] = [];
  for (let id = 0; id < dataset.train.size; id++) {
    if (
      dataset.tasks.some(
        (t) => maskEntry(supervision, t.name, id) === 1 && dataset.train.present[t.name]![id] === 1,
      )
    ) {
      out.push(id);
    }
  }
  return Int32Array.from(out);
}
