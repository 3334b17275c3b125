import { useLeakGuard } from '@mtu/core-tensors/testing';
import { requestViews } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { instanceLossTable, membershipInference } from './index.js';

useWasm();

// A small over-fitted model: the train split is memorised, so its forget instances look like
// members; a model retrained without them does not have that signal.
const ds = createToyDataset({
  trainSize: 40,
  testSize: 40,
  size: 8,
  kinds: ['classification', 'depth'],
  seed: 3,
});
const request = { instances: [0, 3, 6, 9, 12, 15, 18, 21, 24, 27], tasks: 'all' } as const;
const views = requestViews(ds, request);
const spec = defaultModelSpec(ds, { backbone: { width: 8, stages: 1 }, hidden: 32 });
let original: MultiTaskModel;
let retrained: MultiTaskModel;

beforeAll(async () => {
  original = createModel(spec, { seed: 0 });
  await train(original, ds, { epochs: 60, batchSize: 8 });
  retrained = createModel(spec, { seed: 0 });
  await train(retrained, ds, { epochs: 60, batchSize: 8, supervision: views.supervision });
});
afterAll(() => {
  original.dispose();
  retrained.dispose();
});
useLeakGuard({ beforeEach, afterEach });

describe('membershipInference', () => {
  it('sees memorised forget instances in the original model and not in the retrained one', () => {
    const o = membershipInference(original, ds, views);
    const r = membershipInference(retrained, ds, views);
    expect(o.combined.auc).toBeGreaterThan(0.75);
    expect(r.combined.auc).toBeLessThan(o.combined.auc - 0.15);
    expect(r.combined.efficacy).toBeGreaterThan(o.combined.efficacy);
    expect(Object.keys(o.perTask)).toEqual(['classification', 'depth']);
    expect(o.sizes).toEqual({ forget: 10, retain: 30, test: 40 });
    expect(o.attacker).toBe('logistic');
  });

  it('is deterministic, and the threshold attacker works too', () => {
    const a = membershipInference(original, ds, views, { attacker: 'threshold', seed: 1 });
    const b = membershipInference(original, ds, views, { attacker: 'threshold', seed: 1 });
    expect(a).toEqual(b);
    expect(a.combined.attackerAccuracy).toBeGreaterThan(0.5);
  });

  it('scores partial-task requests per target and non-target task', () => {
    const partial = requestViews(ds, { instances: request.instances, tasks: ['depth'] });
    const m = membershipInference(original, ds, partial);
    expect(Object.keys(m.perTask)).toEqual(['depth', 'classification']);
  });

  it('gives NaN losses for instances without a valid label', () => {
    const sparse = createToyDataset({
      kinds: ['depth'],
      invalidFraction: 1,
      trainSize: 3,
      testSize: 2,
    });
    const model = createModel(defaultModelSpec(sparse, { backbone: { width: 2, stages: 1 } }), {
      seed: 0,
    });
    const table = instanceLossTable(model, sparse, sparse.train.ids, ['depth']);
    expect(Array.from(table['depth']!).every(Number.isNaN)).toBe(true);
    model.dispose();
  });
});
