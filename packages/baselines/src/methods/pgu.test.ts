import { createRng, tf } from '@mtu/core-tensors';
import type { Tensor, Tensor4D } from '@mtu/core-tensors';
import { disposeBatch, readBatch } from '@mtu/datasets';
import { forward } from '@mtu/multitask-model';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { pgu, pguLayerInputs, pguPatches, pguRank } from './pgu.js';
import type { PguState } from './pgu.js';

useWasm();

const SMALL = {
  epochs: 1,
  forgetBatchSize: 2,
  subspaceSamples: 4,
  pixelsPerInstance: 6,
  earlyStop: false,
};

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: pgu', () => {
  for (const check of conformanceChecks(pgu, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

const maxAbsDiff = (a: Tensor, b: Tensor): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

describe('pgu: building blocks', () => {
  it('the layer-input walk mirrors forward (same outputs, every layer recorded)', () => {
    const { model, dataset } = fixture;
    const batch = readBatch(dataset, [0, 3, 7]);
    try {
      tf.tidy(() => {
        const { inputs, outputs } = pguLayerInputs(
          model.spec,
          model.variables,
          batch.x,
          model.tasks,
        );
        const ref = forward(model.spec, model.variables, batch.x, model.tasks);
        for (const t of model.tasks) expect(maxAbsDiff(outputs[t]!, ref[t]!)).toBeLessThan(1e-6);
        const layers = new Set(
          model.layout.names.filter((n) => n.endsWith('/w')).map((n) => n.slice(0, -2)),
        );
        expect(new Set(Object.keys(inputs))).toEqual(layers);
      });
    } finally {
      disposeBatch(batch);
    }
  });

  it('patches · W equals conv2d(x, W) (same padding; k 3 and 1; stride 1 and 2; odd sizes)', () => {
    const rng = createRng(3);
    for (const [H, W, C, k, s] of [
      [8, 8, 3, 3, 1],
      [8, 8, 3, 3, 2],
      [7, 5, 2, 3, 2],
      [6, 6, 4, 1, 1],
    ] as const) {
      tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 2 * H * W * C }, () => rng.normal()),
          [2, H, W, C],
        );
        const f = tf.tensor4d(
          Float32Array.from({ length: k * k * C * 5 }, () => rng.normal()),
          [k, k, C, 5],
        );
        const y = tf.conv2d<Tensor4D>(x, f, s, 'same');
        const P = pguPatches(x, k, s);
        const z = tf.matMul(P, tf.reshape<tf.Rank.R2>(f, [k * k * C, 5]));
        expect(maxAbsDiff(z, tf.reshape(y, [-1, 5]))).toBeLessThan(1e-4);
      });
    }
  });

  it('the rank rule counts unsquared σ shares ≤ τ, plus one', () => {
    expect(pguRank([4, 3, 2, 1], 0.7)).toBe(3);
    expect(pguRank([4, 3, 2, 1], 0.3)).toBe(1);
    expect(pguRank([4, 3, 2, 1], 0.95)).toBe(4);
    expect(pguRank([4, 3, 2, 1], 1)).toBe(4);
    expect(pguRank([0, 0], 0.9)).toBe(0);
  });
});

describe('pgu: the update is orthogonal to the retained input-activation subspace', () => {
  for (const which of ['full-task', 'partial-task'] as const) {
    it(which, async () => {
      const ctx = createStepContext(pgu, fixture, fixture.requests[which], {
        config: { ...SMALL, subspaceSamples: 6 },
      });
      const { views } = ctx;
      const state = await pgu.setup!(ctx);
      const forget = readBatch(fixture.dataset, Array.from(views.forget).slice(0, 2));
      const empty: PguState = {
        layers: state.layers.map((l) => ({
          ...l,
          basis: tf.zeros<tf.Rank.R2>([l.basis.shape[0], 0]),
        })),
        counter: { step: 0 },
      };
      try {
        const out = pgu.step!(ctx, { forget, retained: undefined }, state);
        const raw = pgu.step!(ctx, { forget, retained: undefined }, empty);
        // Biases are never updated.
        expect(Object.keys(out.grads).every((n) => n.endsWith('/w'))).toBe(true);
        let worstRaw = 0;
        let nonTrivial = 0;
        for (const layer of state.layers) {
          const name = `${layer.name}/w`;
          const g = out.grads[name];
          const r = raw.grads[name];
          if (g === undefined || r === undefined) continue;
          const d = layer.basis.shape[0];
          const [projected, rawNorm, rawIn] = tf.tidy(() => {
            const G = tf.reshape<tf.Rank.R2>(g, [d, -1]);
            const R = tf.reshape<tf.Rank.R2>(r, [d, -1]);
            const U = layer.basis;
            return [
              tf.norm(tf.matMul(U, G, true, false)).dataSync()[0]!,
              tf.norm(R).dataSync()[0]!,
              tf.norm(tf.matMul(U, R, true, false)).dataSync()[0]!,
            ];
          });
          if (rawNorm === 0) continue;
          // ‖Uᵀ ΔW‖ ≤ 1e-4·‖ΔW_raw‖ for every layer (float32 rounding).
          expect(projected / rawNorm).toBeLessThan(1e-4);
          worstRaw = Math.max(worstRaw, rawIn / rawNorm);
          if (layer.basis.shape[1] > 0) nonTrivial++;
        }
        expect(nonTrivial).toBeGreaterThan(0);
        // Negative control: without the projection the update lies largely in the subspace.
        expect(worstRaw).toBeGreaterThan(0.1);
        tf.dispose(out.grads);
        tf.dispose(raw.grads);
      } finally {
        disposeBatch(forget);
        for (const l of empty.layers) l.basis.dispose();
        pgu.teardown!(ctx, state);
      }
    });
  }
});
