import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { Batch, ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
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
import { weightsOf, withChangedLabels } from '../__fixtures__/data.js';
import { useWasm } from '../__fixtures__/setup.js';
import { finetune } from './finetune.js';
import type { FinetuneConfig } from './finetune.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

function contextFor(request: ForgetRequest): UnlearnContext<FinetuneConfig> {
  return createStepContext(finetune, fixture, request, { config: SMALL });
}

function gradients(ctx: UnlearnContext<FinetuneConfig>, batches: StepBatches): Float32Array[] {
  const { grads } = valueAndGradients(
    ctx.model,
    (p: NamedTensorMap) => finetune.loss!(ctx, batches, undefined, p),
    { tasks: ctx.model.tasks },
  );
  const out = Object.keys(grads)
    .sort()
    .map((k) => Float32Array.from(grads[k]!.dataSync()));
  tf.dispose(grads);
  return out;
}

describe('conformance: finetune', () => {
  for (const check of conformanceChecks(finetune, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('finetune: forget labels never reach the objective', () => {
  it('gives the same gradient when the forget batch target labels change', () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const request = fixture.requests[which];
      const ctx = contextFor(request);
      const forgetIds = Array.from(ctx.views.forget);
      const forget = readBatch(fixture.dataset, forgetIds);
      const retained = readBatch(fixture.dataset, [0, 3, 4, ...forgetIds], {
        supervision: ctx.views.supervision,
      });
      const changedLabels: Record<string, tf.Tensor> = { ...forget.labels };
      for (const t of ctx.views.targetTasks) {
        const l = forget.labels[t]!;
        changedLabels[t] = l.dtype === 'int32' ? tf.zerosLike(l) : tf.onesLike(l);
      }
      const changed: Batch = { ...forget, labels: changedLabels };
      try {
        const a = gradients(ctx, { forget, retained });
        const b = gradients(ctx, { forget: changed, retained });
        expect(a.length).toBeGreaterThan(0);
        a.forEach((g, k) => expect(g.every((x, i) => Object.is(x, b[k]![i]))).toBe(true));
        expect(a.some((g) => g.some((x) => x !== 0))).toBe(true);
      } finally {
        for (const t of ctx.views.targetTasks) changedLabels[t]!.dispose();
        disposeBatch(forget);
        disposeBatch(retained);
      }
    }
  });

  it('a whole run does not depend on the forgotten labels', async () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const request = fixture.requests[which];
      const views = requestViews(fixture.dataset, request);
      const changed = withChangedLabels(fixture.dataset, views.targetTasks, request.instances);
      const a = await unlearn(fixture.model, fixture.dataset, request, finetune, { config: SMALL });
      const b = await unlearn(fixture.model, changed, request, finetune, { config: SMALL });
      const [wa, wb] = [weightsOf(a.model), weightsOf(b.model)];
      a.model.dispose();
      b.model.dispose();
      expect(wa.every((x, i) => Object.is(x, wb[i]))).toBe(true);
    }
  });
});
