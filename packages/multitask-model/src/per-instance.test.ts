import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import type { SupervisionMask, TaskKind } from '@mtu/datasets';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { KINDS, tinyModel } from './__fixtures__/tiny.js';
import {
  forEachInstanceGradient,
  gradientVector,
  groupLayout,
  lossAndGradients,
  PER_INSTANCE_BATCH,
  perInstanceGradients,
} from './index.js';
import type { MultiTaskModel, PerInstanceOptions } from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

function tiny(kinds: readonly TaskKind[] = KINDS, stages = 2) {
  return tinyModel(kinds, { trainSize: 7, size: 8, stages, seed: 3, noiseSeed: 9 });
}

/**
 * The oracle: instance `id`'s gradient by definition, `lossAndGradients` on a batch holding that
 * instance alone, flattened over the groups; and its loss.
 */
function oracle(
  model: MultiTaskModel,
  ds: ReturnType<typeof tiny>['ds'],
  id: number,
  options: PerInstanceOptions,
): { g: Float32Array; loss: number } {
  const batch = readBatch(
    ds,
    [id],
    options.supervision === undefined ? {} : { supervision: options.supervision },
  );
  try {
    const groups = options.groups ?? model.layout.groupNames;
    const r = lossAndGradients(model, ds, batch, {
      tasks: options.tasks,
      groups,
      ...(options.weights === undefined ? {} : { weights: options.weights }),
      ...(options.params === undefined ? {} : { params: options.params }),
    });
    const v = gradientVector(model, r.grads, groups);
    const g = v.dataSync() as Float32Array;
    v.dispose();
    tf.dispose(r.grads);
    return { g: Float32Array.from(g), loss: r.loss };
  } finally {
    disposeBatch(batch);
  }
}

/** max |a − b| / max(1e-6, max |b|) over one column. */
function relGap(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let gap = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    gap = Math.max(gap, Math.abs((a[i] ?? NaN) - (b[i] ?? NaN)));
    scale = Math.max(scale, Math.abs(b[i] ?? 0));
  }
  return gap / scale;
}

/** Column `k` of a `[D, n]` matrix. */
function column(values: Float32Array, d: number, n: number, k: number): Float32Array {
  return Float32Array.from({ length: d }, (_, r) => values[r * n + k]!);
}

/** Checks every column of `perInstanceGradients` against the oracle of `ids[order[k]]`. */
function check(
  model: MultiTaskModel,
  ds: ReturnType<typeof tiny>['ds'],
  ids: readonly number[],
  options: PerInstanceOptions,
  order: readonly number[] = ids.map((_, k) => k),
): number {
  const G = perInstanceGradients(model, ds, ids, options);
  const [d, n] = G.shape;
  const values = G.dataSync() as Float32Array;
  G.dispose();
  expect(d).toBe(groupLayout(model, options.groups ?? model.layout.groupNames).size);
  expect(n).toBe(ids.length);
  let worst = 0;
  for (let k = 0; k < n; k++) {
    const ref = oracle(model, ds, ids[order[k]!]!, options);
    worst = Math.max(worst, relGap(column(values, d, n, k), ref.g));
  }
  return worst;
}

const TOL = 2e-5;

describe('perInstanceGradients from one batched pass equal the batch-1 gradients', () => {
  for (const kind of KINDS) {
    it(`${kind} (shared + head), batch sizes 1, 3 and 8`, () => {
      const { ds, model } = tiny();
      try {
        const ids = [0, 1, 2, 3, 4, 5, 6];
        for (const batchSize of [1, 3, 8]) {
          const gap = check(model, ds, ids, { tasks: [kind], groups: ['shared', kind], batchSize });
          expect(gap, `batch ${batchSize}`).toBeLessThan(TOL);
        }
        // Negative control: the columns are not interchangeable (each is its own instance's).
        expect(
          check(model, ds, ids, { tasks: [kind], groups: ['shared', kind] }, [1, 0, 2, 3, 4, 5, 6]),
        ).toBeGreaterThan(1e-3);
      } finally {
        model.dispose();
      }
    });
  }

  it('several weighted tasks, every group (heads of other tasks get zero rows)', () => {
    const { ds, model } = tiny();
    try {
      const gap = check(model, ds, [6, 2, 4], {
        tasks: ['segmentation', 'classification', 'normals'],
        weights: { segmentation: 0.5, normals: 2 },
      });
      expect(gap).toBeLessThan(TOL);
      // Head groups only: the backward pass stops at the heads.
      const heads = check(model, ds, [1, 3], {
        tasks: ['segmentation', 'depth'],
        groups: ['depth', 'segmentation'],
      });
      expect(heads).toBeLessThan(TOL);
    } finally {
      model.dispose();
    }
  });

  it('under a supervision mask (unsupervised labels contribute nothing) and at other parameter values', () => {
    const { ds, model } = tiny(['segmentation', 'depth'], 1);
    const supervision: SupervisionMask = requestViews(ds, {
      instances: [1, 3],
      tasks: ['depth'],
    }).supervision;
    const params: NamedTensorMap = tf.tidy(() =>
      Object.fromEntries(
        Object.entries(model.variables).map(([n, v]) => [
          n,
          tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 11)),
        ]),
      ),
    );
    try {
      const options = { tasks: ['depth', 'segmentation'], supervision, params, batchSize: 4 };
      expect(check(model, ds, [0, 1, 2, 3, 4], options)).toBeLessThan(TOL);
      // The look-ahead point matters: at the model's own weights the gradients differ.
      const G = perInstanceGradients(model, ds, [0], { tasks: ['depth'], params });
      const H = perInstanceGradients(model, ds, [0], { tasks: ['depth'] });
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(G, H))).dataSync()[0]!)).toBeGreaterThan(1e-4);
      tf.dispose([G, H]);
    } finally {
      tf.dispose(Object.values(params));
      model.dispose();
    }
  });

  it('forEachInstanceGradient visits every id in order with its loss, leak-free across chunks', () => {
    const { ds, model } = tiny(['depth', 'normals']);
    const supervision = requestViews(ds, { instances: [2], tasks: ['depth'] }).supervision;
    try {
      const options = { tasks: ['depth'], groups: ['shared'], supervision, batchSize: 2 };
      const seen: number[] = [];
      const counts: number[] = [];
      forEachInstanceGradient(model, ds, [1, 2, 3, 5, 0], options, (id, g, loss) => {
        seen.push(id);
        counts.push(tf.memory().numTensors);
        const ref = oracle(model, ds, id, options);
        expect(relGap(g.dataSync(), ref.g)).toBeLessThan(TOL);
        expect(loss).toBeCloseTo(ref.loss, 5);
        if (id === 2) expect(tf.tidy(() => tf.norm(g).dataSync()[0]!)).toBe(0);
      });
      expect(seen).toEqual([1, 2, 3, 5, 0]);
      // One chunk's tensors at a time: the count is the same in every chunk.
      expect(new Set([counts[0], counts[2], counts[4]]).size).toBe(1);
    } finally {
      model.dispose();
    }
  });

  it('the chunk size changes no bit of any column (on wasm)', () => {
    const { ds, model } = tiny(['segmentation', 'depth']);
    try {
      const ids = [0, 1, 2, 3, 4, 5, 6, 7, 8];
      const read = (batchSize: number): Float32Array => {
        const G = perInstanceGradients(model, ds, ids, { tasks: ['depth'], batchSize });
        const v = Float32Array.from(G.dataSync() as Float32Array);
        G.dispose();
        return v;
      };
      const one = read(1);
      for (const b of [3, 8, PER_INSTANCE_BATCH]) {
        const v = read(b);
        expect(
          v.every((x, i) => Object.is(x, one[i])),
          `batchSize ${b}`,
        ).toBe(true);
      }
    } finally {
      model.dispose();
    }
  });

  it('rejects a bad batch size, naming it', () => {
    const { ds, model } = tiny(['depth']);
    try {
      expect(() =>
        perInstanceGradients(model, ds, [0], { tasks: ['depth'], batchSize: 0 }),
      ).toThrow(/batchSize/);
    } finally {
      model.dispose();
    }
  });
});
