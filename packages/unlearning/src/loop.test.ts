import { ConfigError, tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import { requestViews } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { PRIMARY_METRIC, evaluate, instanceLossTable } from '@mtu/metrics';
import { createModel, defaultModelSpec, taskLosses } from '@mtu/multitask-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useWasm } from './__fixtures__/setup.js';
import {
  DEFAULT_LOOP_CONFIG,
  createUnlearnerRegistry,
  loopConfigFields,
  registerInterferenceAware,
  resolveConfig,
  unlearn,
} from './index.js';
import type { LoopConfig, UnlearnEvent, Unlearner } from './index.js';
import { conformanceChecks, createConformanceFixture } from './testing/index.js';
import type { ConformanceFixture } from './testing/index.js';

useWasm();

/** A minimal method through the `loss` hook: fine-tune on the retained batch, heads frozen by a transform. */
const finetuneShared: Unlearner<LoopConfig, undefined> = {
  id: 'test/finetune-shared',
  displayName: 'fine-tune (test)',
  reference: { title: 'test', authors: 'test', venue: 'test', url: 'https://example.org' },
  approximate: true,
  settings: ['full-task'],
  defaults: { ...DEFAULT_LOOP_CONFIG, epochs: 2, forgetBatchSize: 2 },
  schema: z.object(loopConfigFields).strict(),
  loss(ctx, batches, _state, params) {
    const losses = taskLosses(ctx.model, ctx.dataset, batches.retained!, params, ctx.model.tasks);
    return Object.values(losses).reduce((a, b) => tf.add(a, b));
  },
  transformGradients(_ctx, grads: NamedTensorMap) {
    const out: NamedTensorMap = {};
    for (const [name, g] of Object.entries(grads))
      out[name] = name.startsWith('shared/') ? g : tf.zerosLike(g);
    return out;
  },
};

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('the loop', () => {
  it('runs a loss-hook method: events in order, only shared weights move', async () => {
    const events: UnlearnEvent[] = [];
    const r = await unlearn(
      fixture.model,
      fixture.dataset,
      fixture.requests['full-task'],
      finetuneShared,
      {
        onEvent: (e) => events.push(e),
      },
    );
    expect(events[0]).toMatchObject({
      type: 'start',
      method: 'test/finetune-shared',
      epochs: 2,
      stepsPerEpoch: 2,
    });
    expect(events.filter((e) => e.type === 'step')).toHaveLength(4);
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'end', steps: 4, stoppedEarly: false });
    expect(r.gradientEvaluations).toBe(4 * (2 + (8 + 2))); // forget batch + retained batch (retain + forget ids)
    const [a, b] = [fixture.model.flatWeights(['depth']), r.model.flatWeights(['depth'])];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const [c, d] = [fixture.model.flatWeights(['shared']), r.model.flatWeights(['shared'])];
    expect(Array.from(d.dataSync())).not.toEqual(Array.from(c.dataSync()));
    tf.dispose([a, b, c, d]);
    r.model.dispose();
  });

  it('honours maxSteps and validates configs naming the option', async () => {
    const r = await unlearn(
      fixture.model,
      fixture.dataset,
      fixture.requests['full-task'],
      finetuneShared,
      {
        config: { maxSteps: 3 },
      },
    );
    expect(r.steps).toBe(3);
    r.model.dispose();
    await expect(
      unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], finetuneShared, {
        config: { epochs: -1 },
      }),
    ).rejects.toThrow(/test\/finetune-shared\.epochs/);
    await expect(
      unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], finetuneShared, {
        config: { lr: 1 },
      }),
    ).rejects.toThrow(/test\/finetune-shared\.lr.*unknown option/);
  });

  it('rejects a step that returns a gradient for an unknown parameter', async () => {
    const broken: Unlearner<LoopConfig, undefined> = {
      id: 'test/broken',
      displayName: finetuneShared.displayName,
      reference: finetuneShared.reference,
      approximate: true,
      settings: finetuneShared.settings,
      defaults: finetuneShared.defaults,
      schema: finetuneShared.schema,
      step: () => ({ grads: { nope: tf.zeros([1]) }, gradientEvaluations: 0 }),
    };
    await expect(
      unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], broken),
    ).rejects.toThrow(/unknown parameter/);
  });

  it('stops early when the forget metric reaches the test level', async () => {
    // A huge ascent-like step drives the forget metrics down at once.
    const events: UnlearnEvent[] = [];
    const r = await unlearn(
      fixture.model,
      fixture.dataset,
      fixture.requests['full-task'],
      registryMethod(),
      {
        config: { earlyStop: true, epochs: 5, learningRate: 5, subspaceSamples: 4, constraints: 0 },
        onEvent: (e) => events.push(e),
      },
    );
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs[0]).toMatchObject({ type: 'epoch' });
    const first = epochs[0] as Extract<UnlearnEvent, { type: 'epoch' }>;
    expect(Object.keys(first.forgetMetric!)).toEqual(['classification', 'segmentation', 'depth']);
    expect(r.stoppedEarly).toBe(true);
    expect(r.epochs).toBeLessThan(5);
    r.model.dispose();
  });

  it("measures the original's test losses and early-stop levels from one forward pass", async () => {
    // 70 test instances: chunks of 32, 32 and 6, so the per-chunk offsets are exercised.
    const dataset = createToyDataset({
      seed: 3,
      trainSize: 12,
      testSize: 70,
      size: 8,
      kinds: ['classification', 'segmentation', 'depth'],
    });
    const model = createModel(
      defaultModelSpec(dataset, { backbone: { width: 4, stages: 1 }, hidden: 8 }),
      { seed: 1 },
    );
    const seen: { testLoss: Record<string, number>; testLevel?: Record<string, number> }[] = [];
    const probe: Unlearner<LoopConfig, undefined> = {
      ...finetuneShared,
      id: 'test/probe',
      setup(ctx) {
        seen.push({ testLoss: { ...ctx.testLoss } });
        return undefined;
      },
    };
    for (const earlyStop of [true, false]) {
      const r = await unlearn(model, dataset, { instances: [0, 1], tasks: 'all' }, probe, {
        config: { epochs: 1, earlyStop },
        testSample: 1000,
        onEvent: (e) => {
          if (e.type === 'epoch' && e.testLevel !== undefined) seen.at(-1)!.testLevel = e.testLevel;
        },
      });
      r.model.dispose();
    }
    const views = requestViews(dataset, { instances: [0, 1], tasks: 'all' });
    expect(views.test).toHaveLength(70);
    const table = instanceLossTable(model, dataset, views.test, model.tasks);
    for (const t of model.tasks) {
      const finite = Array.from(table[t]!).filter(Number.isFinite);
      expect(finite.length).toBeGreaterThan(32);
      const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
      // Bit for bit: the same forward pass, with early stop on (losses and metrics together) or off.
      expect(seen[0]!.testLoss[t]).toBe(mean);
      expect(seen[1]!.testLoss[t]).toBe(mean);
    }
    const ev = evaluate(model, dataset, views);
    for (const t of model.tasks) {
      const kind = dataset.tasks.find((x) => x.name === t)!.kind;
      expect(seen[0]!.testLevel![t]).toBeCloseTo(
        ev.splits.test[t]!.values[PRIMARY_METRIC[kind]]!,
        6,
      );
    }
    expect(seen[1]!.testLevel).toBeUndefined();
    model.dispose();
  });

  it('tells the method which targets have settled; interference-aware stops their ascent', async () => {
    const events: UnlearnEvent[] = [];
    const r = await unlearn(
      fixture.model,
      fixture.dataset,
      fixture.requests['full-task'],
      registryMethod(),
      {
        config: {
          earlyStop: true,
          epochs: 4,
          learningRate: SETTLE_LR,
          subspaceSamples: 4,
          constraints: 0,
          settleTargets: true,
        },
        onEvent: (e) => events.push(e),
      },
    );
    r.model.dispose();
    const targets = ['classification', 'segmentation', 'depth'];
    let settled = new Set<string>();
    let partial = 0;
    for (const e of events) {
      if (e.type === 'epoch') {
        settled = new Set(targets.filter((t) => e.forgetMetric![t]! <= e.testLevel![t]!));
      } else if (e.type === 'step') {
        // Settled tasks (as of the last epoch's check) are skipped, the others ascend.
        for (const t of targets) expect(e.info?.[`${t}.settled`] === 1, t).toBe(settled.has(t));
        if (settled.size > 0 && settled.size < targets.length) partial++;
      }
    }
    expect(partial).toBeGreaterThan(0);
  });
});

/** A rate at which the fixture's targets settle in different epochs (full-task). */
const SETTLE_LR = 0.005;

function registryMethod() {
  const registry = createUnlearnerRegistry();
  registerInterferenceAware(registry);
  expect(registry.list().map((m) => m.id)).toEqual([
    'interference-aware',
    'interference-aware/projection-only',
    'interference-aware/orthogonalization-only',
    'interference-aware/none',
  ]);
  expect(() => registry.get('salun')).toThrow(/unknown method 'salun'/);
  expect(() => registerInterferenceAware(registry)).toThrow(ConfigError);
  return registry.get('interference-aware/none');
}

describe('conformance of the test method', () => {
  for (const check of conformanceChecks(finetuneShared, { config: { epochs: 1 } })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('per-dataset defaults', () => {
  it('sit between the method defaults and the user config, and are validated', async () => {
    const tuned: Unlearner<LoopConfig, undefined> = {
      ...finetuneShared,
      id: 'test/tuned',
      datasetDefaults: { toy: { learningRate: 0.5, epochs: 1 }, other: { learningRate: 9 } },
    };
    expect(resolveConfig(tuned, {}, 'toy')).toMatchObject({ learningRate: 0.5, epochs: 1 });
    expect(resolveConfig(tuned, { learningRate: 0.1 }, 'toy')).toMatchObject({
      learningRate: 0.1,
      epochs: 1,
    });
    expect(resolveConfig(tuned, {}, 'scenes').learningRate).toBe(DEFAULT_LOOP_CONFIG.learningRate);
    const r = await unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], tuned);
    expect(r.config.learningRate).toBe(0.5); // the fixture dataset's id is 'toy'
    expect(r.epochs).toBe(1);
    r.model.dispose();
    const bad: Unlearner<LoopConfig, undefined> = {
      ...finetuneShared,
      id: 'test/bad',
      datasetDefaults: { toy: { epochs: -1 } },
    };
    await expect(
      unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], bad),
    ).rejects.toThrow(/test\/bad\.epochs/);
  });
});
