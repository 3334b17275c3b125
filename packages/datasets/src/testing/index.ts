/**
 * `@mtu/datasets/testing`: fixtures for the tests of packages built on datasets.
 *
 * @packageDocumentation
 */
export { createToyDataset } from './toy.js';
export type { ToyDatasetOptions } from './toy.js';
