import { createDatasetRegistry, registerBuiltinDatasets } from '@mtu/datasets';
import { createUnlearnerRegistry, registerInterferenceAware, resolveConfig } from '@mtu/unlearning';
import { describe, expect, it } from 'vitest';
import { BASELINES, registerBaselines } from './register.js';

describe('registerBaselines', () => {
  it('registers all 14 baselines under their ids, in table order', () => {
    const registry = createUnlearnerRegistry();
    registerBaselines(registry);
    expect(BASELINES.map((m) => m.id)).toEqual([
      'retrain',
      'finetune',
      'gradient-ascent',
      'neggrad-plus',
      'random-labels',
      'scrub',
      'salun',
      'l1-sparse',
      'boundary-shrink',
      'pgu',
      'pcgrad',
      'orthograd',
      'lur',
      'ssd',
    ]);
    for (const m of BASELINES) expect(registry.get(m.id)).toBe(m);
  });

  it('per-dataset defaults name registered datasets and validate against each schema', () => {
    const datasets = createDatasetRegistry();
    registerBuiltinDatasets(datasets);
    const known = new Set(datasets.list().map((d) => d.id));
    const methods = createUnlearnerRegistry();
    registerBaselines(methods);
    registerInterferenceAware(methods);
    let checked = 0;
    for (const m of methods.list()) {
      for (const [id, overrides] of Object.entries(m.datasetDefaults ?? {})) {
        expect(known.has(id), `${m.id}: unknown dataset '${id}'`).toBe(true);
        const config = resolveConfig(m, {}, id) as unknown as Record<string, unknown>;
        for (const [key, value] of Object.entries(overrides)) expect(config[key]).toBe(value);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });
});
