import { createRng, initBackend, tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batchIds, disposeBatch, iterateBatches, readBatch, supervisedIds } from './batch.js';
import { requestViews } from './request.js';
import { createToyDataset } from './testing/index.js';

beforeAll(() => initBackend({ prefer: 'cpu' }));
useLeakGuard({ beforeEach, afterEach });

const ds = createToyDataset({ trainSize: 10, testSize: 4, size: 6 });

describe('readBatch', () => {
  it('reads inputs and labels of train and test ids in the given order', () => {
    const batch = readBatch(ds, [11, 3]);
    try {
      expect(Array.from(batch.ids)).toEqual([11, 3]);
      expect(batch.x.shape).toEqual([2, 6, 6, 3]);
      const x = batch.x.dataSync();
      const size = 6 * 6 * 3;
      expect(Array.from(x.subarray(0, size))).toEqual(
        Array.from(ds.test.inputs.subarray(size, 2 * size)),
      );
      expect(Array.from(x.subarray(size))).toEqual(
        Array.from(ds.train.inputs.subarray(3 * size, 4 * size)),
      );
      expect(batch.labels['classification']!.shape).toEqual([2]);
      expect(batch.labels['classification']!.dtype).toBe('int32');
      expect(batch.labels['segmentation']!.shape).toEqual([2, 6, 6]);
      expect(batch.labels['depth']!.shape).toEqual([2, 6, 6, 1]);
      expect(batch.labels['normals']!.shape).toEqual([2, 6, 6, 3]);
      expect(Array.from(batch.labels['classification']!.dataSync())).toEqual([
        ds.test.labels['classification']![1],
        ds.train.labels['classification']![3],
      ]);
      for (const m of Object.values(batch.mask)) expect(Array.from(m.dataSync())).toEqual([1, 1]);
    } finally {
      disposeBatch(batch);
    }
  });

  it('blanks labels that are not supervised, and only those', () => {
    const v = requestViews(ds, { instances: [3], tasks: ['depth', 'classification'] });
    const batch = readBatch(ds, [3, 4, 12], { supervision: v.supervision });
    try {
      expect(Array.from(batch.mask['depth']!.dataSync())).toEqual([0, 1, 1]);
      expect(Array.from(batch.mask['segmentation']!.dataSync())).toEqual([1, 1, 1]);
      const depth = batch.labels['depth']!.dataSync();
      expect(depth.subarray(0, 36).every((d) => d === 0)).toBe(true);
      expect(Array.from(depth.subarray(36, 72))).toEqual(
        Array.from(ds.train.labels['depth']!.subarray(4 * 36, 5 * 36)),
      );
      expect(batch.labels['classification']!.dataSync()[0]).toBe(-1);
      const seg = batch.labels['segmentation']!.dataSync();
      expect(Array.from(seg.subarray(0, 36))).toEqual(
        Array.from(ds.train.labels['segmentation']!.subarray(3 * 36, 4 * 36)),
      );
    } finally {
      disposeBatch(batch);
    }
  });

  it('rejects an empty batch and unknown ids', () => {
    expect(() => readBatch(ds, [])).toThrow(/at least one/);
    expect(() => readBatch(ds, [0, 14])).toThrow(/instance id = 14/);
  });
});

describe('batchIds / iterateBatches', () => {
  it('splits in order, keeps or drops the last batch', () => {
    expect(batchIds([0, 1, 2, 3, 4], { batchSize: 2 }).map((b) => Array.from(b))).toEqual([
      [0, 1],
      [2, 3],
      [4],
    ]);
    expect(batchIds([0, 1, 2, 3, 4], { batchSize: 2, dropLast: true })).toHaveLength(2);
    expect(() => batchIds([1], { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('shuffles deterministically from the stream and covers every id once', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const a = batchIds(ids, { batchSize: 7, shuffle: createRng(3) }).flatMap((b) => Array.from(b));
    const b = batchIds(ids, { batchSize: 7, shuffle: createRng(3) }).flatMap((b) => Array.from(b));
    const c = batchIds(ids, { batchSize: 7, shuffle: createRng(4) }).flatMap((b) => Array.from(b));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect([...a].sort((x, y) => x - y)).toEqual(ids);
  });

  it('yields batches lazily, each owned by the caller', () => {
    let seen = 0;
    for (const batch of iterateBatches(ds, ds.train.ids, { batchSize: 4 })) {
      seen += batch.ids.length;
      expect(tf.memory().numTensors).toBeGreaterThan(0);
      disposeBatch(batch);
    }
    expect(seen).toBe(10);
  });
});

describe('supervisedIds', () => {
  it('is the retain set in full-task and the whole train split in partial-task', () => {
    const full = requestViews(ds, { instances: [1, 2], tasks: 'all' });
    expect(Array.from(supervisedIds(ds, full.supervision))).toEqual(Array.from(full.retain));
    const partial = requestViews(ds, { instances: [1, 2], tasks: ['depth'] });
    expect(Array.from(supervisedIds(ds, partial.supervision))).toEqual(Array.from(ds.train.ids));
  });
});
