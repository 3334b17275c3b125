import { createRng, tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import type { Batch, ForgetRequest } from '@mtu/datasets';
import { disposeBatch, readBatch, requestViews } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { resolveConfig } from '@mtu/unlearning';
import type { StepBatches, StepOutput, UnlearnContext } from '@mtu/unlearning';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
  readStepBatches,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightsOf } from '../__fixtures__/data.js';
import { useWasm } from '../__fixtures__/setup.js';
import {
  scrub,
  scrubMaxStep,
  scrubMinStep,
  scrubStepKind,
  teacherDistance,
  teacherOutputs,
} from './scrub.js';
import type { ScrubConfig } from './scrub.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4, msteps: 1 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: scrub', () => {
  for (const check of conformanceChecks(scrub, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

/** A hand-built context whose student is the teacher plus small noise (off the distance minimum). */
function makeContext(
  request: ForgetRequest,
  raw: Record<string, unknown>,
): { ctx: UnlearnContext<ScrubConfig>; batches: StepBatches; dispose: () => void } {
  const student = fixture.model.clone();
  const noisy: NamedTensorMap = tf.tidy(() => {
    const out: NamedTensorMap = {};
    Object.entries(student.variables).forEach(([n, v], i) => {
      out[n] = tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 100 + i));
    });
    return out;
  });
  student.setWeights(noisy);
  tf.dispose(noisy);
  const ctx = createStepContext(scrub, fixture, request, {
    config: raw,
    model: student,
    testLoss: 0.5,
  });
  const step = readStepBatches(ctx, 6);
  return {
    ctx,
    batches: step.batches,
    dispose: () => {
      step.dispose();
      student.dispose();
    },
  };
}

function distance(
  ctx: UnlearnContext<ScrubConfig>,
  batch: Batch,
  tasks: readonly string[],
  caps: Record<string, number> = {},
): number {
  const teacher = teacherOutputs(ctx, batch, tasks);
  const d = tf.tidy(() =>
    teacherDistance(ctx, batch, ctx.model.variables, teacher, tasks, ctx.config.temperature, caps),
  );
  tf.dispose(Object.values(teacher));
  const v = d.dataSync()[0]!;
  d.dispose();
  return v;
}

/** θ ← θ − η·g (plain SGD, what the loop does with `optimizer: 'sgd'`). */
function applyStep(model: MultiTaskModel, out: StepOutput, lr: number): void {
  const next = tf.tidy(() => {
    const m: NamedTensorMap = {};
    for (const [n, g] of Object.entries(out.grads))
      m[n] = tf.sub(model.variables[n]!, tf.mul(g, lr));
    return m;
  });
  model.setWeights(next);
  tf.dispose(next);
  tf.dispose(out.grads);
}

describe('scrub: defining properties', () => {
  it('schedule: min first, alternating during the first msteps epochs, then min only', () => {
    const kinds = Array.from({ length: 8 }, (_, k) => scrubStepKind(k, 2, 2));
    expect(kinds).toEqual(['min', 'max', 'min', 'max', 'min', 'min', 'min', 'min']);
    expect(scrubStepKind(1, 1, 0)).toBe('min');
  });

  for (const which of ['full-task', 'partial-task'] as const) {
    it(`${which}: a max-step increases the forget distance; a min-step decreases the retained distance; the teacher is untouched`, () => {
      const teacherBefore = weightsOf(fixture.model);
      const { ctx, batches, dispose } = makeContext(fixture.requests[which], {
        gamma: 0,
        alpha: 1,
      });
      try {
        const targets = ctx.views.targetTasks;
        const caps = { depth: ctx.config.distanceCap * 0.5 };
        const f0 = distance(ctx, batches.forget, targets, caps);
        const max = scrubMaxStep(ctx, batches);
        // Only the target heads and the shared trunk move in a max-step.
        for (const [n, g] of Object.entries(max.grads)) {
          const group = n.split('/')[0]!;
          if (group !== 'shared' && !targets.includes(group)) {
            expect(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0])).toBe(0);
          }
        }
        applyStep(ctx.model, max, 1e-3);
        const f1 = distance(ctx, batches.forget, targets, caps);
        expect(f0).toBeGreaterThan(0);
        expect(f1).toBeGreaterThan(f0);

        const r0 = distance(ctx, batches.retained!, ctx.model.tasks);
        applyStep(ctx.model, scrubMinStep(ctx, batches), 1e-3);
        const r1 = distance(ctx, batches.retained!, ctx.model.tasks);
        expect(r1).toBeLessThan(r0);
      } finally {
        dispose();
      }
      expect(weightsOf(fixture.model)).toEqual(teacherBefore);
    });
  }

  it('the distance is zero at the teacher and the max-step cap bounds regression distances', () => {
    const { ctx, batches, dispose } = makeContext(fixture.requests['full-task'], {});
    try {
      const teacher = teacherOutputs(ctx, batches.forget, ['depth']);
      const at = (params: NamedTensorMap, caps: Record<string, number>): number =>
        tf.tidy(
          () =>
            teacherDistance(
              ctx,
              batches.forget,
              params,
              teacher,
              ['depth'],
              4,
              caps,
            ).dataSync()[0]!,
        );
      expect(at(fixture.model.variables, {})).toBe(0);
      const far = at(ctx.model.variables, {});
      expect(far).toBeGreaterThan(0);
      expect(at(ctx.model.variables, { depth: far / 10 })).toBeLessThanOrEqual(far / 10 + 1e-6);
      tf.dispose(Object.values(teacher));
    } finally {
      dispose();
    }
  });

  it('normals: the distance is 1 − cos (0 at the teacher, at most 2) and the max-step caps it', async () => {
    const dataset = createToyDataset({
      seed: 3,
      trainSize: 8,
      testSize: 4,
      size: 8,
      kinds: ['normals'],
    });
    const teacher = createModel(
      defaultModelSpec(dataset, { backbone: { width: 4, stages: 1 }, hidden: 8 }),
      { seed: 1 },
    );
    await train(teacher, dataset, { epochs: 1, batchSize: 4 });
    const student = createModel(teacher.spec, { seed: 2 });
    const views = requestViews(dataset, { instances: [0, 1], tasks: 'all' });
    const ctx: UnlearnContext<ScrubConfig> = {
      dataset,
      views,
      model: student,
      original: teacher,
      config: resolveConfig(scrub, {}),
      rng: createRng(0),
      testLoss: { normals: 0.01 },
      emit: () => undefined,
      countGradients: () => undefined,
      settled: new Set<string>(),
      signal: undefined,
    };
    const batch = readBatch(dataset, [0, 1]);
    try {
      const out = teacherOutputs(ctx, batch, ['normals']);
      const at = (params: NamedTensorMap, caps: Record<string, number> = {}): number =>
        tf.tidy(
          () => teacherDistance(ctx, batch, params, out, ['normals'], 1, caps).dataSync()[0]!,
        );
      expect(at(teacher.variables)).toBeCloseTo(0, 5);
      const d = at(student.variables);
      expect(d).toBeGreaterThan(0.01);
      expect(d).toBeLessThanOrEqual(2);
      expect(at(student.variables, { normals: 0.01 })).toBeCloseTo(0.01, 6);
      // A max-step whose distances are all past the cap has no gradient (bounded ascent).
      const max = scrubMaxStep(ctx, { forget: batch, retained: undefined });
      const g = tf.tidy(() =>
        Object.values(max.grads).reduce((a, t) => a + tf.sum(tf.abs(t)).dataSync()[0]!, 0),
      );
      tf.dispose(max.grads);
      expect(g).toBe(0);
      tf.dispose(Object.values(out));
    } finally {
      disposeBatch(batch);
      student.dispose();
      teacher.dispose();
    }
  });
});
