/**
 * Cityscapes in the MTAN pre-processed layout (128×256; also LibMTL's `label/` folder name).
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import { z } from 'zod';
import type { DatasetDescriptor, LoadContext } from '../../registry.js';
import type { Dataset } from '../../types.js';
import type { MtanLayout } from './load.js';
import { loadMtan } from './load.js';

/** The label sets of the MTAN Cityscapes files: 7 (the multi-task benchmark), 19 or 2 classes. */
export type CityscapesClasses = 7 | 19 | 2;

/** Options of {@link cityscapesDataset} (resolved: defaults filled in). */
export interface CityscapesOptions {
  /** The folder holding `train/` and `val/` (required). */
  readonly root: string;
  /** Read only the first k train instances (default: all 2975). */
  readonly limitTrain?: number | undefined;
  /** Read only the first k test (`val/`) instances (default: all 500). */
  readonly limitTest?: number | undefined;
  /** Height to resize to on load (default 128, the native height: no resize). */
  readonly height: number;
  /** Width to resize to on load (default 256, the native width: no resize). */
  readonly width: number;
  /**
   * The label set (default 7): 7 reads `label_7/` (or LibMTL's `label/` when `label_7/` is
   * absent), 19 reads `label_19/`, 2 reads `label_2/`.
   */
  readonly classes: CityscapesClasses;
}

const NATIVE: readonly [number, number] = [128, 256];

const schema: z.ZodType<CityscapesOptions, Record<string, unknown>> = z
  .object({
    root: z
      .string()
      .min(1)
      .describe(
        'Folder of the MTAN pre-processed Cityscapes: {train,val}/{image,label_7 (or label),depth}/{i}.npy',
      ),
    limitTrain: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Read only the first k train instances (default: all 2975)'),
    limitTest: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Read only the first k test (val/) instances (default: all 500)'),
    height: z
      .number()
      .int()
      .positive()
      .default(NATIVE[0])
      .describe('Height to resize to on load (images bilinear, labels and depth nearest)'),
    width: z
      .number()
      .int()
      .positive()
      .default(NATIVE[1])
      .describe('Width to resize to on load (see height)'),
    classes: z
      .literal([7, 19, 2])
      .default(7)
      .describe(
        'Label set: 7 (label_7/, or label/ as LibMTL names it), 19 (label_19/) or 2 (label_2/)',
      ),
  })
  .strict();

function layoutFor(classes: CityscapesClasses): MtanLayout {
  return {
    id: 'cityscapes',
    title: 'Cityscapes',
    native: NATIVE,
    parts: [
      { folders: ['image'], kind: 'image', what: 'image: height × width × RGB, float' },
      {
        folders: classes === 7 ? ['label_7', 'label'] : [`label_${classes}`],
        kind: 'segmentation',
        task: 'segmentation',
        classes,
        what: `label: height × width classes 0 … ${classes - 1}, −1 = ignore`,
      },
      {
        folders: ['depth'],
        kind: 'depth',
        task: 'depth',
        what: 'depth: height × width × 1 inverse depth (disparity), 0 = invalid',
      },
    ],
    tasks: [
      { name: 'segmentation', kind: 'segmentation', classes, ignoreIndex: -1 },
      { name: 'depth', kind: 'depth' },
    ],
  };
}

/**
 * Cityscapes (MTAN pre-processed, 128×256): 2975 train and 500 test (`val/`) street scenes with
 * tasks `segmentation` (7 classes by default, −1 = ignore, int32 `[h, w]`) and `depth` (inverse
 * depth as stored, 0 = invalid, float32 `[h, w, 1]`). Inputs are float32 `[h, w, 3]` as stored.
 * Class names are not given: the index order of the MTAN label sets is not documented.
 *
 * Files: `{root}/{train,val}/{image,label_7,depth}/{i}.npy` with native shapes (128, 256, 3),
 * (128, 256), (128, 256, 1); LibMTL's `label/` is read when `label_7/` is absent; `classes: 19` or
 * `2` read `label_19/` or `label_2/`. Every file read is checked (shape, dtype family, values) and
 * every error names the file; `height` / `width` resize on load (images bilinear, labels and depth
 * nearest). Progress phases: `'read train'`, `'read test'`.
 *
 * @example
 * ```ts
 * const registry = createDatasetRegistry();
 * registry.register(cityscapesDataset);
 * const ds = await registry.load('cityscapes', { root: '/data/cityscapes', limitTrain: 500 });
 * ds.tasks.map((t) => t.name); // ['segmentation', 'depth']
 * ```
 */
export const cityscapesDataset: DatasetDescriptor<CityscapesOptions> = {
  id: 'cityscapes',
  tasks: [
    { name: 'segmentation', kind: 'segmentation' },
    { name: 'depth', kind: 'depth' },
  ],
  description:
    'Cityscapes (MTAN pre-processed .npy files, 128×256): segmentation (7, 19 or 2 classes), inverse depth; 2975 train / 500 test',
  options: schema,
  load(options: CityscapesOptions, context?: LoadContext): Promise<Dataset> {
    if (![7, 19, 2].includes(options.classes)) {
      return Promise.reject(
        new ConfigError('cityscapes.classes', options.classes, 'must be 7, 19 or 2'),
      );
    }
    return loadMtan(layoutFor(options.classes), options, context);
  },
};
