/**
 * The named grids of `mtu-bench`.
 *
 * - `quick`: the project's main job — `scenes` and `multi-mnist`, full-task and partial-task with
 *   one target task each, every registered method, one seed; sized to finish in under 15 minutes
 *   on 2 CPU cores (see the app's README for the measured time).
 * - `standard`: the same datasets at their default sizes with the longer training recipe, partial-task
 *   with every task as target, three seeds (mean ± std).
 *
 * @module
 */
import type { GridInput } from './grid.js';

/** The presets by name. */
export const PRESETS: Readonly<Record<string, GridInput>> = Object.freeze({
  quick: {
    name: 'quick',
    datasets: [
      {
        id: 'scenes',
        options: { trainSize: 128, testSize: 64 },
        training: { epochs: 30 },
        targets: ['segmentation'],
      },
      {
        id: 'multi-mnist',
        options: { trainSize: 1000, testSize: 250 },
        training: { epochs: 5 },
        targets: ['left'],
      },
    ],
    settings: ['full-task', 'partial-task'],
    methods: 'all',
    seeds: [0],
    ratio: 0.1,
    evaluation: { retainSample: 256 },
  },
  standard: {
    name: 'standard',
    datasets: [
      {
        id: 'scenes',
        options: { trainSize: 256 },
        training: { epochs: 40 },
        targets: ['segmentation', 'depth', 'normals'],
      },
      { id: 'multi-mnist', training: { epochs: 10 }, targets: ['left', 'right'] },
    ],
    settings: ['full-task', 'partial-task'],
    methods: 'all',
    seeds: [0, 1, 2],
    ratio: 0.1,
    evaluation: { retainSample: 512 },
  },
});
