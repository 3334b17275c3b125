/**
 * Loaders of the MTAN pre-processed NYUv2 and Cityscapes `.npy` layouts.
 *
 * @module
 */
export { NYUV2_CLASS_NAMES, nyuv2Dataset } from './nyuv2.js';
export type { Nyuv2Options } from './nyuv2.js';
export { cityscapesDataset } from './cityscapes.js';
export type { CityscapesClasses, CityscapesOptions } from './cityscapes.js';
