import { createDatasetRegistry, registerBuiltinDatasets } from '@mtu/datasets';
import { describe, expect, it } from 'vitest';
import { quality } from '../bench/quality.js';
import { useWasm } from './__fixtures__/setup.js';
import { createModel, defaultModelSpec, train } from './index.js';

useWasm();

// Reduced versions of the README's runs (which use the full defaults: see `pnpm bench --quality`),
// small enough for CI: the default architecture and recipe must beat the constant predictor on
// every task of the test split by a clear margin.
describe('the default model learns every task', () => {
  const registry = createDatasetRegistry();
  registerBuiltinDatasets(registry);

  it('scenes', async () => {
    const ds = await registry.load('scenes', { trainSize: 192, testSize: 48, seed: 1 });
    const model = createModel(defaultModelSpec(ds), { seed: 0 });
    try {
      await train(model, ds, { epochs: 4 });
      const q = quality(model, ds);
      expect(q['segmentation']!.model).toBeGreaterThan(q['segmentation']!.constant + 0.1);
      expect(q['depth']!.model).toBeLessThan(0.85 * q['depth']!.constant);
      expect(q['normals']!.model).toBeLessThan(0.75 * q['normals']!.constant);
    } finally {
      model.dispose();
    }
  });

  it('multi-mnist', async () => {
    const ds = await registry.load('multi-mnist', { trainSize: 1200, testSize: 300, seed: 1 });
    const model = createModel(defaultModelSpec(ds), { seed: 0 });
    try {
      await train(model, ds, { epochs: 3 });
      const q = quality(model, ds);
      for (const task of ['left', 'right']) {
        expect(q[task]!.model).toBeGreaterThan(q[task]!.constant + 0.3);
      }
    } finally {
      model.dispose();
    }
  });
});
