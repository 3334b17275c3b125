import { ConfigError } from '@mtu/core-tensors';
import { describe, expect, it } from 'vitest';
import { createToyDataset } from './testing/index.js';
import { makeForgetRequest, requestViews, validateForgetRequest } from './request.js';

const ds = createToyDataset({ trainSize: 10, testSize: 4 });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).field;
  }
  throw new Error('expected a ConfigError');
}

describe('validateForgetRequest', () => {
  it('normalises ids and task order', () => {
    expect(
      validateForgetRequest(ds, { instances: [7, 2], tasks: ['depth', 'segmentation'] }),
    ).toEqual({
      instances: [2, 7],
      tasks: ['segmentation', 'depth'],
    });
    expect(validateForgetRequest(ds, { instances: [0], tasks: 'all' }).tasks).toEqual([
      'classification',
      'segmentation',
      'depth',
      'normals',
    ]);
  });

  it.each([
    ['not an object', null, 'request'],
    ['an array', [1, 2], 'request'],
    ['an unknown field', { instances: [1], tasks: 'all', extra: 1 }, 'request.extra'],
    ['missing instances', { tasks: 'all' }, 'request.instances'],
    ['empty instances', { instances: [], tasks: 'all' }, 'request.instances'],
    ['a non-integer id', { instances: [1.5], tasks: 'all' }, 'request.instances[0]'],
    ['a string id', { instances: ['1'], tasks: 'all' }, 'request.instances[0]'],
    ['a negative id', { instances: [-1], tasks: 'all' }, 'request.instances[0]'],
    ['an unknown id', { instances: [3, 99], tasks: 'all' }, 'request.instances[1]'],
    ['a test id', { instances: [10], tasks: 'all' }, 'request.instances[0]'],
    ['a duplicate id', { instances: [4, 5, 4], tasks: 'all' }, 'request.instances[2]'],
    ['an unknown task', { instances: [1], tasks: ['depth', 'colour'] }, 'request.tasks[1]'],
    ['a duplicate task', { instances: [1], tasks: ['depth', 'depth'] }, 'request.tasks[1]'],
    ['empty tasks', { instances: [1], tasks: [] }, 'request.tasks'],
    ['tasks of the wrong type', { instances: [1], tasks: 'depth' }, 'request.tasks'],
  ])('rejects %s naming the field', (_name, request, field) => {
    expect(fieldOf(() => validateForgetRequest(ds, request))).toBe(field);
  });

  it('says why a test id cannot be forgotten', () => {
    expect(() => validateForgetRequest(ds, { instances: [11], tasks: 'all' })).toThrow(
      /test instance/,
    );
  });
});

describe('requestViews', () => {
  it('full-task: retain is the complement; forget loses every label', () => {
    const v = requestViews(ds, { instances: [1, 4], tasks: 'all' });
    expect(v.setting).toBe('full-task');
    expect(Array.from(v.forget)).toEqual([1, 4]);
    expect(Array.from(v.retain)).toEqual([0, 2, 3, 5, 6, 7, 8, 9]);
    expect(Array.from(v.test)).toEqual([10, 11, 12, 13]);
    expect(v.nonTargetTasks).toEqual([]);
    for (const t of v.targetTasks) {
      expect(v.supervision[t]![1]).toBe(0);
      expect(v.supervision[t]![4]).toBe(0);
      expect(v.supervision[t]![0]).toBe(1);
    }
  });

  it('partial-task: forget instances keep their non-target labels', () => {
    const v = requestViews(ds, { instances: [2, 3], tasks: ['segmentation'] });
    expect(v.setting).toBe('partial-task');
    expect(v.targetTasks).toEqual(['segmentation']);
    expect(v.nonTargetTasks).toEqual(['classification', 'depth', 'normals']);
    expect(Array.from(v.supervision['segmentation']!)).toEqual([1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
    for (const t of v.nonTargetTasks) expect(v.supervision[t]!.every((b) => b === 1)).toBe(true);
  });

  it('naming every task is full-task', () => {
    const v = requestViews(ds, {
      instances: [0],
      tasks: ['normals', 'depth', 'segmentation', 'classification'],
    });
    expect(v.setting).toBe('full-task');
  });

  it('does not alias the dataset presence arrays', () => {
    requestViews(ds, { instances: [0], tasks: 'all' });
    expect(ds.train.present['depth']![0]).toBe(1);
  });
});

describe('makeForgetRequest', () => {
  it('is deterministic per seed and draws train ids', () => {
    const a = makeForgetRequest(ds, { ratio: 0.3, seed: 5 });
    const b = makeForgetRequest(ds, { ratio: 0.3, seed: 5 });
    const c = makeForgetRequest(ds, { ratio: 0.3, seed: 6 });
    expect(a).toEqual(b);
    expect(a.instances).toHaveLength(3);
    expect(a.tasks).toBe('all');
    expect(a.instances.every((id) => id >= 0 && id < 10)).toBe(true);
    const big = createToyDataset({ trainSize: 200, testSize: 2, size: 4 });
    expect(makeForgetRequest(big, { count: 20, seed: 1 })).not.toEqual(
      makeForgetRequest(big, { count: 20, seed: 2 }),
    );
    expect(c.instances).toHaveLength(3);
  });

  it('carries the target tasks and validates them', () => {
    expect(makeForgetRequest(ds, { count: 2, seed: 0, tasks: ['depth'] }).tasks).toEqual(['depth']);
    expect(fieldOf(() => makeForgetRequest(ds, { count: 2, seed: 0, tasks: ['nope'] }))).toBe(
      'request.tasks[0]',
    );
  });

  it.each([
    [{ seed: 0 }, 'ratio/count'],
    [{ seed: 0, ratio: 0.1, count: 1 }, 'ratio/count'],
    [{ seed: 0, ratio: 0 }, 'ratio'],
    [{ seed: 0, ratio: 1 }, 'ratio'],
    [{ seed: 0, count: 0 }, 'count'],
    [{ seed: 0, count: 10 }, 'count'],
    [{ seed: 0.5, count: 1 }, 'seed'],
  ])('rejects %j', (options, field) => {
    expect(fieldOf(() => makeForgetRequest(ds, options))).toBe(field);
  });
});
