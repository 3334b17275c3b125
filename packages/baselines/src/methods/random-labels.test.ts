import { createRng } from '@mtu/core-tensors';
import { disposeBatch, getTask, readBatch } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { conformanceChecks, createConformanceFixture } from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { labelStats, randomLabels, randomTargets } from './random-labels.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4, earlyStop: false };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: random-labels', () => {
  for (const check of conformanceChecks(randomLabels, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('random-labels: random targets', () => {
  const ds = createToyDataset({ seed: 3, trainSize: 16, testSize: 4, size: 8 });
  const ids = [0, 1, 2, 3, 4, 5, 6, 7];

  function draw(
    t: string,
    seed: number,
    excludeTrueClass = true,
  ): { y: Float32Array | Int32Array; r: Float32Array | Int32Array } {
    const batch = readBatch(ds, ids);
    try {
      const task = getTask(ds, t);
      const stats = labelStats(ds, t, Int32Array.from(ids));
      const out = randomTargets(task, batch.labels[t]!, createRng(seed).fork(t), {
        excludeTrueClass,
        depth: stats,
      });
      const r = out.dataSync() as Float32Array | Int32Array;
      const y = batch.labels[t]!.dataSync() as Float32Array | Int32Array;
      expect(out.shape).toEqual(batch.labels[t]!.shape);
      expect(out.dtype).toBe(batch.labels[t]!.dtype);
      out.dispose();
      return { y: y.slice(), r: r.slice() };
    } finally {
      disposeBatch(batch);
    }
  }

  it('classes and pixels: never the true class, always a valid class, ignore kept', () => {
    for (const t of ['classification', 'segmentation']) {
      const c = getTask(ds, t).classes;
      const { y, r } = draw(t, 1);
      let valid = 0;
      y.forEach((v, i) => {
        if (v < 0 || v >= c) {
          expect(r[i]).toBe(v);
        } else {
          valid++;
          expect(r[i]).not.toBe(v);
          expect(r[i]).toBeGreaterThanOrEqual(0);
          expect(r[i]).toBeLessThan(c);
        }
      });
      expect(valid).toBeGreaterThan(0);
    }
  });

  it('without exclusion the draw is uniform over all classes (hits the true class sometimes)', () => {
    const { y, r } = draw('segmentation', 1, false);
    const same = Array.from(y).filter((v, i) => v >= 0 && r[i] === v).length;
    expect(same).toBeGreaterThan(0);
  });

  it('normals: unit length on valid pixels, zero kept', () => {
    const { y, r } = draw('normals', 2);
    let valid = 0;
    for (let i = 0; i < y.length; i += 3) {
      if (y[i] === 0 && y[i + 1] === 0 && y[i + 2] === 0) {
        expect([r[i], r[i + 1], r[i + 2]]).toEqual([0, 0, 0]);
      } else {
        valid++;
        expect(Math.hypot(r[i]!, r[i + 1]!, r[i + 2]!)).toBeCloseTo(1, 5);
      }
    }
    expect(valid).toBeGreaterThan(0);
  });

  it('depth: positive truncated Gaussian with the train statistics, invalid kept at 0', () => {
    const { y, r } = draw('depth', 3);
    const stats = labelStats(ds, 'depth', Int32Array.from(ids));
    const drawn: number[] = [];
    y.forEach((v, i) => {
      if (v > 0) {
        expect(r[i]).toBeGreaterThan(0);
        drawn.push(r[i]!);
      } else {
        expect(r[i]).toBe(0);
      }
    });
    const mean = drawn.reduce((a, b) => a + b, 0) / drawn.length;
    const std = Math.sqrt(drawn.reduce((a, b) => a + (b - mean) ** 2, 0) / drawn.length);
    expect(drawn.length).toBeGreaterThan(100);
    expect(Math.abs(mean - stats.mean)).toBeLessThan(0.2 * stats.std + 0.05);
    expect(std).toBeGreaterThan(0.7 * stats.std);
    expect(std).toBeLessThan(1.3 * stats.std);
    // Not the true depths.
    expect(drawn.some((v, k) => v !== y.filter((x) => x > 0)[k])).toBe(true);
  });

  it('deterministic per seed, different across seeds', () => {
    for (const t of ['segmentation', 'depth', 'normals']) {
      expect(draw(t, 7).r).toEqual(draw(t, 7).r);
      expect(draw(t, 7).r).not.toEqual(draw(t, 8).r);
    }
  });
});
