/**
 * NYUv2 in the MTAN pre-processed layout (the version MTAN, LibMTL, Nash-MTL, CAGrad, … use).
 *
 * @module
 */
import { z } from 'zod';
import type { DatasetDescriptor, LoadContext } from '../../registry.js';
import type { Dataset } from '../../types.js';
import type { MtanLayout } from './load.js';
import { loadMtan } from './load.js';

/** The 13 NYUv2 classes, in label order 0 … 12 (label −1 = ignore). */
export const NYUV2_CLASS_NAMES: readonly string[] = Object.freeze([
  'bed',
  'books',
  'ceiling',
  'chair',
  'floor',
  'furniture',
  'objects',
  'picture',
  'sofa',
  'table',
  'tv',
  'wall',
  'window',
]);

/** Options of {@link nyuv2Dataset} (resolved: defaults filled in). */
export interface Nyuv2Options {
  /** The folder holding `train/` and `val/` (required). */
  readonly root: string;
  /** Read only the first k train instances (default: all 795). */
  readonly limitTrain?: number | undefined;
  /** Read only the first k test (`val/`) instances (default: all 654). */
  readonly limitTest?: number | undefined;
  /** Height to resize to on load (default 288, the native height: no resize). */
  readonly height: number;
  /** Width to resize to on load (default 384, the native width: no resize). */
  readonly width: number;
}

const NATIVE: readonly [number, number] = [288, 384];

const schema: z.ZodType<Nyuv2Options, Record<string, unknown>> = z
  .object({
    root: z
      .string()
      .min(1)
      .describe(
        'Folder of the MTAN pre-processed NYUv2: {train,val}/{image,label,depth,normal}/{i}.npy',
      ),
    limitTrain: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Read only the first k train instances (default: all 795)'),
    limitTest: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Read only the first k test (val/) instances (default: all 654)'),
    height: z
      .number()
      .int()
      .positive()
      .default(NATIVE[0])
      .describe(
        'Height to resize to on load (images bilinear, labels and depth nearest, normals renormalised)',
      ),
    width: z
      .number()
      .int()
      .positive()
      .default(NATIVE[1])
      .describe('Width to resize to on load (see height)'),
  })
  .strict();

const LAYOUT: MtanLayout = {
  id: 'nyuv2',
  title: 'NYUv2',
  native: NATIVE,
  parts: [
    { folders: ['image'], kind: 'image', what: 'image: height × width × RGB, float' },
    {
      folders: ['label'],
      kind: 'segmentation',
      task: 'segmentation',
      classes: 13,
      what: 'label: height × width classes 0 … 12, −1 = ignore',
    },
    {
      folders: ['depth'],
      kind: 'depth',
      task: 'depth',
      what: 'depth: height × width × 1 metres, 0 = invalid',
    },
    {
      folders: ['normal'],
      kind: 'normals',
      task: 'normals',
      what: 'normal: height × width × 3 unit vectors, (0, 0, 0) = invalid',
    },
  ],
  tasks: [
    {
      name: 'segmentation',
      kind: 'segmentation',
      classes: 13,
      ignoreIndex: -1,
      classNames: NYUV2_CLASS_NAMES,
    },
    { name: 'depth', kind: 'depth' },
    { name: 'normals', kind: 'normals' },
  ],
};

/**
 * NYUv2 (MTAN pre-processed): 795 train and 654 test (`val/`) indoor scenes at 288×384, with tasks
 * `segmentation` (13 classes, −1 = ignore, int32 `[h, w]`), `depth` (metres, 0 = invalid, float32
 * `[h, w, 1]`) and `normals` (unit vectors, `(0, 0, 0)` = invalid, float32 `[h, w, 3]`). Inputs are
 * float32 `[h, w, 3]` as stored (no normalisation).
 *
 * Files: `{root}/{train,val}/{image,label,depth,normal}/{i}.npy` with native shapes (288, 384, 3),
 * (288, 384), (288, 384, 1), (288, 384, 3); indices consecutive from 0. Every file read is checked
 * for its shape, dtype family and values; a missing, truncated or mis-shaped file, a gap in the
 * indices or a bad label value raises a `CheckpointError` naming the file. `height` / `width`
 * resize on load (images bilinear, labels and depth nearest, normals bilinear + renormalised, see
 * `resizeNormals`). Progress phases: `'read train'`, `'read test'`.
 *
 * @example
 * ```ts
 * const registry = createDatasetRegistry();
 * registry.register(nyuv2Dataset);
 * const ds = await registry.load('nyuv2', { root: '/data/nyuv2', height: 144, width: 192, limitTrain: 200 });
 * ds.inputShape; // [144, 192, 3]
 * ```
 */
export const nyuv2Dataset: DatasetDescriptor<Nyuv2Options> = {
  id: 'nyuv2',
  tasks: [
    { name: 'segmentation', kind: 'segmentation' },
    { name: 'depth', kind: 'depth' },
    { name: 'normals', kind: 'normals' },
  ],
  description:
    'NYUv2 (MTAN pre-processed .npy files): segmentation (13 classes), depth, normals; 795 train / 654 test',
  options: schema,
  load(options: Nyuv2Options, context?: LoadContext): Promise<Dataset> {
    return loadMtan(LAYOUT, options, context);
  },
};
