/** A grid small enough for tests: 24 scenes instances, one training epoch, cheap methods. */
import type { GridInput } from '../grid.js';

export const TINY_GRID: GridInput = {
  name: 'tiny',
  datasets: [
    {
      id: 'scenes',
      options: { trainSize: 24, testSize: 8 },
      training: { epochs: 1 },
      targets: ['segmentation'],
    },
  ],
  settings: ['full-task', 'partial-task'],
  methods: [
    { id: 'finetune', config: { epochs: 1 } },
    { id: 'gradient-ascent', config: { epochs: 1 } },
    'retrain',
  ],
  seeds: [0],
  ratio: 0.25,
  evaluation: { retainSample: 8 },
};
