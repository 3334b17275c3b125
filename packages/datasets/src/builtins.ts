/**
 * The dataset sources of this package, for explicit registration.
 *
 * @module
 */
import type { DatasetRegistry } from './registry.js';
import { cityscapesDataset, nyuv2Dataset } from './sources/mtan/index.js';
import { multiMnistDataset } from './sources/multi-mnist/index.js';
import { scenesDataset } from './sources/scenes/index.js';

/** Ids of the built-in sources, in registration order. */
export const BUILTIN_DATASETS: readonly string[] = ['scenes', 'multi-mnist', 'nyuv2', 'cityscapes'];

/**
 * Registers `scenes`, `multi-mnist`, `nyuv2` and `cityscapes` in `registry` (nothing is registered
 * on import).
 *
 * @example
 * ```ts
 * const registry = createDatasetRegistry();
 * registerBuiltinDatasets(registry);
 * registry.list().map((d) => d.id); // ['scenes', 'multi-mnist', 'nyuv2', 'cityscapes']
 * ```
 */
export function registerBuiltinDatasets(registry: DatasetRegistry): void {
  registry.register(scenesDataset);
  registry.register(multiMnistDataset);
  registry.register(nyuv2Dataset);
  registry.register(cityscapesDataset);
}
