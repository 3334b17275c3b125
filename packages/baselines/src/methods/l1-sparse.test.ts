import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch } from '@mtu/datasets';
import { valueAndGradients } from '@mtu/multitask-model';
import type { StepBatches, UnlearnContext } from '@mtu/unlearning';
import { unlearn } from '@mtu/unlearning';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { finetune } from './finetune.js';
import { l1Coefficient, l1Sparse, plannedSteps } from './l1-sparse.js';
import type { L1SparseConfig, L1SparseState } from './l1-sparse.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

function contextFor(
  request: ForgetRequest,
  config: Record<string, unknown>,
): UnlearnContext<L1SparseConfig> {
  return createStepContext(l1Sparse, fixture, request, { config: { ...SMALL, ...config } });
}

function gradientOf(
  ctx: UnlearnContext<L1SparseConfig>,
  objective: (p: NamedTensorMap) => tf.Scalar,
): Record<string, Float32Array> {
  const { grads } = valueAndGradients(ctx.model, objective, { tasks: ctx.model.tasks });
  const out: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(grads)) out[k] = Float32Array.from(g.dataSync());
  tf.dispose(grads);
  return out;
}

function signs(): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(fixture.model.variables)) {
    out[k] = Float32Array.from(v.dataSync(), (x) => Math.sign(x));
  }
  return out;
}

describe('conformance: l1-sparse', () => {
  for (const check of conformanceChecks(l1Sparse, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('l1-sparse: the decaying ℓ1 penalty', () => {
  it('l1Coefficient decays linearly from γ to 0 over the run', () => {
    expect(l1Coefficient(0.2, 0, 8)).toBe(0.2);
    expect(l1Coefficient(0.2, 2, 8)).toBeCloseTo(0.15, 12);
    expect(l1Coefficient(0.2, 4, 8)).toBeCloseTo(0.1, 12);
    expect(l1Coefficient(0.2, 8, 8)).toBe(0);
    expect(l1Coefficient(0.2, 9, 8)).toBe(0);
    expect(l1Coefficient(0.2, 0, 0)).toBe(0);
    const c = Array.from({ length: 8 }, (_, t) => l1Coefficient(0.2, t, 8));
    const d = c.slice(1).map((x, i) => c[i]! - x);
    for (const step of d) expect(step).toBeCloseTo(0.2 / 8, 12);
    expect(plannedSteps({ epochs: 3, forgetBatchSize: 2, maxSteps: 0 }, 5)).toBe(9);
    expect(plannedSteps({ epochs: 3, forgetBatchSize: 2, maxSteps: 4 }, 5)).toBe(4);
  });

  it('the penalty gradient is γ_t·sign(θ) at every step, with γ_t = γ(1 − t/T)', async () => {
    const request = fixture.requests['partial-task'];
    const gamma = 0.01;
    const ctx = contextFor(request, { gamma, epochs: 2 });
    const state = await l1Sparse.setup!(ctx);
    const T = state.totalSteps;
    expect(T).toBe(4); // 2 epochs × ⌈4 forget / 2⌉
    const forget = readBatch(fixture.dataset, ctx.views.forget);
    const sign = signs();
    try {
      // Without a retain batch the objective is the penalty alone: its gradient in closed form.
      const noRetain: StepBatches = { forget, retained: undefined };
      for (let t = 0; t < T; t++) {
        const g = gradientOf(ctx, (p) => l1Sparse.loss!(ctx, noRetain, state, p));
        const gt = gamma * (1 - t / T);
        for (const [k, v] of Object.entries(g)) {
          v.forEach((x, i) => expect(x).toBeCloseTo(gt * sign[k]![i]!, 9));
        }
      }
      expect(state.step).toBe(T);
      expect(l1Coefficient(gamma, state.step, T)).toBe(0); // the line reaches 0 at t = T
    } finally {
      disposeBatch(forget);
    }
  });

  it('adds exactly γ_t·sign(θ) to finetune’s gradient', () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const request = fixture.requests[which];
      const gamma = 0.01;
      const ctx = contextFor(request, { gamma });
      const state: L1SparseState = { step: 1, totalSteps: 4 };
      const forgetIds = Array.from(ctx.views.forget);
      const forget = readBatch(fixture.dataset, forgetIds);
      const retained = readBatch(fixture.dataset, [0, 3, 4, ...forgetIds], {
        supervision: ctx.views.supervision,
      });
      const batches: StepBatches = { forget, retained };
      const sign = signs();
      try {
        const l1 = gradientOf(ctx, (p) => l1Sparse.loss!(ctx, batches, state, p));
        const ft = gradientOf(ctx, (p) => finetune.loss!(ctx, batches, undefined, p));
        const gt = gamma * (1 - 1 / 4);
        for (const k of Object.keys(l1)) {
          l1[k]!.forEach((x, i) => {
            const expected = ft[k]![i]! + gt * sign[k]![i]!;
            expect(Math.abs(x - expected)).toBeLessThan(1e-6 * (1 + Math.abs(expected)));
          });
        }
      } finally {
        disposeBatch(forget);
        disposeBatch(retained);
      }
    }
  });

  it('a run with γ > 0 ends with a smaller ‖θ‖₁ than the same run with γ = 0', async () => {
    const request = fixture.requests['full-task'];
    const config = { ...SMALL, epochs: 2 };
    const l1Of = async (gamma: number): Promise<number> => {
      const r = await unlearn(fixture.model, fixture.dataset, request, l1Sparse, {
        config: { ...config, gamma },
      });
      const t = r.model.flatWeights();
      const w = Float32Array.from(t.dataSync());
      t.dispose();
      r.model.dispose();
      return w.reduce((s, x) => s + Math.abs(x), 0);
    };
    expect(await l1Of(0.05)).toBeLessThan(await l1Of(0));
  });
});
