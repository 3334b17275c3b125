import { requestViews } from '@mtu/datasets';
import { createModel, train } from '@mtu/multitask-model';
import { unlearn } from '@mtu/unlearning';
import { conformanceChecks, createConformanceFixture } from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weightsOf, withChangedLabels } from '../__fixtures__/data.js';
import { useWasm } from '../__fixtures__/setup.js';
import { retrain } from './retrain.js';

useWasm();

const SMALL = { epochs: 1, batchSize: 8 };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: retrain', () => {
  for (const check of conformanceChecks(retrain, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('retrain: exact unlearning', () => {
  it('equals an independent createModel + train with the same seeds and supervision, bit for bit', async () => {
    for (const which of ['full-task', 'partial-task'] as const) {
      const request = fixture.requests[which];
      const r = await unlearn(fixture.model, fixture.dataset, request, retrain, {
        config: { epochs: 2, batchSize: 8, initSeed: 7, shuffleSeed: 3 },
      });
      const independent = createModel(fixture.model.spec, { seed: 7 });
      await train(independent, fixture.dataset, {
        epochs: 2,
        batchSize: 8,
        seed: 3,
        supervision: requestViews(fixture.dataset, request).supervision,
      });
      const [a, b] = [weightsOf(r.model), weightsOf(independent)];
      r.model.dispose();
      independent.dispose();
      expect(a.length).toBe(b.length);
      expect(a.every((x, i) => Object.is(x, b[i]))).toBe(true);
      expect(r.gradientEvaluations).toBeGreaterThan(0);
    }
  });

  it('does not depend on the forgotten labels (partial-task)', async () => {
    const request = fixture.requests['partial-task'];
    const target = (request.tasks as string[])[0]!;
    const changed = withChangedLabels(fixture.dataset, [target], request.instances);
    const config = { epochs: 2, batchSize: 8 };
    const a = await unlearn(fixture.model, fixture.dataset, request, retrain, { config });
    const b = await unlearn(fixture.model, changed, request, retrain, { config });
    // Control: the same change to a retained instance's label does change the result.
    const c = await unlearn(
      fixture.model,
      withChangedLabels(fixture.dataset, [target], [0]),
      request,
      retrain,
      {
        config,
      },
    );
    const [wa, wb, wc] = [weightsOf(a.model), weightsOf(b.model), weightsOf(c.model)];
    for (const r of [a, b, c]) r.model.dispose();
    expect(wa.every((x, i) => Object.is(x, wb[i]))).toBe(true);
    expect(wa.every((x, i) => Object.is(x, wc[i]))).toBe(false);
  });
});
