import { initBackend, tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { resolveTask } from '@mtu/datasets';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batchLoss, instanceLosses } from './losses.js';

beforeAll(() => initBackend({ prefer: 'cpu' }));
useLeakGuard({ beforeEach, afterEach });

const shape = [1, 2, 3] as const;

function values(t: tf.Tensor): number[] {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}

describe('instanceLosses (closed forms)', () => {
  it('classification: cross-entropy, ignore index contributes nothing', () => {
    const task = resolveTask({ name: 'c', kind: 'classification', classes: 2 }, shape);
    const logits = tf.tensor2d([
      [0, Math.log(3)],
      [0, 0],
      [5, 1],
    ]);
    const label = tf.tensor1d([1, -1, 0], 'int32');
    const { loss, count } = instanceLosses(task, logits, label);
    const l = values(loss);
    expect(l[0]).toBeCloseTo(Math.log(4 / 3), 6);
    expect(l[1]).toBe(0);
    expect(l[2]).toBeCloseTo(Math.log(1 + Math.exp(-4)), 6);
    expect(values(count)).toEqual([1, 0, 1]);
    tf.dispose([logits, label]);
  });

  it('segmentation: mean cross-entropy over the valid pixels of each instance', () => {
    const task = resolveTask({ name: 's', kind: 'segmentation', classes: 3, size: [1, 2] }, shape);
    // instance 0: pixel (0,0) uniform logits (CE ln 3), pixel (0,1) ignored; instance 1: all ignored.
    const logits = tf.tensor4d([0, 0, 0, 9, 9, 9, 1, 2, 3, 4, 5, 6], [2, 1, 2, 3]);
    const label = tf.tensor3d([2, -1, -1, -1], [2, 1, 2], 'int32');
    const { loss, count } = instanceLosses(task, logits, label);
    const l = values(loss);
    expect(l[0]).toBeCloseTo(Math.log(3), 6);
    expect(l[1]).toBe(0);
    expect(values(count)).toEqual([1, 0]);
    tf.dispose([logits, label]);
  });

  it('depth: L1 on pixels with depth > 0', () => {
    const task = resolveTask({ name: 'd', kind: 'depth', size: [1, 3] }, shape);
    const pred = tf.tensor4d([5, 1, 2], [1, 1, 3, 1]);
    const label = tf.tensor4d([0, 3, 2.5], [1, 1, 3, 1]);
    const { loss, count } = instanceLosses(task, pred, label);
    expect(values(loss)[0]).toBeCloseTo((2 + 0.5) / 2, 6);
    expect(values(count)).toEqual([2]);
    tf.dispose([pred, label]);
  });

  it('normals: 1 − cos on pixels with a non-zero label', () => {
    const task = resolveTask({ name: 'n', kind: 'normals', size: [1, 3] }, shape);
    const pred = tf.tensor4d([0, 0, 1, 1, 0, 0, 0, 1, 0], [1, 1, 3, 3]);
    const label = tf.tensor4d([0, 0, 1, 0, 0, 0, 0, -1, 0], [1, 1, 3, 3]);
    const { loss, count } = instanceLosses(task, pred, label);
    expect(values(loss)[0]).toBeCloseTo((0 + 2) / 2, 6);
    expect(values(count)).toEqual([2]);
    tf.dispose([pred, label]);
  });

  it('rejects mismatched shapes', () => {
    const task = resolveTask({ name: 'd', kind: 'depth', size: [1, 3] }, shape);
    const pred = tf.zeros([1, 1, 2, 1]);
    const label = tf.zeros([1, 1, 3, 1]);
    expect(() => instanceLosses(task, pred, label)).toThrow(/d output: expected \[1, 1, 3, 1\]/);
    tf.dispose([pred, label]);
  });
});

describe('batchLoss', () => {
  const task = resolveTask({ name: 'd', kind: 'depth', size: [1, 1] }, shape);
  // Per-instance L1: 2, 4 and "no valid pixel".
  const run = (mask?: number[]) =>
    tf.tidy(() => {
      const pred = tf.tensor4d([3, 5, 7], [3, 1, 1, 1]);
      const label = tf.tensor4d([1, 1, 0], [3, 1, 1, 1]);
      return batchLoss(
        task,
        pred,
        label,
        mask === undefined ? undefined : tf.tensor1d(mask),
      ).dataSync()[0]!;
    });

  it('averages over supervised instances with a valid label', () => {
    expect(run()).toBeCloseTo(3, 6);
    expect(run([1, 1, 1])).toBeCloseTo(3, 6);
    expect(run([0, 1, 1])).toBeCloseTo(4, 6);
    expect(run([0, 0, 1])).toBe(0);
    expect(Number.isNaN(run([0, 0, 0]))).toBe(false);
  });
});
