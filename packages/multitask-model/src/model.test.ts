import { ConfigError, tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { readBatch, disposeBatch } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import {
  createModel,
  defaultModelSpec,
  modelParams,
  usedParams,
  validateModelSpec,
} from './index.js';
import type { ModelSpec } from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

const ds = createToyDataset({ trainSize: 4, testSize: 2, size: 10 });
const spec = defaultModelSpec(ds, { backbone: { width: 4 } });

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe('spec', () => {
  it('picks the backbone by task kinds and sizes heads from the dataset', () => {
    expect(spec.backbone).toEqual({ kind: 'encoder-decoder', width: 4, stages: 2 });
    expect(spec.heads.map((h) => [h.task, h.outputs])).toEqual([
      ['classification', 4],
      ['segmentation', 3],
      ['depth', 1],
      ['normals', 3],
    ]);
    const cls = createToyDataset({ kinds: ['classification'] });
    expect(defaultModelSpec(cls).backbone.kind).toBe('conv-net');
  });

  it('groups parameters as shared + one group per task', () => {
    const groups = new Set(modelParams(spec).map((p) => p.group));
    expect([...groups]).toEqual(['shared', 'classification', 'segmentation', 'depth', 'normals']);
    const used = usedParams(spec, ['classification']);
    expect([...used].some((n) => n.startsWith('shared/up'))).toBe(false);
    expect([...used].some((n) => n.startsWith('depth/'))).toBe(false);
    expect(used.has('classification/fc1/w')).toBe(true);
  });

  it.each([
    [{ format: 'x' }, 'spec.format'],
    [{ version: 2 }, 'spec.version'],
    [{ inputShape: [4, 4] }, 'spec.inputShape'],
    [{ backbone: { kind: 'resnet', width: 4, stages: 1 } }, 'spec.backbone.kind'],
    [{ backbone: { kind: 'encoder-decoder', width: 0, stages: 1 } }, 'spec.backbone.width'],
    [{ heads: [] }, 'spec.heads'],
    [
      { heads: [{ task: 'shared', kind: 'depth', outputs: 1, hidden: 2, size: [2, 2] }] },
      'spec.heads[0].task',
    ],
    [
      { heads: [{ task: 'd', kind: 'depth', outputs: 2, hidden: 2, size: [2, 2] }] },
      'spec.heads[0].outputs',
    ],
    [{ heads: [{ task: 'd', kind: 'depth', outputs: 1, hidden: 2 }] }, 'spec.heads[0].size'],
  ])('rejects %j naming %s', (patch, field) => {
    try {
      validateModelSpec({ ...spec, ...patch });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).field).toBe(field);
    }
  });
});

describe('model', () => {
  it('initialises deterministically from the seed', () => {
    const a = createModel(spec, { seed: 3 });
    const b = createModel(spec, { seed: 3 });
    const c = createModel(spec, { seed: 4 });
    try {
      const [wa, wb, wc] = [a.flatWeights(), b.flatWeights(), c.flatWeights()];
      expect(maxAbsDiff(wa, wb)).toBe(0);
      expect(maxAbsDiff(wa, wc)).toBeGreaterThan(0);
      // He-normal: the stem's std is √(2 / (3·3·3)).
      const stem = a.variables['shared/stem/w']!;
      const std = tf.tidy(() => tf.moments(stem).variance.sqrt().dataSync()[0]!);
      expect(std).toBeGreaterThan(0.5 * Math.sqrt(2 / 27));
      expect(std).toBeLessThan(1.5 * Math.sqrt(2 / 27));
      tf.dispose([wa, wb, wc]);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it('predicts every head at label resolution; normals are unit vectors', () => {
    const model = createModel(spec, { seed: 0 });
    const batch = readBatch(ds, [0, 1, 4]);
    try {
      const out = model.predict(batch.x);
      expect(out['classification']!.shape).toEqual([3, 4]);
      expect(out['segmentation']!.shape).toEqual([3, 10, 10, 3]);
      expect(out['depth']!.shape).toEqual([3, 10, 10, 1]);
      expect(out['normals']!.shape).toEqual([3, 10, 10, 3]);
      const norms = tf.tidy(() => tf.norm(out['normals']!, 'euclidean', -1));
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(norms, 1))).dataSync()[0]!)).toBeLessThan(1e-5);
      norms.dispose();
      tf.dispose(out);
      const some = model.predict(batch.x, ['depth']);
      expect(Object.keys(some)).toEqual(['depth']);
      tf.dispose(some);
      expect(() => model.predict(batch.x, ['colour'])).toThrow(/no head/);
      const wrong = tf.zeros<tf.Rank.R4>([1, 8, 8, 3]);
      expect(() => model.predict(wrong)).toThrow(/expected input \[B, 10, 10, 3\]/);
      wrong.dispose();
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('dense heads resize to a label size different from the input', () => {
    const half: ModelSpec = {
      ...spec,
      heads: spec.heads.map((h) => (h.kind === 'depth' ? { ...h, size: [5, 7] as const } : h)),
    };
    const model = createModel(half, { seed: 0 });
    const x = tf.zeros<tf.Rank.R4>([2, 10, 10, 3]);
    const out = model.predict(x, ['depth']);
    expect(out['depth']!.shape).toEqual([2, 5, 7, 1]);
    tf.dispose([x, out['depth']!]);
    model.dispose();
  });

  it('reads, replaces and copies parameter groups', () => {
    const a = createModel(spec, { seed: 0 });
    const b = createModel(spec, { seed: 1 });
    try {
      const shared = a.flatWeights(['shared']);
      b.setFlatWeights(shared, ['shared']);
      const bs = b.flatWeights(['shared']);
      expect(maxAbsDiff(shared, bs)).toBe(0);
      const [ha, hb] = [a.flatWeights(['depth']), b.flatWeights(['depth'])];
      expect(maxAbsDiff(ha, hb)).toBeGreaterThan(0);
      const c = a.clone();
      const w = c.weights();
      const one = tf.ones([1]);
      c.setWeights({ 'depth/out/b': one });
      one.dispose();
      expect(a.variables['depth/out/b']!.dataSync()[0]).toBe(0);
      expect(c.variables['depth/out/b']!.dataSync()[0]).toBe(1);
      expect(() => c.setWeights({ 'depth/out/b': w['depth/out/w']! })).toThrow(/expected \[1\]/);
      expect(() => c.setWeights({ nope: w['depth/out/w']! })).toThrow(/not a parameter/);
      expect(() => a.flatWeights(['head'])).toThrow(/unknown parameter group/);
      tf.dispose(w);
      c.dispose();
      expect(c.disposed).toBe(true);
      tf.dispose([shared, bs, ha, hb]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
