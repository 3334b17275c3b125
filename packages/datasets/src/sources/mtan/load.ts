/**
 * The shared loader of the MTAN pre-processed layout (NYUv2, Cityscapes):
 * `{root}/{train,val}/{folder}/{i}.npy`, indices consecutive from 0 without zero padding; `val` is
 * the test split. Every file is checked (shape, dtype family, values) and errors name the file.
 *
 * @module
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '@mtu/core-tensors';
import { createDataset } from '../../dataset.js';
import type { NpyArray } from '../../npy.js';
import { readNpy, toFloat32, toInt32 } from '../../npy.js';
import type { LoadContext } from '../../registry.js';
import { resizeBilinear, resizeNearest, resizeNormals } from '../../resize.js';
import type { Dataset, LabelArray, SplitArrays, TaskSpec } from '../../types.js';

/** What one folder of a split holds. */
export interface MtanPart {
  /** Candidate folder names, tried in order; the first that exists is read. */
  readonly folders: readonly string[];
  /** `'image'` is the input; the others are labels of the task named `task`. */
  readonly kind: 'image' | 'segmentation' | 'depth' | 'normals';
  /** The task this folder labels (not for the image). */
  readonly task?: string;
  /** Number of classes (segmentation). */
  readonly classes?: number;
  /** What the files hold, for error messages, e.g. `'RGB image, float'`. */
  readonly what: string;
}

/** A dataset in the MTAN layout. */
export interface MtanLayout {
  readonly id: string;
  /** A readable name, e.g. `'NYUv2'`. */
  readonly title: string;
  /** Native `[height, width]` of every file. */
  readonly native: readonly [number, number];
  /** The image part first, then one part per task. */
  readonly parts: readonly MtanPart[];
  readonly tasks: readonly TaskSpec[];
}

/** The options every MTAN loader shares. */
export interface MtanLoadOptions {
  readonly root: string;
  readonly limitTrain?: number | undefined;
  readonly limitTest?: number | undefined;
  readonly height: number;
  readonly width: number;
}

/** The ignore index of MTAN labels. */
const IGNORE = -1;
/** Files read at the same time. */
const CONCURRENCY = 4;

function fmt(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

function nativeShape(layout: MtanLayout, part: MtanPart): number[] {
  const [h, w] = layout.native;
  switch (part.kind) {
    case 'image':
    case 'normals':
      return [h, w, 3];
    case 'depth':
      return [h, w, 1];
    case 'segmentation':
      return [h, w];
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The number of `{i}.npy` files in `dir`, after checking that they are exactly `0 … n−1`. */
async function countInstances(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new CheckpointError(dir, 'cannot list the folder', { cause: error });
  }
  const indices: number[] = [];
  for (const name of names) {
    if (name.startsWith('.') || !name.endsWith('.npy')) continue;
    const m = /^(0|[1-9]\d*)\.npy$/.exec(name);
    if (m === null) {
      throw new CheckpointError(
        join(dir, name),
        'unexpected file name: files must be named {index}.npy with indices 0, 1, 2, … (no zero padding)',
      );
    }
    indices.push(Number(m[1]));
  }
  if (indices.length === 0) throw new CheckpointError(dir, 'the folder holds no {index}.npy files');
  indices.sort((a, b) => a - b);
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] !== i) {
      throw new CheckpointError(
        join(dir, `${i}.npy`),
        `missing: the folder holds ${indices.length} files up to ${indices.at(-1)}.npy, but indices must run 0 … n−1 without gaps`,
      );
    }
  }
  return indices.length;
}

interface SplitPlan {
  readonly name: 'train' | 'test';
  readonly dir: string;
  /** The folder of each part. */
  readonly dirs: readonly string[];
  /** Instances on disk. */
  readonly available: number;
  /** Instances to read. */
  readonly count: number;
}

async function planSplit(
  layout: MtanLayout,
  root: string,
  name: 'train' | 'test',
  limit: number | undefined,
): Promise<SplitPlan> {
  const candidates = name === 'train' ? ['train'] : ['val', 'test'];
  let dir: string | undefined;
  for (const c of candidates) {
    if (await isDirectory(join(root, c))) {
      dir = join(root, c);
      break;
    }
  }
  if (dir === undefined) {
    throw new CheckpointError(
      join(root, candidates[0]!),
      `missing ${layout.title} ${name} split folder (expected ${candidates.join(' or ')}/ under the root)`,
    );
  }
  const dirs: string[] = [];
  const counts: number[] = [];
  for (const part of layout.parts) {
    let found: string | undefined;
    for (const f of part.folders) {
      if (await isDirectory(join(dir, f))) {
        found = join(dir, f);
        break;
      }
    }
    if (found === undefined) {
      throw new CheckpointError(
        join(dir, part.folders[0]!),
        `missing folder (expected ${part.folders.map((f) => `${f}/`).join(' or ')} holding {index}.npy files: ${part.what})`,
      );
    }
    dirs.push(found);
    counts.push(await countInstances(found));
  }
  const n = counts[0]!;
  for (let p = 1; p < dirs.length; p++) {
    const m = counts[p]!;
    if (m < n) {
      throw new CheckpointError(
        join(dirs[p]!, `${m}.npy`),
        `missing: ${dirs[0]} holds ${n} instances but this folder only ${m}`,
      );
    }
    if (m > n) {
      throw new CheckpointError(
        join(dirs[p]!, `${n}.npy`),
        `unexpected: ${dirs[0]} holds ${n} instances (0 … ${n - 1}) but this folder ${m}`,
      );
    }
  }
  const field = name === 'train' ? 'limitTrain' : 'limitTest';
  if (limit !== undefined && limit > n) {
    throw new ConfigError(
      `${layout.id}.${field}`,
      limit,
      `exceeds the ${n} ${name} instances in ${dir}`,
    );
  }
  return { name, dir, dirs, available: n, count: limit ?? n };
}

function family(arr: NpyArray): 'float' | 'int' | 'bool' {
  if (arr.dtype.startsWith('float')) return 'float';
  return arr.dtype === 'bool' ? 'bool' : 'int';
}

function position(shape: readonly number[], i: number): string {
  const idx: number[] = [];
  let r = i;
  for (let k = shape.length - 1; k >= 0; k--) {
    idx.unshift(r % shape[k]!);
    r = Math.floor(r / shape[k]!);
  }
  return `[${idx.join(', ')}]`;
}

/** Reads, checks, converts and resizes one file of one part. */
async function readPart(
  layout: MtanLayout,
  part: MtanPart,
  path: string,
  size: readonly [number, number],
): Promise<LabelArray> {
  const arr = await readNpy(path);
  const expected = nativeShape(layout, part);
  const wantFloat = part.kind !== 'segmentation';
  const fam = family(arr);
  const okType = wantFloat ? fam === 'float' : fam !== 'bool';
  if (
    !okType ||
    arr.shape.length !== expected.length ||
    arr.shape.some((d, k) => d !== expected[k])
  ) {
    throw new CheckpointError(
      path,
      `${arr.dtype} array of shape ${fmt(arr.shape)}, expected ${wantFloat ? 'a float' : 'an integer or integer-valued float'} array of shape ${fmt(expected)} (${layout.title} ${part.what})`,
    );
  }
  const [h, w] = layout.native;
  const same = size[0] === h && size[1] === w;
  if (part.kind === 'segmentation') {
    const labels = toInt32(arr);
    const classes = part.classes!;
    for (let i = 0; i < labels.length; i++) {
      const v = labels[i]!;
      if (v !== IGNORE && (v < 0 || v >= classes)) {
        throw new CheckpointError(
          path,
          `label ${v} at ${position(arr.shape, i)} is outside [0, ${classes}) and not the ignore index ${IGNORE} (${layout.title} has ${classes} classes)`,
        );
      }
    }
    return same ? labels : resizeNearest(labels, [h, w, 1], size);
  }
  const values = toFloat32(arr);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v) || (part.kind === 'depth' && v < 0)) {
      throw new CheckpointError(
        path,
        `value ${v} at ${position(arr.shape, i)} is ${part.kind === 'depth' ? 'not a finite depth ≥ 0 (0 marks invalid pixels)' : 'not finite'}`,
      );
    }
  }
  if (same) return values;
  switch (part.kind) {
    case 'image':
      return resizeBilinear(values, [h, w, 3], size);
    case 'normals':
      return resizeNormals(values, [h, w, 3], size);
    case 'depth':
      return resizeNearest(values, [h, w, 1], size);
  }
}

async function readSplit(
  layout: MtanLayout,
  plan: SplitPlan,
  size: readonly [number, number],
  context: LoadContext,
): Promise<SplitArrays> {
  const pixels = size[0] * size[1];
  const per = layout.parts.map((p) =>
    p.kind === 'image' || p.kind === 'normals' ? pixels * 3 : pixels,
  );
  const outputs: LabelArray[] = layout.parts.map((p, k) =>
    p.kind === 'segmentation'
      ? new Int32Array(plan.count * per[k]!)
      : new Float32Array(plan.count * per[k]!),
  );
  const phase = `read ${plan.name}`;
  let next = 0;
  let done = 0;
  const failures: { index: number; error: unknown }[] = [];
  const worker = async (): Promise<void> => {
    while (next < plan.count && failures.length === 0) {
      const i = next++;
      try {
        context.signal?.throwIfAborted();
        for (let k = 0; k < layout.parts.length; k++) {
          const values = await readPart(
            layout,
            layout.parts[k]!,
            join(plan.dirs[k]!, `${i}.npy`),
            size,
          );
          outputs[k]!.set(values, i * per[k]!);
        }
        done += 1;
        context.onProgress?.({ dataset: layout.id, phase, done, total: plan.count });
      } catch (error) {
        failures.push({ index: i, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, plan.count) }, worker));
  if (failures.length > 0) {
    context.signal?.throwIfAborted();
    failures.sort((a, b) => a.index - b.index);
    throw failures[0]!.error;
  }
  const labels: Record<string, LabelArray> = {};
  layout.parts.forEach((p, k) => {
    if (p.task !== undefined) labels[p.task] = outputs[k]!;
  });
  return { inputs: outputs[0] as Float32Array, labels };
}

/**
 * Loads a dataset in the MTAN layout: plans both splits (every folder listed and checked for
 * `0 … n−1`), then reads the first `limit` instances of each, checking every file. `options` is
 * the loader's whole resolved options object (recorded as the dataset's options).
 */
export async function loadMtan(
  layout: MtanLayout,
  options: MtanLoadOptions,
  context: LoadContext = {},
): Promise<Dataset> {
  context.signal?.throwIfAborted();
  const root = options.root;
  if (!(await isDirectory(root))) {
    throw new CheckpointError(
      root,
      `${layout.title} root folder not found (expected train/ and val/ in the MTAN pre-processed layout)`,
    );
  }
  const size: readonly [number, number] = [options.height, options.width];
  for (const [field, v] of [
    ['height', options.height],
    ['width', options.width],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(`${layout.id}.${field}`, v, 'must be a positive integer');
    }
  }
  for (const [field, v] of [
    ['limitTrain', options.limitTrain],
    ['limitTest', options.limitTest],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new ConfigError(`${layout.id}.${field}`, v, 'must be a positive integer');
    }
  }
  const trainPlan = await planSplit(layout, root, 'train', options.limitTrain);
  const testPlan = await planSplit(layout, root, 'test', options.limitTest);
  const train = await readSplit(layout, trainPlan, size, context);
  const test = await readSplit(layout, testPlan, size, context);
  const folders = trainPlan.dirs.map((d) => d.slice(trainPlan.dir.length + 1));
  return createDataset({
    id: layout.id,
    description: `${layout.title} (MTAN pre-processed, ${folders.join('/')}) from ${root}: ${trainPlan.count} of ${trainPlan.available} train, ${testPlan.count} of ${testPlan.available} test instances at ${size[0]}×${size[1]}`,
    // the resolved options, JSON-serialisable (absent limits left out)
    options: Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    tasks: layout.tasks,
    inputShape: [size[0], size[1], 3],
    train,
    test,
  });
}
