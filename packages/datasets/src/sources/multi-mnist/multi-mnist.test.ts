import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConfigError } from '@mtu/core-tensors';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LoadProgress } from '../../registry.js';
import { createDatasetRegistry, optionInfo, resolveDatasetOptions } from '../../registry.js';
import { resizeBilinear } from '../../resize.js';
import type { Dataset } from '../../types.js';
import { loadMnistDigits } from './digits.js';
import type { MultiMnistInstance, MultiMnistOptions } from './multi-mnist.js';
import { multiMnistDataset, planMultiMnist } from './multi-mnist.js';

const opts = (raw: Record<string, unknown> = {}): MultiMnistOptions =>
  resolveDatasetOptions(multiMnistDataset, raw);

/** The `mnist` package's digits, read here independently of the source under test. */
let raw: number[][];
beforeAll(() => {
  const dir = join(
    dirname(createRequire(import.meta.url).resolve('mnist/package.json')),
    'src',
    'digits',
  );
  raw = Array.from(
    { length: 10 },
    (_, c) => (JSON.parse(readFileSync(join(dir, `${c}.json`), 'utf8')) as { data: number[] }).data,
  );
});

/** A 28×28 MNIST sample placed on an empty `side × side` canvas with its top-left at `at`. */
function placed(
  side: number,
  digit: number,
  index: number,
  at: readonly [number, number],
): Float32Array {
  const out = new Float32Array(side * side);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      out[(at[0] + y) * side + at[1] + x] = raw[digit]![index * 784 + y * 28 + x]!;
    }
  }
  return out;
}

function same(actual: ArrayLike<number>, expected: ArrayLike<number>, where = ''): void {
  expect(actual.length, where).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect(actual[i], `${where} [${i}]`).toBe(expected[i]);
  }
}

describe('multi-mnist', () => {
  it('reads the 10,000 MNIST samples of the mnist package', async () => {
    const digits = await loadMnistDigits();
    expect(digits.counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(digits.images[3]!.length).toBe(1032 * 784);
    same(
      digits.images[5]!.subarray(784 * 7, 784 * 8),
      Float32Array.from(raw[5]!.slice(784 * 7, 784 * 8)),
    );
    expect(await loadMnistDigits()).toBe(digits); // cached
  });

  it('defaults: 4000 / 1000 instances of [28, 28, 1], tasks left and right', async () => {
    const events: LoadProgress[] = [];
    const ds = await multiMnistDataset.load(opts(), { onProgress: (e) => events.push(e) });
    expect(ds.options).toEqual({
      seed: 0,
      trainSize: 4000,
      testSize: 1000,
      canvas: 36,
      size: 28,
      testFraction: 0.2,
      maxShift: 2,
    });
    expect(ds.inputShape).toEqual([28, 28, 1]);
    expect([ds.train.size, ds.test.size]).toEqual([4000, 1000]);
    expect(ds.tasks.map((t) => [t.name, t.kind, t.classes, t.labelSize])).toEqual([
      ['left', 'classification', 10, 1],
      ['right', 'classification', 10, 1],
    ]);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ds.train.inputs) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.9);
    // every class appears on both sides
    for (const t of ['left', 'right']) {
      expect(new Set(ds.train.labels[t]).size).toBe(10);
    }
    expect(new Set(events.map((e) => e.phase))).toEqual(
      new Set(['load digits', 'render train', 'render test']),
    );
    expect(events.at(-1)).toEqual({
      dataset: 'multi-mnist',
      phase: 'render test',
      done: 1000,
      total: 1000,
    });
  });

  it('is deterministic per seed, and instance i depends only on (seed, split, i)', async () => {
    const a = await multiMnistDataset.load(opts({ seed: 3, trainSize: 60, testSize: 20 }));
    expect(multiMnistDataset.tasks).toEqual(a.tasks.map((t) => ({ name: t.name, kind: t.kind })));
    const b = await multiMnistDataset.load(opts({ seed: 3, trainSize: 60, testSize: 20 }));
    same(a.train.inputs, b.train.inputs);
    same(a.test.inputs, b.test.inputs);
    same(a.train.labels['left']!, b.train.labels['left']!);
    const c = await multiMnistDataset.load(opts({ seed: 4, trainSize: 60, testSize: 20 }));
    expect(Array.from(c.train.labels['left']!)).not.toEqual(Array.from(a.train.labels['left']!));
    // a longer train split keeps the first 60 instances
    const longer = await multiMnistDataset.load(opts({ seed: 3, trainSize: 90, testSize: 20 }));
    same(longer.train.inputs.subarray(0, a.train.inputs.length), a.train.inputs);
    same(longer.test.inputs, a.test.inputs);
  });

  it('places the planned digits: labels match and the image is the max of both placements', async () => {
    const o = opts({ seed: 11, trainSize: 40, testSize: 20, size: 36, maxShift: 4 });
    const [ds, plan] = await Promise.all([multiMnistDataset.load(o), planMultiMnist(o)]);
    expect(ds.inputShape).toEqual([36, 36, 1]);
    const check = (split: Dataset['train'], instances: readonly MultiMnistInstance[]): void => {
      expect(instances.length).toBe(split.size);
      instances.forEach((inst, i) => {
        expect(split.labels['left']![i]).toBe(inst.left.digit);
        expect(split.labels['right']![i]).toBe(inst.right.digit);
        expect(inst.left).not.toEqual(inst.right);
        for (const v of inst.leftAt) expect(v >= 0 && v <= 4).toBe(true);
        for (const v of inst.rightAt) expect(v >= 4 && v <= 8).toBe(true);
        const img = split.inputs.subarray(i * 1296, (i + 1) * 1296);
        const l = placed(36, inst.left.digit, inst.left.index, inst.leftAt);
        const r = placed(36, inst.right.digit, inst.right.index, inst.rightAt);
        same(
          img,
          l.map((v, p) => Math.max(v, r[p]!)),
          `${split.name} ${i}`,
        );
        // where the right digit has no ink, the left digit's 28×28 region is the source digit
        for (let y = 0; y < 28; y++) {
          for (let x = 0; x < 28; x++) {
            const p = (inst.leftAt[0] + y) * 36 + inst.leftAt[1] + x;
            if (r[p] === 0) {
              expect(img[p]).toBe(
                Math.fround(raw[inst.left.digit]![inst.left.index * 784 + y * 28 + x]!),
              );
            }
          }
        }
      });
    };
    check(ds.train, plan.train);
    check(ds.test, plan.test);
  });

  it('the digits overlap', async () => {
    const o = opts({ seed: 5, trainSize: 200, testSize: 10, size: 36 });
    const plan = await planMultiMnist(o);
    let inkOverlap = 0;
    for (const inst of plan.train) {
      // boxes: the right digit starts 4 … 8 pixels after the left one on each axis
      for (const k of [0, 1]) {
        const gap = inst.rightAt[k]! - inst.leftAt[k]!;
        expect(gap >= 4 && gap <= 8).toBe(true);
      }
      const l = placed(36, inst.left.digit, inst.left.index, inst.leftAt);
      const r = placed(36, inst.right.digit, inst.right.index, inst.rightAt);
      if (l.some((v, p) => v > 0.3 && r[p]! > 0.3)) inkOverlap++;
    }
    // strokes of the two digits cross in most instances
    expect(inkOverlap).toBeGreaterThan(100);
  });

  it('train and test never share an MNIST sample', async () => {
    const plan = await planMultiMnist(opts({ seed: 2, trainSize: 6000, testSize: 3000 }));
    const key = (d: { digit: number; index: number }): string => `${d.digit}:${d.index}`;
    const train = new Set(plan.train.flatMap((i) => [key(i.left), key(i.right)]));
    const test = new Set(plan.test.flatMap((i) => [key(i.left), key(i.right)]));
    for (const k of test) expect(train.has(k), k).toBe(false);
    // the pools are stratified: about 20 % of each class's samples are test samples
    const digits = await loadMnistDigits();
    for (let c = 0; c < 10; c++) {
      const used = [...test].filter((k) => k.startsWith(`${c}:`)).length;
      expect(used).toBeLessThanOrEqual(Math.round(digits.counts[c]! * 0.2));
      expect(used).toBeGreaterThan(digits.counts[c]! * 0.2 * 0.8); // 3000 × 2 draws hit most
    }
    // another seed splits the pool differently
    const other = await planMultiMnist(opts({ seed: 9, trainSize: 10, testSize: 3000 }));
    const otherTest = new Set(other.test.flatMap((i) => [key(i.left), key(i.right)]));
    expect([...otherTest].some((k) => train.has(k))).toBe(true);
  });

  it('resizes the canvas bilinearly to size', async () => {
    const base = { seed: 7, trainSize: 12, testSize: 4 };
    const full = await multiMnistDataset.load(opts({ ...base, size: 36 }));
    const small = await multiMnistDataset.load(opts(base));
    same(small.train.inputs, resizeBilinear(full.train.inputs, [36, 36, 1], [28, 28]));
    same(small.train.labels['right']!, full.train.labels['right']!);
  });

  it('validates options, naming the field', async () => {
    const bad = (rawOptions: Record<string, unknown>, field: string): void => {
      let caught: unknown;
      try {
        resolveDatasetOptions(multiMnistDataset, rawOptions);
      } catch (error) {
        caught = error;
      }
      expect(caught, field).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).field).toBe(field);
    };
    bad({ trainSize: 0 }, 'multi-mnist.trainSize');
    bad({ testSize: 2.5 }, 'multi-mnist.testSize');
    bad({ size: 4 }, 'multi-mnist.size');
    bad({ testFraction: 1 }, 'multi-mnist.testFraction');
    bad({ maxShift: 30 }, 'multi-mnist.maxShift');
    bad({ canvas: 30, maxShift: 3 }, 'multi-mnist.maxShift');
    bad({ seed: 'x' }, 'multi-mnist.seed');
    bad({ sizes: 28 }, 'multi-mnist.sizes');
    // load() checks the options itself too
    await expect(multiMnistDataset.load({ ...opts(), canvas: 28, maxShift: 1 })).rejects.toThrow(
      /multi-mnist\.maxShift/,
    );
    for (const o of optionInfo(multiMnistDataset)) {
      expect(o.description, o.name).toBeTruthy();
      expect(o.required, o.name).toBe(false);
    }
    const registry = createDatasetRegistry();
    registry.register(multiMnistDataset);
    const ds = await registry.load('multi-mnist', { trainSize: 8, testSize: 8, seed: 1 });
    expect(ds.train.size).toBe(8);
  });

  it('aborts through the signal', async () => {
    const controller = new AbortController();
    const pending = multiMnistDataset.load(opts({ trainSize: 3000 }), {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.phase === 'render train' && e.done >= 256) controller.abort(new Error('halt'));
      },
    });
    await expect(pending).rejects.toThrow('halt');
  });
});
