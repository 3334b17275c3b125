/**
 * A tiny synthetic dataset with one task of every kind, for tests of the packages above datasets.
 *
 * @module
 */
import { createRng } from '@mtu/core-tensors';
import { createDataset } from '../dataset.js';
import type { Dataset, SplitArrays, TaskKind, TaskSpec } from '../types.js';

/** Options of {@link createToyDataset}. */
export interface ToyDatasetOptions {
  /** Seed of every draw (default 0). */
  readonly seed?: number;
  /** Train instances (default 12). */
  readonly trainSize?: number;
  /** Test instances (default 6). */
  readonly testSize?: number;
  /** Input height and width (default 8). */
  readonly size?: number;
  /** Task kinds to include, one task each named after its kind (default: all four). */
  readonly kinds?: readonly TaskKind[];
  /** Fraction of pixels marked invalid in dense labels (default 0.1). */
  readonly invalidFraction?: number;
}

/**
 * A deterministic toy dataset: each image is a smooth random field plus a bright square; the
 * classification label is the square's quadrant (4 classes), segmentation marks the square (class
 * 1) against 2 background classes split by the image's diagonal, depth is a tilted plane with the
 * square raised, normals are the plane's normal (the square faces the camera). A fraction of the
 * dense pixels are invalid (ignore index, depth 0, zero normal). Not a benchmark: for unit tests.
 *
 * Tensor shapes: inputs `[size, size, 3]`; segmentation `[size, size]` (3 classes); depth
 * `[size, size, 1]`; normals `[size, size, 3]`; classification 4 classes.
 *
 * @example
 * ```ts
 * const ds = createToyDataset({ seed: 1, kinds: ['segmentation', 'depth'] });
 * ds.tasks.map((t) => t.name); // ['segmentation', 'depth']
 * ```
 */
export function createToyDataset(options: ToyDatasetOptions = {}): Dataset {
  const seed = options.seed ?? 0;
  const s = options.size ?? 8;
  const kinds = options.kinds ?? ['classification', 'segmentation', 'depth', 'normals'];
  const invalid = options.invalidFraction ?? 0.1;
  const tasks: TaskSpec[] = kinds.map((kind) =>
    kind === 'classification'
      ? { name: kind, kind, classes: 4 }
      : kind === 'segmentation'
        ? { name: kind, kind, classes: 3 }
        : { name: kind, kind },
  );
  const make = (n: number, label: string): SplitArrays => {
    const rng = createRng(seed).fork(label);
    const inputs = new Float32Array(n * s * s * 3);
    const labels: Record<string, Int32Array | Float32Array> = {};
    for (const k of kinds) {
      const per =
        k === 'classification'
          ? 1
          : k === 'segmentation'
            ? s * s
            : k === 'depth'
              ? s * s
              : s * s * 3;
      labels[k] =
        k === 'classification' || k === 'segmentation'
          ? new Int32Array(n * per)
          : new Float32Array(n * per);
    }
    const half = Math.max(1, Math.floor(s / 2));
    for (let i = 0; i < n; i++) {
      const side = Math.max(1, Math.floor(s / 3));
      const top = rng.int(0, s - side + 1);
      const left = rng.int(0, s - side + 1);
      const quadrant = (top + side / 2 >= half ? 2 : 0) + (left + side / 2 >= half ? 1 : 0);
      const tiltX = rng.uniform() * 0.4 - 0.2;
      const tiltY = rng.uniform() * 0.4 - 0.2;
      const base = 2 + rng.uniform() * 2;
      const nz = 1 / Math.hypot(tiltX, tiltY, 1);
      const a = [rng.uniform(), rng.uniform(), rng.uniform()];
      if (labels['classification']) labels['classification'][i] = quadrant;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const p = (i * s + y) * s + x;
          const inSquare = y >= top && y < top + side && x >= left && x < left + side;
          const bad = rng.uniform() < invalid;
          for (let c = 0; c < 3; c++) {
            const field =
              0.3 * Math.sin((x + 1) * a[c]! + (y + 1) * (1 - a[c]!)) + 0.1 * rng.normal();
            inputs[p * 3 + c] = inSquare ? 0.9 + 0.05 * rng.normal() : 0.3 + field;
          }
          if (labels['segmentation'])
            labels['segmentation'][p] = bad ? -1 : inSquare ? 1 : x > y ? 0 : 2;
          if (labels['depth']) {
            labels['depth'][p] = bad
              ? 0
              : base + (tiltX * (x - s / 2)) / s + (tiltY * (y - s / 2)) / s - (inSquare ? 0.5 : 0);
          }
          if (labels['normals']) {
            const nm = labels['normals'];
            if (bad) nm.fill(0, p * 3, p * 3 + 3);
            else if (inSquare) nm.set([0, 0, -1], p * 3);
            else nm.set([-tiltX * nz, -tiltY * nz, -nz], p * 3);
          }
        }
      }
    }
    return { inputs, labels };
  };
  return createDataset({
    id: 'toy',
    description: 'tiny synthetic dataset for tests',
    options: {
      seed,
      trainSize: options.trainSize ?? 12,
      testSize: options.testSize ?? 6,
      size: s,
      kinds: [...kinds],
      invalidFraction: invalid,
    },
    tasks,
    inputShape: [s, s, 3],
    train: make(options.trainSize ?? 12, 'train'),
    test: make(options.testSize ?? 6, 'test'),
  });
}
