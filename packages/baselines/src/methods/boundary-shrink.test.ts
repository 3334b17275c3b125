import { ConfigError, tf } from '@mtu/core-tensors';
import { disposeBatch, getTask, readBatch } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, instanceLosses, train } from '@mtu/multitask-model';
import { unlearn } from '@mtu/unlearning';
import { conformanceChecks, createConformanceFixture } from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import {
  boundaryShrink,
  fgsmNeighbour,
  inputRange,
  nearestWrongLabels,
} from './boundary-shrink.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, earlyStop: false };

/**
 * The kit's fixture without its depth task: Boundary Shrink rejects depth targets, and the kit's
 * full-task request (`tasks: 'all'`) targets every task. Same recipe as createConformanceFixture.
 */
async function classTasksFixture(): Promise<ConformanceFixture> {
  const dataset = createToyDataset({
    seed: 5,
    trainSize: 24,
    testSize: 8,
    size: 8,
    kinds: ['classification', 'segmentation'],
  });
  const model = createModel(
    defaultModelSpec(dataset, { backbone: { width: 4, stages: 1 }, hidden: 8 }),
    { seed: 0 },
  );
  await train(model, dataset, { epochs: 3, batchSize: 8 });
  return {
    dataset,
    model,
    requests: {
      'full-task': { instances: [1, 5, 9, 13], tasks: 'all' },
      'partial-task': { instances: [2, 6, 10, 14], tasks: ['segmentation'] },
    },
    dispose: () => model.dispose(),
  };
}

let fixture: ConformanceFixture;
let kit: ConformanceFixture;
beforeAll(async () => {
  fixture = await classTasksFixture();
  kit = await createConformanceFixture();
});
afterAll(() => {
  fixture.dispose();
  kit.dispose();
});

describe('conformance: boundary-shrink (classification + segmentation fixture)', () => {
  for (const check of conformanceChecks(boundaryShrink, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
  for (const check of conformanceChecks(boundaryShrink, {
    config: { ...SMALL, retainBatchSize: 4 },
  })) {
    if (check.name.includes('tensor leaks') || check.name.includes('same seed')) {
      it(`with a retain batch: ${check.name}`, () => check.run(fixture));
    }
  }
});

describe('boundary-shrink: defining properties', () => {
  it('labels are the original model’s nearest wrong class (arg-max on the FGSM neighbour, true class excluded)', () => {
    const { dataset, model } = fixture;
    const batch = readBatch(dataset, [1, 5, 9, 13, 2, 6]);
    const range = inputRange(dataset);
    const options = { epsilon: 0.1, ...range, excludeTrueClass: true };
    try {
      for (const t of ['classification', 'segmentation']) {
        const c = getTask(dataset, t).classes;
        const labels = nearestWrongLabels(model, dataset, batch, t, options);
        const xAdv = fgsmNeighbour(model, dataset, batch, t, options);
        const logits = model.predict(xAdv, [t])[t]!;
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(xAdv, batch.x))).dataSync()[0]!);
        const [lo, hi] = tf.tidy(() => [tf.min(xAdv).dataSync()[0]!, tf.max(xAdv).dataSync()[0]!]);
        expect(diff).toBeGreaterThan(0);
        expect(diff).toBeLessThanOrEqual(0.1 + 1e-6);
        expect(lo).toBeGreaterThanOrEqual(range.lo);
        expect(hi).toBeLessThanOrEqual(range.hi);
        const y = batch.labels[t]!.dataSync();
        const l = labels.dataSync();
        const z = logits.dataSync();
        let valid = 0;
        for (let i = 0; i < y.length; i++) {
          if (y[i]! < 0) {
            expect(l[i]).toBe(y[i]);
            continue;
          }
          valid++;
          expect(l[i]).not.toBe(y[i]);
          let best = -1;
          for (let k = 0; k < c; k++)
            if (k !== y[i] && (best < 0 || z[i * c + k]! > z[i * c + best]!)) best = k;
          expect(l[i]).toBe(best);
        }
        expect(valid).toBeGreaterThan(0);
        tf.dispose([labels, xAdv, logits]);
      }
    } finally {
      disposeBatch(batch);
    }
  });

  it('the first step descends the cross-entropy to exactly those labels', async () => {
    const { dataset, model } = fixture;
    const request = fixture.requests['partial-task'];
    let first: number | undefined;
    const r = await unlearn(model, dataset, request, boundaryShrink, {
      config: { epochs: 1, forgetBatchSize: 4 },
      onEvent: (e) => {
        if (e.type === 'step' && first === undefined) first = e.loss;
      },
    });
    r.model.dispose();
    const batch = readBatch(dataset, request.instances);
    const options = { epsilon: 0.1, ...inputRange(dataset), excludeTrueClass: true };
    const labels = nearestWrongLabels(model, dataset, batch, 'segmentation', options);
    const expected = tf.tidy(() => {
      const out = model.predict(batch.x, ['segmentation']).segmentation!;
      const task = getTask(dataset, 'segmentation');
      return tf.mean(instanceLosses(task, out, labels).loss).dataSync()[0]!;
    });
    labels.dispose();
    disposeBatch(batch);
    expect(first).toBeCloseTo(expected, 4);
  });

  it('rejects depth (and any regression) target with a ConfigError naming the task', async () => {
    for (const request of [kit.requests['full-task'], { instances: [1, 2], tasks: ['depth'] }]) {
      const err = await unlearn(kit.model, kit.dataset, request, boundaryShrink, {
        config: SMALL,
      }).then(
        (r) => (r.model.dispose(), undefined),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(
        /boundary-shrink cannot forget task 'depth' \(depth\)/,
      );
    }
    // The kit's partial-task request (segmentation) is accepted on the kit's own fixture.
    const ok = await unlearn(kit.model, kit.dataset, kit.requests['partial-task'], boundaryShrink, {
      config: SMALL,
    });
    ok.model.dispose();
  });
});
