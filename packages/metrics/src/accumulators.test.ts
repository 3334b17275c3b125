import { ConfigError, ShapeError, createRng } from '@mtu/core-tensors';
import type { Rng } from '@mtu/core-tensors';
import { resolveTask } from '@mtu/datasets';
import type { Task, TaskKind } from '@mtu/datasets';
import { describe, expect, it } from 'vitest';
import { createAccumulator } from './accumulators.js';
import type { MetricAccumulator } from './accumulators.js';
import { EmptySplitError, METRICS } from './definitions.js';
import type { TaskMetrics } from './definitions.js';

const DEG = 180 / Math.PI;

function segTask(classes: number, h: number, w: number, name = 'seg'): Task {
  return resolveTask({ name, kind: 'segmentation', classes, size: [h, w] }, [h, w, 3]);
}
function depthTask(h: number, w: number): Task {
  return resolveTask({ name: 'depth', kind: 'depth', size: [h, w] }, [h, w, 3]);
}
function normalsTask(h: number, w: number): Task {
  return resolveTask({ name: 'normal', kind: 'normals', size: [h, w] }, [h, w, 3]);
}
function classTask(classes: number): Task {
  return resolveTask({ name: 'cls', kind: 'classification', classes }, [4, 4, 1]);
}

/** Every metric of the kind is present and finite; nothing else. */
function expectComplete(m: TaskMetrics, kind: TaskKind): void {
  expect(m.kind).toBe(kind);
  expect(Object.keys(m.values).sort()).toEqual(METRICS[kind].map((d) => d.name).sort());
  for (const [k, v] of Object.entries(m.values)) expect(Number.isFinite(v), k).toBe(true);
  for (const v of m.perClassIoU ?? []) if (v !== null) expect(Number.isFinite(v)).toBe(true);
}

/** The exact angle (degrees) between raw prediction and label 3-vectors, as the definition says. */
function exactAngles(p: Float32Array, g: Float32Array): number[] {
  const out: number[] = [];
  for (let j = 0; j < g.length; j += 3) {
    const gx = g[j]!;
    const gy = g[j + 1]!;
    const gz = g[j + 2]!;
    if (gx === 0 && gy === 0 && gz === 0) continue;
    const norm = Math.hypot(p[j]!, p[j + 1]!, p[j + 2]!);
    if (norm === 0) {
      out.push(90);
      continue;
    }
    const dot = (p[j]! * gx + p[j + 1]! * gy + p[j + 2]! * gz) / norm;
    out.push(Math.acos(Math.min(1, Math.max(-1, dot))) * DEG);
  }
  return out;
}

function exactMedian(values: readonly number[]): number {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

function unitVector(rng: Rng): [number, number, number] {
  for (;;) {
    const v: [number, number, number] = [rng.normal(), rng.normal(), rng.normal()];
    const n = Math.hypot(...v);
    if (n > 1e-3) return [v[0] / n, v[1] / n, v[2] / n];
  }
}

/** Random predictions and labels of `b` instances of `task`, with invalid labels and hard cases. */
function randomData(task: Task, rng: Rng, b: number): { prediction: Prediction; label: Label } {
  const size = b * task.labelSize;
  switch (task.kind) {
    case 'classification':
    case 'segmentation': {
      const c = task.classes;
      const label = new Int32Array(size);
      const prediction = new Int32Array(size);
      for (let i = 0; i < size; i++) {
        // skewed classes (the last one is rare), 10 % ignored
        const g = rng.uniform() < 0.1 ? task.ignoreIndex : Math.min(c - 1, rng.int(0, c + 2) >> 1);
        label[i] = g;
        prediction[i] = g >= 0 && rng.uniform() < 0.6 ? g : rng.int(0, c);
      }
      return { prediction, label };
    }
    case 'depth': {
      const label = new Float32Array(size);
      const prediction = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        const g = rng.uniform() < 0.1 ? 0 : 0.5 + 9.5 * rng.uniform();
        label[i] = g;
        prediction[i] = (g === 0 ? 5 : g) * (1 + 0.3 * rng.normal()); // some negative
      }
      return { prediction, label };
    }
    case 'normals': {
      const label = new Float32Array(size);
      const prediction = new Float32Array(size);
      for (let j = 0; j < size; j += 3) {
        const g = rng.uniform() < 0.1 ? ([0, 0, 0] as const) : unitVector(rng);
        label.set(g, j);
        const r = rng.uniform();
        if (r < 0.02) continue; // zero prediction
        const scale = 0.1 + 5 * rng.uniform(); // raw: not unit length
        const noise = r < 0.5 ? 0.2 : 1.5;
        const base = g[0] === 0 && g[1] === 0 && g[2] === 0 ? unitVector(rng) : g;
        prediction.set(
          base.map((v) => (v + noise * rng.normal()) * scale),
          j,
        );
      }
      return { prediction, label };
    }
  }
}

type Prediction = Int32Array | Float32Array;
type Label = Int32Array | Float32Array;

/** Instances `[from, to)` of flat per-instance arrays. */
function slice<T extends Int32Array | Float32Array>(
  a: T,
  per: number,
  from: number,
  to: number,
): T {
  return a.subarray(from * per, to * per) as T;
}

/** Exact equality of counts / confusion-derived values, 1e-12 relative for float sums. */
function expectSameMetrics(a: TaskMetrics, b: TaskMetrics): void {
  expect(a.kind).toBe(b.kind);
  expect(a.count).toBe(b.count);
  expect(a.perClassIoU).toEqual(b.perClassIoU);
  const floatSums = new Set(['absErr', 'relErr', 'meanAngle']);
  for (const [k, v] of Object.entries(a.values)) {
    const w = b.values[k]!;
    if (floatSums.has(k)) expect(Math.abs(v - w), k).toBeLessThanOrEqual(1e-12 * Math.abs(w));
    else expect(v, k).toBe(w);
  }
}

describe('test vectors (baselines.md §7)', () => {
  const gt = Int32Array.of(0, 0, 1, -1, 1, 1, 2, 2);
  const pred = Int32Array.of(0, 1, 1, 2, 1, 0, 2, 0);

  it('§7.1 segmentation, C = 3', () => {
    const acc = createAccumulator(segTask(3, 2, 4));
    acc.update(pred, gt);
    const m = acc.result();
    expectComplete(m, 'segmentation');
    expect(m.count).toBe(7); // the ignored pixel is dropped
    expect(acc.count).toBe(7);
    expect(m.values['pixelAccuracy']).toBeCloseTo(4 / 7, 12);
    expect(m.perClassIoU).toEqual([0.25, 0.5, 0.5]);
    expect(m.values['mIoU']).toBeCloseTo(0.416667, 6);
  });

  it('§7.1 segmentation, C = 4: the zero-union class is null and left out of the mean', () => {
    const acc = createAccumulator(segTask(4, 2, 4));
    acc.update(pred, gt);
    const m = acc.result();
    expectComplete(m, 'segmentation');
    expect(m.perClassIoU).toEqual([0.25, 0.5, 0.5, null]);
    expect(m.values['mIoU']).toBeCloseTo(0.416667, 6);
    expect(m.values['mIoU']).toBe(5 / 12);
    expect(m.values['pixelAccuracy']).toBeCloseTo(4 / 7, 12);
  });

  it('§7.2 depth', () => {
    const acc = createAccumulator(depthTask(1, 5));
    acc.update(Float32Array.of(1.2, 1.5, 3.0, 4.0, 0.8), Float32Array.of(1.0, 2.0, 0.0, 4.0, 0.5));
    const m = acc.result();
    expectComplete(m, 'depth');
    expect(m.count).toBe(4);
    expect(m.values['absErr']).toBeCloseTo(0.25, 6);
    expect(m.values['relErr']).toBeCloseTo(0.2625, 6);
    expect(m.values['delta1']).toBe(0.5); // ratios 1.2, 1.3333, 1.0, 1.6
    expect(m.values['delta2']).toBe(0.75); // 1.6 ≥ 1.5625
    expect(m.values['delta3']).toBe(1);
  });

  it('§7.3 normals', () => {
    const acc = createAccumulator(normalsTask(1, 4));
    const g = Float32Array.of(0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0);
    const p = Float32Array.of(0, 0.1, 1, 0, 1, 1, 5, 5, 5, -1, 0, 0);
    const angles = exactAngles(p, g);
    expect(angles[0]).toBeCloseTo(5.710593, 5);
    expect(angles[1]).toBeCloseTo(45, 5);
    expect(angles[2]).toBeCloseTo(180, 5);
    acc.update(p, g);
    const m = acc.result();
    expectComplete(m, 'normals');
    expect(m.count).toBe(3);
    expect(m.values['meanAngle']).toBeCloseTo(76.903531, 5);
    expect(Math.abs(m.values['medianAngle']! - 45)).toBeLessThanOrEqual(0.001);
    expect(m.values['within11_25']).toBe(1 / 3);
    expect(m.values['within22_5']).toBe(1 / 3);
    expect(m.values['within30']).toBe(1 / 3);
  });

  it('classification: a hand example', () => {
    const acc = createAccumulator(classTask(3));
    // labels −1 (ignore index) and 5 (outside [0, 3)) are skipped; 3 of the 5 others are right
    acc.update(Int32Array.of(0, 2, 2, 1, 1, 0, 1), Int32Array.of(0, 1, 2, -1, 1, 2, 5));
    const m = acc.result();
    expectComplete(m, 'classification');
    expect(m.count).toBe(5);
    expect(m.values['accuracy']).toBe(3 / 5);
    expect(m.perClassIoU).toBeUndefined();
  });
});

describe('batch-order invariance', () => {
  const tasks: Task[] = [classTask(5), segTask(6, 6, 5), depthTask(5, 7), normalsTask(4, 6)];
  for (const task of tasks) {
    it(`${task.kind}: one batch = shuffled batches = merged shards`, () => {
      const rng = createRng(17).fork(task.kind);
      const b = task.kind === 'classification' ? 997 : 150;
      const { prediction, label } = randomData(task, rng, b);
      const per = task.labelSize;

      const whole = createAccumulator(task);
      whole.update(prediction, label);
      const reference = whole.result();
      expectComplete(reference, task.kind);

      // random batch sizes 1…9, fed in shuffled order
      const ranges: [number, number][] = [];
      for (let i = 0; i < b;) {
        const j = Math.min(b, i + rng.int(1, 10));
        ranges.push([i, j]);
        i = j;
      }
      const batched = createAccumulator(task);
      for (const [i, j] of rng.shuffle(ranges)) {
        batched.update(slice(prediction, per, i, j), slice(label, per, i, j));
      }
      expectSameMetrics(batched.result(), reference);

      // two shards, merged both ways, plus an empty accumulator merged in
      const shardA = createAccumulator(task);
      const shardB = createAccumulator(task);
      for (const [i, j] of rng.shuffle(ranges)) {
        (rng.uniform() < 0.5 ? shardA : shardB).update(
          slice(prediction, per, i, j),
          slice(label, per, i, j),
        );
      }
      const ab = createAccumulator(task);
      ab.merge(shardA);
      ab.merge(createAccumulator(task));
      ab.merge(shardB);
      const ba = createAccumulator(task);
      ba.merge(shardB);
      ba.merge(shardA);
      expectSameMetrics(ab.result(), reference);
      expectSameMetrics(ba.result(), reference);
      expect(shardA.count + shardB.count).toBe(reference.count); // merge leaves `other` as is

      // reset, then the same data again
      batched.reset();
      expect(batched.count).toBe(0);
      batched.update(prediction, label);
      expectSameMetrics(batched.result(), reference);
    });
  }
});

describe('edge cases', () => {
  it('a class absent from a split: null IoU, no NaN anywhere', () => {
    const acc = createAccumulator(segTask(5, 2, 3));
    // classes 3 and 4 appear in neither labels nor predictions
    acc.update(Int32Array.of(0, 1, 2, 2, 1, 0), Int32Array.of(0, 1, 1, 2, -1, 0));
    const m = acc.result();
    expectComplete(m, 'segmentation');
    expect(m.perClassIoU![3]).toBeNull();
    expect(m.perClassIoU![4]).toBeNull();
    // H00 = 2, H11 = 1, H12 = 1, H22 = 1 → IoU = [2/2, 1/2, 1/2]
    expect(m.perClassIoU!.slice(0, 3)).toEqual([1, 0.5, 0.5]);
    expect(m.values['mIoU']).toBeCloseTo(2 / 3, 12);
    // a class only predicted (never labelled) has a union > 0 and IoU 0
    const acc2 = createAccumulator(segTask(3, 1, 2));
    acc2.update(Int32Array.of(0, 2), Int32Array.of(0, 0));
    expect(acc2.result().perClassIoU).toEqual([0.5, null, 0]);
  });

  it('depth: negative and zero predictions count as δ misses, not NaN', () => {
    const acc = createAccumulator(depthTask(1, 5));
    acc.update(Float32Array.of(-1, -0.5, 0, 2, 7), Float32Array.of(1, 1, 1, 2, 0));
    const m = acc.result();
    expectComplete(m, 'depth');
    expect(m.count).toBe(4);
    expect(m.values['delta1']).toBe(0.25);
    expect(m.values['delta3']).toBe(0.25);
    expect(m.values['absErr']).toBeCloseTo((2 + 1.5 + 1 + 0) / 4, 12); // raw p, not clamped
    expect(m.values['relErr']).toBeCloseTo((2 + 1.5 + 1 + 0) / 4, 12);
  });

  it('normals: a zero prediction is 90° from any label', () => {
    const acc = createAccumulator(normalsTask(1, 2));
    acc.update(Float32Array.of(0, 0, 0, 0, 0, 0), Float32Array.of(0, 0, 1, 1, 0, 0));
    const m = acc.result();
    expectComplete(m, 'normals');
    expect(m.values['meanAngle']).toBe(90);
    expect(Math.abs(m.values['medianAngle']! - 90)).toBeLessThanOrEqual(0.0005 + 1e-9);
    expect(m.values['within30']).toBe(0);
  });

  it('an empty accumulator throws EmptySplitError naming the task', () => {
    const task = segTask(3, 1, 2);
    const acc = createAccumulator(task);
    expect(acc.count).toBe(0);
    expect(() => acc.result()).toThrow(EmptySplitError);
    expect(() => acc.result()).toThrow(/task seg/);
    try {
      acc.result('forget split');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EmptySplitError);
      expect((e as EmptySplitError).what).toBe('forget split, task seg');
      expect((e as EmptySplitError).code).toBe('E_EMPTY');
    }
    // only ignored labels: still empty
    acc.update(Int32Array.of(0, 1), Int32Array.of(-1, -1));
    expect(() => acc.result()).toThrow(EmptySplitError);
    // an empty batch is a no-op
    acc.update(new Int32Array(0), new Int32Array(0));
    expect(acc.count).toBe(0);
    // after a reset
    acc.update(Int32Array.of(0, 1), Int32Array.of(0, 1));
    expect(acc.result().values['mIoU']).toBe(1);
    acc.reset();
    expect(() => acc.result()).toThrow(EmptySplitError);
    for (const t of [classTask(2), depthTask(1, 1), normalsTask(1, 1)]) {
      expect(() => createAccumulator(t).result('test split')).toThrow(`test split, task ${t.name}`);
    }
    const depth = createAccumulator(depthTask(1, 2));
    depth.update(Float32Array.of(1, 2), Float32Array.of(0, Number.NaN));
    expect(() => depth.result()).toThrow(EmptySplitError);
    const normal = createAccumulator(normalsTask(1, 1));
    normal.update(Float32Array.of(1, 0, 0), Float32Array.of(0, 0, 0));
    expect(() => normal.result()).toThrow(EmptySplitError);
  });

  it('invalid shapes are ShapeErrors', () => {
    const seg = createAccumulator(segTask(3, 2, 4));
    expect(() => seg.update(new Int32Array(7), new Int32Array(7))).toThrow(ShapeError);
    expect(() => seg.update(new Int32Array(7), new Int32Array(7))).toThrow(/multiple of .*8/);
    expect(() => seg.update(new Int32Array(24), new Int32Array(8))).toThrow(ShapeError);
    expect(() => seg.update(new Int32Array(24), new Int32Array(8))).toThrow(/not logits/);
    const cls = createAccumulator(classTask(3));
    expect(() => cls.update(new Int32Array(3), new Int32Array(4))).toThrow(ShapeError);
    const depth = createAccumulator(depthTask(2, 2));
    expect(() => depth.update(new Float32Array(8), new Float32Array(4))).toThrow(ShapeError);
    expect(() => depth.update(new Float32Array(6), new Float32Array(6))).toThrow(ShapeError);
    const normals = createAccumulator(normalsTask(1, 2));
    expect(() => normals.update(new Float32Array(2), new Float32Array(6))).toThrow(ShapeError);
    expect(() => normals.update(new Float32Array(3), new Float32Array(3))).toThrow(ShapeError);
  });

  it('wrong array types, out-of-range class ids and non-finite predictions are ConfigErrors', () => {
    const seg = createAccumulator(segTask(3, 1, 2));
    expect(() => seg.update(new Float32Array(2), new Int32Array(2))).toThrow(ConfigError);
    expect(() => seg.update(new Float32Array(2), new Int32Array(2))).toThrow(/Int32Array/);
    expect(() => seg.update(new Int32Array(2), new Float32Array(2))).toThrow(ConfigError);
    expect(() => seg.update(Int32Array.of(0, 3), Int32Array.of(0, 1))).toThrow(ConfigError);
    expect(() => seg.update(Int32Array.of(0, 3), Int32Array.of(0, 1))).toThrow(
      /prediction\[1\] = 3.*\[0, 3\)/,
    );
    // even where the label is ignored: a bad class id is a bug, never dropped
    expect(() => seg.update(Int32Array.of(-1, 0), Int32Array.of(-1, 1))).toThrow(
      /prediction\[0\] = -1/,
    );
    const cls = createAccumulator(classTask(2));
    expect(() => cls.update(Int32Array.of(2), Int32Array.of(1))).toThrow(ConfigError);
    const depth = createAccumulator(depthTask(1, 2));
    expect(() => depth.update(Int32Array.of(1, 1), Float32Array.of(1, 1))).toThrow(ConfigError);
    expect(() => depth.update(Float32Array.of(1, Number.NaN), Float32Array.of(1, 1))).toThrow(
      /prediction\[1\].*finite/,
    );
    const normals = createAccumulator(normalsTask(1, 1));
    expect(() => normals.update(Float32Array.of(Infinity, 0, 0), Float32Array.of(1, 0, 0))).toThrow(
      ConfigError,
    );
    // a throwing update leaves the state unchanged
    for (const acc of [seg, cls, depth, normals]) expect(acc.count).toBe(0);
  });

  it('merge refuses another task or kind', () => {
    const a = createAccumulator(segTask(3, 1, 2));
    expect(() => a.merge(createAccumulator(segTask(4, 1, 2)))).toThrow(ConfigError);
    expect(() => a.merge(createAccumulator(segTask(3, 1, 2, 'other')))).toThrow(/tasks differ/);
    expect(() => a.merge(createAccumulator(depthTask(1, 2)))).toThrow(ConfigError);
    const fake: MetricAccumulator = {
      task: segTask(3, 1, 2),
      count: 1,
      update: () => undefined,
      merge: () => undefined,
      result: () => ({ kind: 'segmentation', count: 1, values: {} }),
      reset: () => undefined,
    };
    expect(() => a.merge(fake)).toThrow(ConfigError);
  });
});

describe('median of the normal angles (histogram)', () => {
  /** `n` random angles in [0°, 180°] against the label (0, 0, 1), with extremes mixed in. */
  function angleData(rng: Rng, n: number): { p: Float32Array; g: Float32Array } {
    const p = new Float32Array(3 * n);
    const g = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) {
      const r = rng.uniform();
      const theta = r < 0.01 ? 0 : r < 0.02 ? Math.PI : Math.PI * rng.uniform() ** 2;
      const phi = 2 * Math.PI * rng.uniform();
      const scale = 0.5 + rng.uniform();
      p[3 * i] = scale * Math.sin(theta) * Math.cos(phi);
      p[3 * i + 1] = scale * Math.sin(theta) * Math.sin(phi);
      p[3 * i + 2] = scale * Math.cos(theta);
      g[3 * i + 2] = 1;
    }
    return { p, g };
  }

  for (const n of [1, 2, 3001, 4000]) {
    it(`is within 0.0005° of the exact sorted median (n = ${n})`, () => {
      const { p, g } = angleData(createRng(n), n);
      const task = normalsTask(1, n);
      const acc = createAccumulator(task);
      acc.update(p, g);
      const m = acc.result();
      const exact = exactAngles(p, g);
      expect(Math.abs(m.values['medianAngle']! - exactMedian(exact))).toBeLessThanOrEqual(
        0.0005 + 1e-9,
      );
      const mean = exact.reduce((a, b) => a + b, 0) / n;
      expect(m.values['meanAngle']).toBeCloseTo(mean, 9);
      expect(m.values['within30']).toBe(exact.filter((a) => a < 30).length / n);
    });
  }

  it('a large stream (2²⁰ pixels in 64 batches): same median, fixed memory', () => {
    const rng = createRng(5);
    const task = normalsTask(64, 64); // 4096 pixels per instance
    const acc = createAccumulator(task);
    const angles: number[] = [];
    for (let batch = 0; batch < 64; batch++) {
      const { p, g } = angleData(rng, 4 * 4096);
      acc.update(p, g);
      for (const a of exactAngles(p, g)) angles.push(a);
    }
    const m = acc.result();
    expect(m.count).toBe(1 << 20);
    expect(Math.abs(m.values['medianAngle']! - exactMedian(angles))).toBeLessThanOrEqual(
      0.0005 + 1e-9,
    );
    let sum = 0;
    for (const a of angles) sum += a;
    expect(Math.abs(m.values['meanAngle']! - sum / angles.length)).toBeLessThan(1e-9);
  });
});

describe('negative control: per-batch averaged mIoU (pre-2020 MTAN) ≠ accumulated mIoU', () => {
  it('averaging per-batch mIoU depends on the batching; accumulating over the split does not', () => {
    // batch 1: 4 pixels of class 0, all right → batch mIoU 1 (class 1 has a zero union);
    // batch 2: gt [0, 1, 1, 1], pred all 1 → IoU = [0, 3/4], batch mIoU 0.375.
    const task = segTask(2, 2, 2);
    const batches = [
      { p: Int32Array.of(0, 0, 0, 0), g: Int32Array.of(0, 0, 0, 0) },
      { p: Int32Array.of(1, 1, 1, 1), g: Int32Array.of(0, 1, 1, 1) },
    ];
    const perBatch = batches.map(({ p, g }) => {
      const acc = createAccumulator(task);
      acc.update(p, g);
      return acc.result().values['mIoU']!;
    });
    const averaged = (perBatch[0]! + perBatch[1]!) / 2;
    expect(averaged).toBe(0.6875);

    const accumulated = createAccumulator(task);
    for (const { p, g } of batches) accumulated.update(p, g);
    // H = [[4, 1], [0, 3]] → IoU = [4/5, 3/4]
    const mIoU = accumulated.result().values['mIoU']!;
    expect(mIoU).toBeCloseTo(0.775, 12);
    expect(Math.abs(mIoU - averaged)).toBeGreaterThan(0.05);

    // the same split as one batch: the accumulated value is unchanged, the average would be 0.775
    const one = createAccumulator(task);
    one.update(Int32Array.of(0, 0, 0, 0, 1, 1, 1, 1), Int32Array.of(0, 0, 0, 0, 0, 1, 1, 1));
    expect(one.result().values['mIoU']).toBe(mIoU);
  });
});
