import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar, Tensor } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { disposeBatch, getTask, readBatch, requestViews } from '@mtu/datasets';
import type { Batch, Dataset, SupervisionMask, TaskKind } from '@mtu/datasets';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { tinyModel } from './__fixtures__/tiny.js';
import {
  forward,
  instanceLosses,
  perInstanceGradients,
  sharedPassGradients,
  valueAndGradients,
} from './index.js';
import type { MultiTaskModel } from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

function tiny(kinds: readonly TaskKind[], stages = 2) {
  return tinyModel(kinds, { trainSize: 9, size: 8, stages, seed: 5, noiseSeed: 13 });
}

/** A bounded mean loss like the forget objective's: mean over valid instances of min(ℓ, cap). */
function cappedLoss(ds: Dataset, t: string, output: Tensor, labels: Tensor): Scalar {
  const { loss, count } = instanceLosses(getTask(ds, t), output, labels);
  const has = tf.cast(tf.greater(count, 0), 'float32');
  return tf.div(tf.sum(tf.mul(tf.minimum(loss, 0.8), has)), tf.maximum(tf.sum(has), 1));
}

function values(t: Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

interface Case {
  readonly target: string;
  readonly requests: readonly { task: string; groups: readonly string[] }[];
  readonly supervision?: SupervisionMask;
}

/**
 * Runs the shared pass and the separate calls it replaces on the same batch; returns both, as
 * plain arrays (the tensors are disposed).
 */
function bothWays(
  model: MultiTaskModel,
  ds: Dataset,
  batch: Batch,
  c: Case,
): {
  shared: { value: number; grads: Record<string, Float32Array>; columns: Float32Array[] };
  separate: { value: number; grads: Record<string, Float32Array>; columns: Float32Array[] };
} {
  const groups = ['shared', c.target];
  const loss = (out: Record<string, Tensor>): Scalar =>
    cappedLoss(ds, c.target, out[c.target]!, batch.labels[c.target]!);
  const r = sharedPassGradients(model, ds, batch, {
    objective: { tasks: [c.target], groups, loss },
    perInstance: c.requests,
    ...(c.supervision === undefined ? {} : { supervision: c.supervision }),
  });
  const shared = {
    value: r.value,
    grads: Object.fromEntries(Object.entries(r.grads).map(([n, g]) => [n, values(g)])),
    columns: r.columns.map(values),
  };
  tf.dispose([...Object.values(r.grads), ...r.columns]);
  const v = valueAndGradients(
    model,
    (p: NamedTensorMap) => loss(forward(model.spec, p, batch.x, [c.target])),
    { tasks: [c.target], groups },
  );
  const columns = c.requests.map((q) => {
    const G = perInstanceGradients(model, ds, batch.ids, {
      tasks: [q.task],
      groups: q.groups,
      batchSize: batch.ids.length,
      ...(c.supervision === undefined ? {} : { supervision: c.supervision }),
    });
    const out = values(G);
    G.dispose();
    return out;
  });
  const separate = {
    value: v.value,
    grads: Object.fromEntries(Object.entries(v.grads).map(([n, g]) => [n, values(g)])),
    columns,
  };
  tf.dispose(Object.values(v.grads));
  return { shared, separate };
}

function maxGap(a: Float32Array, b: Float32Array): number {
  let gap = 0;
  for (let i = 0; i < a.length; i++) gap = Math.max(gap, Math.abs(a[i]! - b[i]!));
  return gap;
}

describe('sharedPassGradients: one backbone forward pass, the same bits as the separate passes', () => {
  it('encoder–decoder: a segmentation objective with depth, normals and classification (head included) per instance', () => {
    const { ds, model } = tiny(['segmentation', 'depth', 'normals', 'classification']);
    const batch = readBatch(ds, [0, 2, 3, 5, 8]);
    try {
      const { shared, separate } = bothWays(model, ds, batch, {
        target: 'segmentation',
        requests: [
          { task: 'depth', groups: ['shared'] },
          { task: 'normals', groups: ['shared'] },
          { task: 'classification', groups: ['shared', 'classification'] },
        ],
      });
      expect(shared.value).toBe(separate.value);
      expect(Object.keys(shared.grads)).toEqual(Object.keys(separate.grads));
      for (const [name, g] of Object.entries(separate.grads)) {
        expect(shared.grads[name], name).toEqual(g);
      }
      expect(shared.columns).toHaveLength(3);
      shared.columns.forEach((col, k) => expect(col, `request ${k}`).toEqual(separate.columns[k]));
      // Negative control: each copy carries only its own task's gradient. Had the copies been mixed
      // (one backward pass of the summed losses), depth's columns would be far from its own.
      const mixed = perInstanceGradients(model, ds, batch.ids, {
        tasks: ['depth', 'normals'],
        groups: ['shared'],
      });
      expect(maxGap(values(mixed), shared.columns[0]!)).toBeGreaterThan(1e-3);
      mixed.dispose();
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('conv net (classification heads on the bottleneck), the objective task again per instance, under a supervision mask', () => {
    const { ds, model } = tiny(['classification', 'depth'], 1);
    const supervision = requestViews(ds, { instances: [1, 4], tasks: ['depth'] }).supervision;
    const batch = readBatch(ds, [1, 4, 6]);
    try {
      const { shared, separate } = bothWays(model, ds, batch, {
        target: 'classification',
        requests: [
          { task: 'classification', groups: ['shared', 'classification'] },
          { task: 'depth', groups: ['shared', 'depth'] },
        ],
        supervision,
      });
      expect(shared.value).toBe(separate.value);
      for (const [name, g] of Object.entries(separate.grads)) {
        expect(shared.grads[name], name).toEqual(g);
      }
      shared.columns.forEach((col, k) => expect(col, `request ${k}`).toEqual(separate.columns[k]));
      // Instances 1 and 4 have no usable depth label: their depth columns are zero.
      const d = shared.columns[1]!;
      const n = 3;
      for (const k of [0, 1]) {
        let norm = 0;
        for (let r = k; r < d.length; r += n) norm += Math.abs(d[r]!);
        expect(norm, `instance column ${k}`).toBe(0);
      }
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('positions: only the listed instances are tiled, each column the same bits as its own per-instance gradient', () => {
    const { ds, model } = tiny(['segmentation', 'depth', 'normals']);
    const supervision = requestViews(ds, { instances: [2], tasks: ['segmentation'] }).supervision;
    const batch = readBatch(ds, [0, 2, 3, 5, 8]);
    try {
      const loss = (out: Record<string, Tensor>): Scalar =>
        cappedLoss(ds, 'segmentation', out.segmentation!, batch.labels.segmentation!);
      const groups = ['shared', 'segmentation'];
      const r = sharedPassGradients(model, ds, batch, {
        objective: { tasks: ['segmentation'], groups, loss },
        perInstance: [
          { task: 'depth', groups: ['shared'], positions: [3, 1, 2] },
          { task: 'normals', groups: ['shared'], positions: [] },
          { task: 'segmentation', groups: ['shared', 'segmentation'] },
        ],
        supervision,
      });
      const v = valueAndGradients(
        model,
        (p: NamedTensorMap) => loss(forward(model.spec, p, batch.x, ['segmentation'])),
        { tasks: ['segmentation'], groups },
      );
      const own = (ids: number[], task: string, g: string[]): Float32Array => {
        const G = perInstanceGradients(model, ds, ids, { tasks: [task], groups: g, supervision });
        const out = values(G);
        G.dispose();
        return out;
      };
      try {
        expect(r.value).toBe(v.value);
        for (const [name, g] of Object.entries(v.grads)) {
          expect(values(r.grads[name]!), name).toEqual(values(g));
        }
        expect(r.columns.map((c) => c.shape[1])).toEqual([3, 0, 5]);
        expect(r.columns[1]!.shape[0]).toBe(model.layout.groups.get('shared')!.size);
        // Batch positions 3, 1 and 2 are instances 5, 2 and 3, in that order.
        expect(values(r.columns[0]!)).toEqual(own([5, 2, 3], 'depth', ['shared']));
        expect(values(r.columns[2]!)).toEqual(
          own([0, 2, 3, 5, 8], 'segmentation', ['shared', 'segmentation']),
        );
        // Negative control: the positions are honoured (the first two instances differ).
        expect(maxGap(values(r.columns[0]!), own([0, 2, 3], 'depth', ['shared']))).toBeGreaterThan(
          1e-4,
        );
      } finally {
        tf.dispose([...Object.values(r.grads), ...r.columns, ...Object.values(v.grads)]);
      }
      expect(() =>
        sharedPassGradients(model, ds, batch, {
          objective: { tasks: ['segmentation'], loss },
          perInstance: [{ task: 'depth', positions: [0, 5] }],
        }),
      ).toThrow(/perInstance\[0\]\.positions\[1\]/);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('keeps the tensor count flat across calls and names an unknown task', () => {
    const { ds, model } = tiny(['segmentation', 'depth'], 1);
    const batch = readBatch(ds, [0, 1]);
    try {
      const once = (): void => {
        const r = sharedPassGradients(model, ds, batch, {
          objective: {
            tasks: ['segmentation'],
            loss: (out) =>
              cappedLoss(ds, 'segmentation', out.segmentation!, batch.labels.segmentation!),
          },
          perInstance: [{ task: 'depth', groups: ['shared'] }],
        });
        tf.dispose([...Object.values(r.grads), ...r.columns]);
      };
      once();
      const before = tf.memory().numTensors;
      once();
      once();
      expect(tf.memory().numTensors).toBe(before);
      expect(() =>
        sharedPassGradients(model, ds, batch, {
          objective: { tasks: ['segmentation'], loss: () => tf.scalar(0) },
          perInstance: [{ task: 'albedo' }],
        }),
      ).toThrow(/albedo/);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });
});
