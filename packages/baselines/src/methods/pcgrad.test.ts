import { createRng, flatten, tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import { disposeBatch, readBatch } from '@mtu/datasets';
import type { ForgetRequest } from '@mtu/datasets';
import { groupLayout, taskLosses, valueAndGradients } from '@mtu/multitask-model';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { pcgrad, pcgradCombine } from './pcgrad.js';
import type { PcgradConfig } from './pcgrad.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4, earlyStop: false };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: pcgrad', () => {
  for (const check of conformanceChecks(pcgrad, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

describe('pcgrad: gradient surgery', () => {
  it('a tiny 2-objective example: the sum never conflicts with either objective', () => {
    const gu = Float64Array.of(1, 0);
    const gr = Float64Array.of(-1, 1);
    const { sum, projections } = pcgradCombine([gu, gr], createRng(0));
    expect(projections).toBe(2);
    // g_u' = (1,0) − (−1/2)(−1,1) = (0.5, 0.5); g_r' = (−1,1) − (−1)(1,0) = (0, 1).
    expect(sum[0]).toBeCloseTo(0.5, 6);
    expect(sum[1]).toBeCloseTo(1.5, 6);
    expect(dot(sum, gr)).toBeGreaterThanOrEqual(0);
    expect(dot(sum, gu)).toBeGreaterThanOrEqual(0);
    // Non-conflicting gradients are summed unchanged.
    const plain = pcgradCombine([Float64Array.of(1, 0), Float64Array.of(1, 1)], createRng(0));
    expect(Array.from(plain.sum)).toEqual([2, 1]);
    expect(plain.projections).toBe(0);
  });

  it('random 2-objective pairs: ⟨sum, g_j⟩ ≥ 0 for both', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 200; trial++) {
      const a = Float64Array.from({ length: 20 }, () => rng.normal());
      const b = Float64Array.from({ length: 20 }, () => rng.normal());
      const { sum } = pcgradCombine([a, b], rng.fork(trial));
      const tol = 1e-9 * Math.sqrt(dot(a, a) * dot(b, b));
      expect(dot(sum, a)).toBeGreaterThanOrEqual(-tol);
      expect(dot(sum, b)).toBeGreaterThanOrEqual(-tol);
    }
  });

  const runShort = (
    objectives: PcgradConfig['objectives'],
    request: ForgetRequest,
  ): { minCosine: number; projections: number } => {
    const model = fixture.model.clone();
    const ctx = createStepContext(pcgrad, fixture, request, {
      config: { ...SMALL, objectives, learningRate: 0.05 },
      model,
      rng: createRng(0).fork('pcgrad'),
    });
    const { views, config } = ctx;
    const shared = groupLayout(model, ['shared']);
    const state = pcgrad.setup!(ctx) as { counter: { step: number } };
    const rng = createRng(1);
    let minCosine = Infinity;
    let projections = 0;
    try {
      for (let step = 0; step < 6; step++) {
        const forgetIds = rng.sample(Array.from(views.forget), 2);
        const retainIds = rng.sample(Array.from(views.retain), 4);
        const forget = readBatch(fixture.dataset, forgetIds);
        const retained = readBatch(fixture.dataset, [...retainIds, ...forgetIds], {
          supervision: views.supervision,
        });
        try {
          const out = pcgrad.step!(ctx, { forget, retained }, state);
          projections += out.info?.['projections'] ?? 0;
          // ∇L_retain on the shared parameters, at the same weights.
          const r = valueAndGradients(
            model,
            (p: NamedTensorMap) =>
              Object.values(taskLosses(model, fixture.dataset, retained, p, model.tasks)).reduce(
                (a, b) => tf.add(a, b),
                tf.scalar(0),
              ),
            { tasks: model.tasks },
          );
          const gr = flatten(shared, r.grads, { allowExtra: true });
          const d = flatten(shared, out.grads, { allowExtra: true });
          const [gv, dv] = [gr.dataSync(), d.dataSync()];
          // The loop steps θ ← θ − η d: the first-order retain change is −η⟨d, ∇L_r⟩ ≤ 0 iff
          // ⟨update, −∇L_r⟩ = ⟨−η d, −∇L_r⟩ = η⟨d, ∇L_r⟩ ≥ 0.
          const cos = dot(dv, gv) / Math.max(Math.sqrt(dot(dv, dv) * dot(gv, gv)), 1e-30);
          minCosine = Math.min(minCosine, cos);
          tf.dispose([gr, d]);
          tf.dispose(r.grads);
          for (const [name, g] of Object.entries(out.grads)) {
            const v = model.variables[name]!;
            v.assign(tf.tidy(() => tf.sub(v, tf.mul(g, config.learningRate))));
          }
          tf.dispose(out.grads);
        } finally {
          disposeBatch(forget);
          disposeBatch(retained);
        }
      }
    } finally {
      model.dispose();
    }
    return { minCosine, projections };
  };

  it('forget-retain mode: the shared update never conflicts with the retain objective', () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const { minCosine, projections } = runShort('forget-retain', fixture.requests[which]);
      expect(projections).toBeGreaterThan(0); // the surgery was exercised
      expect(minCosine).toBeGreaterThanOrEqual(-1e-4);
    }
  });

  it('per-task mode (the default): no conflict with the total retain objective on this fixture', () => {
    // PCGrad guarantees nothing with more than 2 objectives; this is an empirical check on the
    // conformance fixture (measured min cosine: 0.30 full-task, 0.63 partial-task).
    for (const which of ['full-task', 'partial-task'] as const) {
      const { minCosine, projections } = runShort('per-task', fixture.requests[which]);
      expect(projections).toBeGreaterThan(0);
      expect(minCosine).toBeGreaterThanOrEqual(-1e-4);
    }
  });
});
