import { ConfigError, NotRegisteredError, ShapeError } from '@mtu/core-tensors';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createDataset, getTask, locate, resolveTask } from './dataset.js';
import type { DatasetDescriptor } from './registry.js';
import { createDatasetRegistry, optionInfo, resolveDatasetOptions } from './registry.js';
import { createToyDataset } from './testing/index.js';
import type { DatasetInit } from './dataset.js';

function init(over: Partial<DatasetInit> = {}): DatasetInit {
  return {
    id: 'tiny',
    description: 'tiny',
    inputShape: [2, 2, 1],
    tasks: [
      { name: 'cls', kind: 'classification', classes: 3 },
      { name: 'seg', kind: 'segmentation', classes: 2 },
      { name: 'd', kind: 'depth', size: [1, 1] },
    ],
    train: {
      inputs: new Float32Array(8),
      labels: {
        cls: Int32Array.from([0, 2]),
        seg: Int32Array.from([0, 1, -1, 1, 1, 1, 0, 0]),
        d: Float32Array.from([1, 0]),
      },
    },
    test: {
      inputs: new Float32Array(4),
      labels: { cls: Int32Array.from([1]), seg: new Int32Array(4), d: Float32Array.from([2]) },
    },
    ...over,
  };
}

describe('createDataset', () => {
  it('resolves tasks and assigns ids across splits', () => {
    const ds = createDataset(init());
    expect(ds.train.ids).toEqual(Int32Array.from([0, 1]));
    expect(ds.test.ids).toEqual(Int32Array.from([2]));
    expect(getTask(ds, 'seg').labelShape).toEqual([2, 2]);
    expect(getTask(ds, 'd').labelShape).toEqual([1, 1, 1]);
    expect(getTask(ds, 'cls')).toMatchObject({
      labelShape: [],
      labelSize: 1,
      dtype: 'int32',
      ignoreIndex: -1,
    });
    expect(locate(ds, 2)).toMatchObject({ index: 0 });
    expect(locate(ds, 2).split.name).toBe('test');
    expect(() => locate(ds, 3)).toThrow(ConfigError);
    expect(() => getTask(ds, 'x')).toThrow(/tasks: cls, seg, d/);
    expect(Array.from(ds.train.present['cls']!)).toEqual([1, 1]);
  });

  it('rejects labels out of range, naming split, task and position', () => {
    const bad = init();
    (bad.train.labels['seg'] as Int32Array)[5] = 2;
    expect(() => createDataset(bad)).toThrow(/train\.labels\.seg\[5\]/);
    const neg = init();
    (neg.test.labels['d'] as Float32Array)[0] = -1;
    expect(() => createDataset(neg)).toThrow(/test\.labels\.d\[0\]/);
    const nan = init();
    (nan.train.labels['d'] as Float32Array)[1] = NaN;
    expect(() => createDataset(nan)).toThrow(ConfigError);
  });

  it('rejects wrong lengths, dtypes, missing and unknown label arrays', () => {
    expect(() =>
      createDataset(init({ train: { inputs: new Float32Array(7), labels: {} } })),
    ).toThrow(ShapeError);
    const short = init();
    expect(() =>
      createDataset({
        ...short,
        train: { ...short.train, labels: { ...short.train.labels, cls: Int32Array.from([0]) } },
      }),
    ).toThrow(/train\.labels\.cls: expected 2/);
    expect(() =>
      createDataset({
        ...short,
        train: { ...short.train, labels: { ...short.train.labels, d: Int32Array.from([0, 0]) } },
      }),
    ).toThrow(/Float32Array/);
    const rest = Object.fromEntries(
      Object.entries(short.train.labels).filter(([k]) => k !== 'cls'),
    );
    expect(() => createDataset({ ...short, train: { ...short.train, labels: rest } })).toThrow(
      /cls/,
    );
    expect(() =>
      createDataset({
        ...short,
        train: { ...short.train, labels: { ...short.train.labels, extra: new Int32Array(2) } },
      }),
    ).toThrow(/not a task/);
  });

  it('rejects bad task specs', () => {
    const shape = [4, 4, 3] as const;
    expect(() => resolveTask({ name: 'a b', kind: 'depth' }, shape)).toThrow(/task.name/);
    expect(() => resolveTask({ name: 'a', kind: 'segmentation' }, shape)).toThrow(/classes/);
    expect(() => resolveTask({ name: 'a', kind: 'segmentation', classes: 1 }, shape)).toThrow(
      /at least 2/,
    );
    expect(() => resolveTask({ name: 'a', kind: 'depth', classes: 3 }, shape)).toThrow(
      /no classes/,
    );
    expect(() =>
      resolveTask({ name: 'a', kind: 'classification', classes: 3, ignoreIndex: 1 }, shape),
    ).toThrow(/ignoreIndex/);
    expect(() => resolveTask({ name: 'a', kind: 'blur' as never }, shape)).toThrow(/kind/);
    expect(() => createDataset(init({ tasks: [] }))).toThrow(/needs a task/);
    expect(() =>
      createDataset(
        init({
          tasks: [
            { name: 'd', kind: 'depth' },
            { name: 'd', kind: 'depth' },
          ],
        }),
      ),
    ).toThrow(/duplicate/);
  });
});

describe('registry', () => {
  interface ToyOptions {
    readonly size: number;
    readonly seed: number;
  }
  const toy: DatasetDescriptor<ToyOptions> = {
    id: 'toy',
    description: 'toy data',
    options: z
      .object({
        size: z.number().int().min(2).max(16).default(4).describe('side length'),
        seed: z.number().int().default(0).describe('seed'),
      })
      .strict(),
    load: (o) =>
      Promise.resolve(createToyDataset({ size: o.size, seed: o.seed, trainSize: 3, testSize: 2 })),
  };

  it('registers explicitly, loads with defaults, lists options', async () => {
    const registry = createDatasetRegistry();
    expect(registry.list()).toEqual([]);
    registry.register(toy);
    expect(registry.has('toy')).toBe(true);
    const ds = await registry.load('toy', { size: 5 });
    expect(ds.inputShape).toEqual([5, 5, 3]);
    expect(resolveDatasetOptions(toy, {})).toEqual({ size: 4, seed: 0 });
    expect(optionInfo(toy)).toEqual([
      { name: 'size', type: 'integer', description: 'side length', default: 4, required: false },
      { name: 'seed', type: 'integer', description: 'seed', default: 0, required: false },
    ]);
    expect(() => registry.register(toy)).toThrow(/already registered/);
  });

  it('names unknown datasets and bad options', async () => {
    const registry = createDatasetRegistry();
    registry.register(toy);
    expect(() => registry.get('mnist')).toThrow(NotRegisteredError);
    expect(() => registry.get('mnist')).toThrow(/known: toy/);
    await expect(registry.load('toy', { size: 1 })).rejects.toThrow(/toy\.size = 1/);
    await expect(registry.load('toy', { colour: 1 })).rejects.toThrow(
      /toy\.colour.*unknown option/,
    );
    await expect(registry.load('toy', { seed: 'x' })).rejects.toThrow(ConfigError);
  });
});
