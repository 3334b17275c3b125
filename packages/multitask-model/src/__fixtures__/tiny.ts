/**
 * A tiny model on the toy dataset for gradient tests, with every parameter moved off zero.
 */
import { tf } from '@mtu/core-tensors';
import type { Tensor1D } from '@mtu/core-tensors';
import type { Dataset, TaskKind } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec } from '../index.js';
import type { MultiTaskModel } from '../index.js';

/** Every task kind, in the toy dataset's order. */
export const KINDS: TaskKind[] = ['classification', 'segmentation', 'depth', 'normals'];

/** Sizes and seeds of {@link tinyModel}. */
export interface TinyOptions {
  readonly trainSize: number;
  readonly size: number;
  readonly stages: number;
  readonly seed: number;
  /** Seed of the noise added to every parameter. */
  readonly noiseSeed: number;
}

/**
 * The toy dataset (2 test instances, 20% invalid labels) and a width-3 model on it. Zero-initialised
 * biases put ReLUs fed by dead units exactly at their kink, where a central difference sees slope ½
 * and the gradient 0: every parameter is moved off it with small noise.
 */
export function tinyModel(
  kinds: readonly TaskKind[],
  o: TinyOptions,
): { ds: Dataset; model: MultiTaskModel } {
  const ds = createToyDataset({
    trainSize: o.trainSize,
    testSize: 2,
    size: o.size,
    kinds,
    invalidFraction: 0.2,
  });
  const model = createModel(
    defaultModelSpec(ds, { backbone: { width: 3, stages: o.stages }, hidden: 4 }),
    { seed: o.seed },
  );
  tf.tidy(() => {
    const w = model.flatWeights();
    model.setFlatWeights(
      tf.add<Tensor1D>(w, tf.randomNormal(w.shape, 0, 0.05, 'float32', o.noiseSeed)),
    );
  });
  return { ds, model };
}
