import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import { instanceLossTable } from '@mtu/metrics';
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
import { forgetLoss } from '../objectives.js';
import { gradientAscent, gradientAscentForgetLoss } from './gradient-ascent.js';
import type { GradientAscentConfig } from './gradient-ascent.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

function mean(a: Float64Array): number {
  return a.reduce((s, x) => s + x, 0) / a.length;
}

/** The original model's mean test loss per target task (what the loop computes). */
function testLoss(tasks: readonly string[]): Record<string, number> {
  const losses = instanceLossTable(fixture.model, fixture.dataset, fixture.dataset.test.ids, tasks);
  return Object.fromEntries(tasks.map((t) => [t, mean(losses[t]!)]));
}

function contextFor(
  request: ForgetRequest,
  config: Record<string, unknown> = {},
): UnlearnContext<GradientAscentConfig> {
  return createStepContext(gradientAscent, fixture, request, {
    config: { ...SMALL, ...config },
    testLoss: testLoss(requestViews(fixture.dataset, request).targetTasks),
  });
}

describe('conformance: gradient-ascent', () => {
  for (const check of conformanceChecks(gradientAscent, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('gradient-ascent: the step is the negated forget gradient', () => {
  it('descends −∇L̄_f, and one small SGD step raises the capped forget loss', () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const ctx = contextFor(fixture.requests[which]);
      const forget = readBatch(fixture.dataset, ctx.views.forget);
      const batches: StepBatches = { forget, retained: undefined };
      try {
        const step = valueAndGradients(
          ctx.model,
          (p: NamedTensorMap) => gradientAscent.loss!(ctx, batches, undefined, p),
          { tasks: gradientAscent.lossTasks!(ctx) },
        );
        const ascent = valueAndGradients(
          ctx.model,
          (p: NamedTensorMap) =>
            forgetLoss(ctx, batches, p, { cap: ctx.testLoss, capFactor: ctx.config.lossCap }),
          { tasks: ctx.views.targetTasks },
        );
        expect(step.value).toBeCloseTo(-ascent.value, 6);
        let norm = 0;
        for (const [name, g] of Object.entries(step.grads)) {
          const a = step.grads[name]!.dataSync();
          const b = ascent.grads[name]!.dataSync();
          a.forEach((x, i) => expect(x).toBeCloseTo(-b[i]!, 6));
          norm += tf.tidy(() => tf.sum(tf.square(g)).dataSync()[0]!);
        }
        expect(norm).toBeGreaterThan(0);
        // θ' = θ − η·grads (the loop's SGD step) raises the capped forget loss.
        const eta = 1e-4;
        const moved: NamedTensorMap = {};
        for (const [name, v] of Object.entries(ctx.model.variables)) {
          moved[name] = tf.tidy(() => tf.sub(v, tf.mul(step.grads[name]!, eta)));
        }
        const before = tf.tidy(
          () => gradientAscentForgetLoss(ctx, batches, ctx.model.variables).dataSync()[0]!,
        );
        const after = tf.tidy(() => gradientAscentForgetLoss(ctx, batches, moved).dataSync()[0]!);
        tf.dispose([moved, step.grads, ascent.grads]);
        expect(after).toBeGreaterThan(before);
        // First-order check: the rise is ≈ η‖∇‖².
        expect((after - before) / (eta * norm)).toBeGreaterThan(0.5);
        expect((after - before) / (eta * norm)).toBeLessThan(1.5);
      } finally {
        disposeBatch(forget);
      }
    }
  });

  it('the cap bounds the ascent on depth; without it the depth loss runs away faster', async () => {
    const request: ForgetRequest = { instances: [2, 6, 10, 14], tasks: ['depth'] };
    const ids = requestViews(fixture.dataset, request).forget;
    const config = { epochs: 15, forgetBatchSize: 4, learningRate: 0.05 };
    const depthLoss = async (lossCap: number): Promise<number> => {
      const r = await unlearn(fixture.model, fixture.dataset, request, gradientAscent, {
        config: { ...config, lossCap },
      });
      const l = mean(instanceLossTable(r.model, fixture.dataset, ids, ['depth']).depth!);
      r.model.dispose();
      return l;
    };
    const original = mean(instanceLossTable(fixture.model, fixture.dataset, ids, ['depth']).depth!);
    const cap = testLoss(['depth']).depth!;
    const capped = await depthLoss(1);
    const uncapped = await depthLoss(0);
    expect(cap).toBeGreaterThan(original);
    expect(capped).toBeGreaterThan(original);
    // Same steps, no cap: the depth loss keeps climbing past where the capped run levels off.
    expect(uncapped).toBeGreaterThan(1.25 * capped);
  });
});
