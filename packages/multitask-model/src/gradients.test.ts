import { createRng, flatten, tf, unflatten } from '@mtu/core-tensors';
import type { Scalar, Tensor, Tensor1D } from '@mtu/core-tensors';
import { directionalDerivativeCheck, useLeakGuard } from '@mtu/core-tensors/testing';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import type { Batch, TaskKind } from '@mtu/datasets';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { KINDS, tinyModel } from './__fixtures__/tiny.js';
import {
  forEachInstanceGradient,
  gradientVector,
  groupLayout,
  lossAndGradients,
  perInstanceGradients,
  taskGradients,
  taskLosses,
} from './index.js';
import type { MultiTaskModel } from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

function tiny(kinds: readonly TaskKind[] = KINDS) {
  return tinyModel(kinds, { trainSize: 6, size: 6, stages: 1, seed: 1, noiseSeed: 7 });
}

/** The loss of `tasks` on `batch` as a function of the flat parameter vector (all groups). */
function lossOfFlat(
  model: MultiTaskModel,
  ds: ReturnType<typeof tiny>['ds'],
  batch: Batch,
  tasks: readonly string[],
) {
  return (flat: Tensor): Scalar => {
    const params = unflatten(model.layout, flat as Tensor1D);
    const losses = taskLosses(model, ds, batch, params, tasks);
    return tasks.map((t) => losses[t]!).reduce((a, b) => tf.add(a, b));
  };
}

describe('gradients match finite differences on a tiny model', () => {
  for (const kind of KINDS) {
    for (const masked of [false, true]) {
      it(`${kind} loss${masked ? ' with a supervision mask' : ''}`, () => {
        const { ds, model } = tiny();
        // Masked: instance 1 loses its label for the task (partial-task request on that task).
        const supervision = masked
          ? requestViews(ds, { instances: [1], tasks: [kind] }).supervision
          : undefined;
        const batch = readBatch(ds, [0, 1, 2], supervision === undefined ? {} : { supervision });
        try {
          const flat = model.flatWeights();
          const f = lossOfFlat(model, ds, batch, [kind]);
          for (const seed of [1, 2]) {
            // h = 1e-4: small enough that few ReLUs cross their kink (at 1e-3 the ratio is off by up to
            // 5%, and converges as h shrinks), large enough for float32 evaluation (~0.3% noise).
            const r = directionalDerivativeCheck(f, flat, { h: 1e-4, seed, rtol: 1e-2 });
            expect(r.ok, `analytic ${r.analytic} vs numeric ${r.numeric}`).toBe(true);
            expect(Math.abs(r.analytic)).toBeGreaterThan(1e-7);
          }
          // The package's gradient (lossAndGradients) equals tf.grad of the same function.
          const { grads } = lossAndGradients(model, ds, batch, { tasks: [kind] });
          const ours = flatten(model.layout, grads);
          const ref = tf.grad(f)(flat);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, ref))).dataSync()[0]!);
          expect(diff).toBeLessThan(1e-6);
          tf.dispose([flat, ours, ref]);
          tf.dispose(grads);
        } finally {
          disposeBatch(batch);
          model.dispose();
        }
      });
    }
  }

  it('a masked instance contributes nothing: its labels may be anything', () => {
    const { ds, model } = tiny();
    const supervision = requestViews(ds, { instances: [1], tasks: 'all' }).supervision;
    const a = readBatch(ds, [0, 1, 2], { supervision });
    const b = readBatch(ds, [0, 2]);
    try {
      const ga = lossAndGradients(model, ds, a);
      const gb = lossAndGradients(model, ds, b);
      // The batch loss averages over supervised instances, so {0, 1 masked, 2} ≡ {0, 2} except for
      // the input of instance 1, which no loss reads.
      expect(ga.loss).toBeCloseTo(gb.loss, 5);
      const va = gradientVector(model, ga.grads);
      const vb = gradientVector(model, gb.grads);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(va, vb))).dataSync()[0]!)).toBeLessThan(1e-5);
      tf.dispose([va, vb]);
      tf.dispose(ga.grads);
      tf.dispose(gb.grads);
    } finally {
      disposeBatch(a);
      disposeBatch(b);
      model.dispose();
    }
  });
});

describe('per-task and per-instance gradients', () => {
  it('task gradients sum to the total gradient; heads of other tasks get zeros', () => {
    const { ds, model } = tiny();
    const batch = readBatch(ds, [0, 3, 4]);
    try {
      const per = taskGradients(model, ds, batch);
      const total = lossAndGradients(model, ds, batch);
      const sum = tf.tidy(() =>
        Object.values(per)
          .map((g) => gradientVector(model, g))
          .reduce((a, b) => tf.add(a, b)),
      );
      const tv = gradientVector(model, total.grads);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(sum, tv))).dataSync()[0]!)).toBeLessThan(1e-5);
      const depthHeadOfSeg = per['segmentation']!['depth/out/w']!;
      expect(tf.tidy(() => tf.max(tf.abs(depthHeadOfSeg)).dataSync()[0]!)).toBe(0);
      tf.dispose([sum, tv]);
      tf.dispose(total.grads);
      for (const g of Object.values(per)) tf.dispose(g);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('the mean of per-instance gradients is the batch gradient (all instances supervised)', () => {
    const { ds, model } = tiny(['classification', 'depth']);
    const ids = [0, 2, 5];
    const groups = ['shared', 'depth'];
    const G = perInstanceGradients(model, ds, ids, { tasks: ['depth'], groups });
    const batch = readBatch(ds, ids);
    try {
      expect(G.shape).toEqual([groupLayout(model, groups).size, 3]);
      const { grads } = lossAndGradients(model, ds, batch, { tasks: ['depth'], groups });
      const v = gradientVector(model, grads, groups);
      const mean = tf.tidy(() => tf.mean(G, 1));
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(mean, v))).dataSync()[0]!)).toBeLessThan(1e-5);
      // Negative control: one instance's gradient alone is not the batch gradient.
      const first = tf.tidy(() => tf.squeeze(tf.slice(G, [0, 0], [-1, 1])));
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(first, v))).dataSync()[0]!)).toBeGreaterThan(1e-3);
      tf.dispose([v, mean, first]);
      tf.dispose(grads);
    } finally {
      G.dispose();
      disposeBatch(batch);
      model.dispose();
    }
  });

  it('visits each instance with the same tensors alive and gives zeros for an unsupervised instance', () => {
    const { ds, model } = tiny(['segmentation', 'depth']);
    const supervision = requestViews(ds, { instances: [2], tasks: ['depth'] }).supervision;
    const counts: number[] = [];
    const norms: number[] = [];
    forEachInstanceGradient(
      model,
      ds,
      [1, 2],
      { tasks: ['depth'], groups: ['shared'], supervision },
      (_id, g) => {
        counts.push(tf.memory().numTensors);
        norms.push(tf.tidy(() => tf.norm(g).dataSync()[0]!));
      },
    );
    expect(counts[0]).toBe(counts[1]);
    expect(norms[0]).toBeGreaterThan(0);
    expect(norms[1]).toBe(0);
    model.dispose();
  });

  it('rejects unknown tasks and groups', () => {
    const { ds, model } = tiny(['depth']);
    const batch = readBatch(ds, [0]);
    try {
      expect(() => lossAndGradients(model, ds, batch, { tasks: ['normals'] })).toThrow(/no head/);
      expect(() => lossAndGradients(model, ds, batch, { groups: ['head'] })).toThrow(
        /unknown parameter group/,
      );
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });
});

describe('negative controls', () => {
  it('the finite-difference check catches a gradient that ignores the mask', () => {
    const { ds, model } = tiny(['depth']);
    const supervision = requestViews(ds, { instances: [1], tasks: ['depth'] }).supervision;
    const masked = readBatch(ds, [0, 1, 2], { supervision });
    const unmasked = readBatch(ds, [0, 1, 2]);
    try {
      const flat = model.flatWeights();
      // Numeric: the masked loss. Analytic: the gradient of the unmasked loss (a "forgot the mask" bug).
      const fMasked = lossOfFlat(model, ds, masked, ['depth']);
      const fWrong = lossOfFlat(model, ds, unmasked, ['depth']);
      const wrong = tf.grad(fWrong)(flat);
      const rng = createRng(1);
      const dir = Float64Array.from({ length: flat.size }, () => rng.normal());
      const r = directionalDerivativeCheck(fMasked, flat, { h: 1e-4, direction: dir, rtol: 1e-2 });
      const plusMinus = 2e-4;
      const wrongAnalytic = tf.tidy(
        () =>
          tf
            .sum(
              tf.mul(
                wrong,
                tf.tensor1d(
                  Float32Array.from(dir, (d) => d * plusMinus),
                  'float32',
                ),
              ),
            )
            .dataSync()[0]!,
      );
      expect(r.ok).toBe(true);
      expect(Math.abs(wrongAnalytic - r.numeric)).toBeGreaterThan(r.bound);
      tf.dispose([flat, wrong]);
    } finally {
      disposeBatch(masked);
      disposeBatch(unmasked);
      model.dispose();
    }
  });

  it('differentiating no reachable parameter gives zeros, not an error', () => {
    const { ds, model } = tiny(['segmentation', 'depth']);
    const batch = readBatch(ds, [0]);
    try {
      const { loss, grads } = lossAndGradients(model, ds, batch, {
        tasks: ['depth'],
        groups: ['segmentation'],
      });
      expect(loss).toBeGreaterThan(0);
      expect(
        tf.tidy(
          () => tf.max(tf.abs(gradientVector(model, grads, ['segmentation']))).dataSync()[0]!,
        ),
      ).toBe(0);
      tf.dispose(grads);
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  });
});
