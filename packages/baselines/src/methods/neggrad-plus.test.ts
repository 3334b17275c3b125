import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import { instanceLossTable } from '@mtu/metrics';
import { valueAndGradients } from '@mtu/multitask-model';
import type { LoopConfig, StepBatches, UnlearnContext, Unlearner } from '@mtu/unlearning';

import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { finetune } from './finetune.js';
import { gradientAscent } from './gradient-ascent.js';
import { negGradPlus } from './neggrad-plus.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

function contextFor<C extends LoopConfig>(
  method: Unlearner<C, undefined>,
  request: ForgetRequest,
  config: Record<string, unknown>,
): UnlearnContext<C> {
  const views = requestViews(fixture.dataset, request);
  const losses = instanceLossTable(
    fixture.model,
    fixture.dataset,
    fixture.dataset.test.ids,
    views.targetTasks,
  );
  const testLoss = Object.fromEntries(
    views.targetTasks.map((t) => [t, losses[t]!.reduce((s, x) => s + x, 0) / losses[t]!.length]),
  );
  return createStepContext(method, fixture, request, { config, testLoss });
}

/** The gradient (by parameter name) the loop would descend for `method`'s loss hook. */
function stepGradient<C extends LoopConfig>(
  method: Unlearner<C, undefined>,
  ctx: UnlearnContext<C>,
  batches: StepBatches,
): Record<string, Float32Array> {
  const { grads } = valueAndGradients(
    ctx.model,
    (p: NamedTensorMap) => method.loss!(ctx, batches, undefined, p),
    { tasks: method.lossTasks?.(ctx) ?? ctx.model.tasks },
  );
  const out: Record<string, Float32Array> = {};
  for (const [k, g] of Object.entries(grads)) out[k] = Float32Array.from(g.dataSync());
  tf.dispose(grads);
  return out;
}

function expectEqual(a: Record<string, Float32Array>, b: Record<string, Float32Array>): void {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a)) {
    const [x, y] = [a[k]!, b[k]!];
    // === (not Object.is): a β·0 term may leave −0 where the other method has +0.
    const same = x.every((v, i) => v === y[i] || Math.abs(v - y[i]!) <= 1e-7 * (1 + Math.abs(v)));
    expect(same, k).toBe(true);
  }
}

describe('conformance: neggrad-plus', () => {
  for (const check of conformanceChecks(negGradPlus, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('neggrad-plus: interpolates FT and GA', () => {
  for (const which of ['full-task', 'partial-task'] as const) {
    it(`β = 1 gives finetune's gradient, β = 0 gradient-ascent's (${which})`, () => {
      const request = fixture.requests[which];
      const views = requestViews(fixture.dataset, request);
      const forgetIds = Array.from(views.forget);
      const forget = readBatch(fixture.dataset, forgetIds);
      const retained = readBatch(fixture.dataset, [0, 3, 4, 7, ...forgetIds], {
        supervision: views.supervision,
      });
      const batches: StepBatches = { forget, retained };
      try {
        const ft = stepGradient(finetune, contextFor(finetune, request, SMALL), batches);
        const ga = stepGradient(
          gradientAscent,
          contextFor(gradientAscent, request, { ...SMALL, lossCap: 1 }),
          batches,
        );
        const ng1 = stepGradient(
          negGradPlus,
          contextFor(negGradPlus, request, { ...SMALL, beta: 1, lossCap: 1 }),
          batches,
        );
        const ng0 = stepGradient(
          negGradPlus,
          contextFor(negGradPlus, request, { ...SMALL, beta: 0, lossCap: 1 }),
          batches,
        );
        expectEqual(ng1, ft);
        expectEqual(ng0, ga);
        // The default β mixes both: it differs from either end.
        const mid = stepGradient(
          negGradPlus,
          contextFor(negGradPlus, request, { ...SMALL, lossCap: 1 }),
          batches,
        );
        const name = Object.keys(mid).find((k) => k.startsWith('shared/'))!;
        expect(mid[name]!.some((v, i) => Math.abs(v - ft[name]![i]!) > 1e-9)).toBe(true);
        expect(mid[name]!.some((v, i) => Math.abs(v - ga[name]![i]!) > 1e-9)).toBe(true);
      } finally {
        disposeBatch(forget);
        disposeBatch(retained);
      }
    });
  }
});
