import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from './errors.js';
import {
  SHARED_GROUP,
  createParamLayout,
  dot,
  embedGroup,
  flatten,
  groupRange,
  groupSlice,
  layoutFromTensors,
  norm,
  replaceGroup,
  unflatten,
} from './layout.js';
import type { ParamLayout } from './layout.js';
import { initBackend } from './backend.js';
import { useLeakGuard } from './testing/index.js';
import { tf } from './tf.js';
import type { NamedTensorMap, Rank, Tensor, Tensor1D } from './tf.js';

/** Interleaved groups on purpose: the layout must group them. */
function makeLayout(): ParamLayout {
  return createParamLayout([
    { name: 'trunk/kernel', shape: [3, 4], group: SHARED_GROUP },
    { name: 'headA/kernel', shape: [4, 2], group: 'taskA' },
    { name: 'trunk/bias', shape: [4], group: SHARED_GROUP },
    { name: 'headB/kernel', shape: [4, 1], group: 'taskB' },
    { name: 'headA/bias', shape: [2], group: 'taskA' },
    { name: 'scale', shape: [], group: SHARED_GROUP },
  ]);
}

/** Distinct values per parameter so misplacements show. */
function makeTensors(layout: ParamLayout): NamedTensorMap {
  const out: NamedTensorMap = {};
  for (const e of layout.entries) {
    out[e.name] = tf.tensor(
      Array.from({ length: e.size }, (_, i) => 100 * (e.index + 1) + i),
      e.shape.slice(),
      'float32',
    );
  }
  return out;
}

describe('ParamLayout', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu' });
  });
  useLeakGuard({ beforeEach, afterEach });

  it('orders by group (first appearance, stable inside a group) with contiguous offsets', () => {
    const layout = makeLayout();
    expect(layout.names).toEqual([
      'trunk/kernel',
      'trunk/bias',
      'scale',
      'headA/kernel',
      'headA/bias',
      'headB/kernel',
    ]);
    expect(layout.entries.map((e) => [e.offset, e.size])).toEqual([
      [0, 12],
      [12, 4],
      [16, 1],
      [17, 8],
      [25, 2],
      [27, 4],
    ]);
    expect(layout.size).toBe(31);
    expect(layout.groupNames).toEqual([SHARED_GROUP, 'taskA', 'taskB']);
    expect(groupRange(layout, SHARED_GROUP)).toEqual({ offset: 0, size: 17 });
    expect(groupRange(layout, 'taskA')).toEqual({ offset: 17, size: 10 });
    expect(groupRange(layout, 'taskB')).toEqual({ offset: 27, size: 4 });
    expect(layout.groups.get('taskA')?.names).toEqual(['headA/kernel', 'headA/bias']);
    expect(layout.byName.get('scale')).toMatchObject({
      shape: [],
      size: 1,
      offset: 16,
      group: SHARED_GROUP,
    });
    // The group sizes add up and the ranges tile [0, D).
    let next = 0;
    for (const g of layout.groupNames) {
      const r = groupRange(layout, g);
      expect(r.offset).toBe(next);
      next += r.size;
    }
    expect(next).toBe(layout.size);
  });

  it('is immutable', () => {
    const layout = makeLayout();
    expect(Object.isFrozen(layout)).toBe(true);
    expect(Object.isFrozen(layout.entries)).toBe(true);
    expect(Object.isFrozen(layout.entries[0])).toBe(true);
    expect(Object.isFrozen(layout.entries[0]?.shape)).toBe(true);
    expect(() => (layout.groups as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (layout.byName as Map<string, unknown>).delete('scale')).toThrow(TypeError);
    // The input shape arrays are copied.
    const shape = [2, 2];
    const l2 = createParamLayout([{ name: 'w', shape, group: 'g' }]);
    shape[0] = 5;
    expect(l2.entries[0]?.shape).toEqual([2, 2]);
  });

  it('validates entries and names the offending one', () => {
    expect(() =>
      createParamLayout([
        { name: 'w', shape: [2], group: 'g' },
        { name: 'w', shape: [3], group: 'g' },
      ]),
    ).toThrow(/entries\[1\]\.name = "w".*duplicate/);
    expect(() => createParamLayout([{ name: '', shape: [2], group: 'g' }])).toThrow(ConfigError);
    expect(() => createParamLayout([{ name: 'w', shape: [2], group: '' }])).toThrow(
      /entries\[0\]\.group.*'w'/,
    );
    expect(() => createParamLayout([{ name: 'w', shape: [2, -1], group: 'g' }])).toThrow(
      ShapeError,
    );
    expect(() => createParamLayout([{ name: 'w', shape: [2.5], group: 'g' }])).toThrow(
      /'w'.*\[2\.5\]/,
    );
    expect(() =>
      createParamLayout([{ name: 'w', shape: 'x' as unknown as number[], group: 'g' }]),
    ).toThrow(ShapeError);
    expect(() => groupRange(makeLayout(), 'nope')).toThrow(/group = "nope".*shared, taskA, taskB/);
  });

  it('layoutFromTensors uses the map order and the group function', () => {
    const tensors: NamedTensorMap = {
      'head_a/w': tf.zeros([4, 1]),
      'trunk/w': tf.zeros([3, 4]),
      'trunk/b': tf.zeros([4]),
    };
    const layout = layoutFromTensors(tensors, (name) =>
      name.startsWith('head_a/') ? 'a' : SHARED_GROUP,
    );
    expect(layout.names).toEqual(['head_a/w', 'trunk/w', 'trunk/b']);
    expect(layout.groupNames).toEqual(['a', SHARED_GROUP]);
    expect(layout.size).toBe(20);
    tf.dispose(tensors);
  });

  it('round trip: unflatten(flatten(x)) = x and flatten(unflatten(v)) = v', () => {
    const layout = makeLayout();
    const tensors = makeTensors(layout);
    const flat = flatten(layout, tensors);
    expect(flat.shape).toEqual([layout.size]);
    // Each parameter sits at its offset.
    const data = flat.dataSync();
    for (const e of layout.entries) {
      expect(Array.from(data.subarray(e.offset, e.offset + e.size))).toEqual(
        Array.from((tensors[e.name] as Tensor).dataSync()),
      );
    }
    const back = unflatten(layout, flat);
    expect(Object.keys(back)).toEqual(layout.names);
    for (const e of layout.entries) {
      const t = back[e.name] as Tensor;
      expect(t.shape).toEqual(e.shape);
      expect(Array.from(t.dataSync())).toEqual(Array.from((tensors[e.name] as Tensor).dataSync()));
    }
    const flat2 = flatten(layout, back);
    expect(Array.from(flat2.dataSync())).toEqual(Array.from(data));
    // Inputs are not disposed.
    expect((tensors['scale'] as Tensor).isDisposed).toBe(false);
    expect(flat.isDisposed).toBe(false);
    tf.dispose([tensors, back, flat, flat2]);
  });

  it('flatten casts non-float32 tensors and handles empty layouts and empty parameters', () => {
    const layout = createParamLayout([
      { name: 'i', shape: [2], group: 'g' },
      { name: 'empty', shape: [0, 3], group: 'g' },
    ]);
    const ints = { i: tf.tensor1d([1, 2], 'int32'), empty: tf.zeros([0, 3]) };
    const flat = flatten(layout, ints);
    expect(flat.dtype).toBe('float32');
    expect(Array.from(flat.dataSync())).toEqual([1, 2]);
    const back = unflatten(layout, flat);
    expect((back['empty'] as Tensor).shape).toEqual([0, 3]);
    const none = createParamLayout([]);
    expect(none.size).toBe(0);
    const e = flatten(none, {});
    expect(e.shape).toEqual([0]);
    tf.dispose([ints, flat, back, e]);
  });

  it('flatten and unflatten name missing, extra and misshaped entries', () => {
    const layout = makeLayout();
    const tensors = makeTensors(layout);
    const { scale, ...missing } = tensors;
    expect(() => flatten(layout, missing)).toThrow(/'scale'.*missing/);
    const extra = { ...tensors, stray: tf.zeros([2]) };
    expect(() => flatten(layout, extra)).toThrow(/'stray'.*not in the layout/);
    const viaExtra = flatten(layout, extra, { allowExtra: true });
    expect(viaExtra.shape).toEqual([31]);
    const wrong = { ...tensors, 'trunk/bias': tf.zeros([5]) };
    expect(() => flatten(layout, wrong)).toThrow(/'trunk\/bias' has shape \[5\].*\[4\]/);
    const short = tf.zeros<Rank.R1>([30]);
    expect(() => unflatten(layout, short)).toThrow(ShapeError);
    const twoD = tf.zeros([31, 1]);
    expect(() => unflatten(layout, twoD as unknown as Tensor1D)).toThrow(/length 31.*\[31, 1\]/);
    void scale;
    tf.dispose([tensors, extra['stray'], viaExtra, wrong['trunk/bias'], short, twoD]);
  });

  it('groupSlice, replaceGroup and embedGroup act on the group range only', () => {
    const layout = makeLayout();
    const v = tf.range(0, layout.size, 1, 'float32');
    const a = groupSlice(layout, v, 'taskA');
    expect(Array.from(a.dataSync())).toEqual(Array.from({ length: 10 }, (_, i) => 17 + i));
    const part = tf.fill<Rank.R1>([10], -1);
    for (const group of layout.groupNames) {
      const { offset, size } = groupRange(layout, group);
      const p = tf.fill<Rank.R1>([size], -1);
      const replaced = replaceGroup(layout, v, group, p);
      const data = Array.from(replaced.dataSync());
      data.forEach((x, i) => expect(x).toBe(i >= offset && i < offset + size ? -1 : i));
      const embedded = embedGroup(layout, group, p);
      const e = Array.from(embedded.dataSync());
      e.forEach((x, i) => expect(x).toBe(i >= offset && i < offset + size ? -1 : 0));
      // groupSlice ∘ replaceGroup = the new part.
      const back = groupSlice(layout, replaced, group);
      expect(Array.from(back.dataSync())).toEqual(new Array(size).fill(-1));
      tf.dispose([p, replaced, embedded, back]);
    }
    const wrongPart = tf.zeros<Rank.R1>([3]);
    expect(() => replaceGroup(layout, v, 'taskA', wrongPart)).toThrow(
      /part \(group 'taskA'\).*length 10/,
    );
    expect(() => embedGroup(layout, 'taskA', wrongPart)).toThrow(ShapeError);
    expect(() => groupSlice(layout, v, 'nope')).toThrow(ConfigError);
    expect(v.isDisposed).toBe(false);
    tf.dispose([v, a, part, wrongPart]);
  });

  it('dot and norm', () => {
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.tensor1d([4, -5, 6]);
    const d = dot(a, b);
    const n = norm(a);
    expect(d.shape).toEqual([]);
    expect(d.dataSync()[0]).toBeCloseTo(12, 6);
    expect(n.dataSync()[0]).toBeCloseTo(Math.sqrt(14), 6);
    const e = tf.zeros<Rank.R1>([0]);
    const d0 = dot(e, e);
    const n0 = norm(e);
    expect(d0.dataSync()[0]).toBe(0);
    expect(n0.dataSync()[0]).toBe(0);
    const c = tf.tensor1d([1, 2]);
    expect(() => dot(a, c)).toThrow(/\[3\].*\[2\]/);
    const m = tf.zeros([2, 2]);
    expect(() => norm(m as unknown as Tensor1D)).toThrow(ShapeError);
    tf.dispose([a, b, d, n, e, d0, n0, c, m]);
  });
});
