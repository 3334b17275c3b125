import { tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { createDatasetRegistry, registerBuiltinDatasets, requestViews } from '@mtu/datasets';
import type { Dataset } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { EmptySplitError, evaluate, retainSubset } from './index.js';

useWasm();

describe('evaluate on a trained scenes model', () => {
  let ds: Dataset;
  let model: MultiTaskModel;
  beforeAll(async () => {
    const registry = createDatasetRegistry();
    registerBuiltinDatasets(registry);
    ds = await registry.load('scenes', { trainSize: 96, testSize: 40, seed: 2 });
    model = createModel(defaultModelSpec(ds, { backbone: { width: 8 } }), { seed: 0 });
    await train(model, ds, { epochs: 2 });
  });
  afterAll(() => model.dispose());
  useLeakGuard({ beforeEach, afterEach });

  it('returns every split and task; in partial-task the forget split has the non-target tasks too', () => {
    const views = requestViews(ds, { instances: [1, 5, 9, 20, 33], tasks: ['segmentation'] });
    const ev = evaluate(model, ds, views);
    expect(ev.sizes).toEqual({ forget: 5, retain: 91, retainEvaluated: 91, test: 40 });
    for (const split of ['forget', 'retain', 'test'] as const) {
      expect(Object.keys(ev.splits[split])).toEqual(['segmentation', 'depth', 'normals']);
    }
    const seg = ev.splits.test['segmentation']!;
    expect(seg.kind).toBe('segmentation');
    expect(seg.count).toBe(40 * 32 * 32);
    expect(seg.values['mIoU']).toBeGreaterThan(0);
    expect(ev.splits.retain['depth']!.values['absErr']).toBeGreaterThan(0);
    expect(ev.splits.forget['normals']!.values['within30']).toBeGreaterThan(0);
  });

  it('agrees with a direct computation on the whole split', () => {
    const ev = evaluate(model, ds, { instances: [0, 1], tasks: 'all' });
    const x = tf.tensor4d(ds.test.inputs, [ds.test.size, ...ds.inputShape]);
    const out = model.predict(x, ['segmentation', 'depth']);
    const logits = out['segmentation']!.dataSync();
    const depth = out['depth']!.dataSync();
    tf.dispose([x, out['segmentation']!, out['depth']!]);
    const seg = ds.test.labels['segmentation']!;
    const gd = ds.test.labels['depth']!;
    const c = 8;
    let hit = 0;
    let n = 0;
    for (let i = 0; i < seg.length; i++) {
      if (seg[i] === -1) continue;
      let best = 0;
      for (let k = 1; k < c; k++) if (logits[i * c + k]! > logits[i * c + best]!) best = k;
      hit += best === seg[i] ? 1 : 0;
      n++;
    }
    let abs = 0;
    let m = 0;
    for (let i = 0; i < gd.length; i++) {
      if (!(gd[i]! > 0)) continue;
      abs += Math.abs(depth[i]! - gd[i]!);
      m++;
    }
    expect(ev.splits.test['segmentation']!.values['pixelAccuracy']).toBeCloseTo(hit / n, 6);
    expect(ev.splits.test['depth']!.values['absErr']).toBeCloseTo(abs / m, 5);
  });

  it('does not depend on the batch size, and keeps the tensor count flat', () => {
    const counts: number[] = [];
    const a = evaluate(
      model,
      ds,
      { instances: [3, 4, 5], tasks: 'all' },
      {
        batchSize: 7,
        onProgress: () => counts.push(tf.memory().numTensors),
      },
    );
    const b = evaluate(model, ds, { instances: [3, 4, 5], tasks: 'all' }, { batchSize: 32 });
    expect(new Set(counts).size).toBe(1);
    for (const split of ['forget', 'retain', 'test'] as const) {
      for (const t of ['segmentation', 'depth', 'normals']) {
        const va = a.splits[split][t]!.values;
        const vb = b.splits[split][t]!.values;
        for (const k of Object.keys(va)) expect(va[k]).toBeCloseTo(vb[k]!, 9);
      }
    }
  });

  it('subsamples retain with a seed and records the size', () => {
    const views = requestViews(ds, { instances: [0], tasks: 'all' });
    const ev = evaluate(model, ds, views, { retainSample: 30, seed: 4 });
    expect(ev.sizes.retainEvaluated).toBe(30);
    expect(ev.sizes.retain).toBe(95);
    expect(retainSubset(views.retain, 30, 4)).toEqual(retainSubset(views.retain, 30, 4));
    expect(retainSubset(views.retain, 30, 4)).not.toEqual(retainSubset(views.retain, 30, 5));
    expect(() => evaluate(model, ds, views, { retainSample: 0 })).toThrow(/retainSample/);
  });
});

describe('evaluate rejects what it cannot score', () => {
  useLeakGuard({ beforeEach, afterEach });
  it('names the split and task with no valid label', () => {
    const ds = createToyDataset({
      kinds: ['depth'],
      invalidFraction: 1,
      trainSize: 4,
      testSize: 2,
    });
    const model = createModel(defaultModelSpec(ds, { backbone: { width: 2, stages: 1 } }), {
      seed: 0,
    });
    try {
      expect(() => evaluate(model, ds, { instances: [0], tasks: 'all' })).toThrow(EmptySplitError);
      expect(() => evaluate(model, ds, { instances: [0], tasks: 'all' })).toThrow(
        /forget split, task depth/,
      );
    } finally {
      model.dispose();
    }
  });
});
