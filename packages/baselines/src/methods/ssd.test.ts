import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap } from '@mtu/core-tensors';
import { gradientVector, lossAndGradients, perInstanceGradients } from '@mtu/multitask-model';
import { unlearn } from '@mtu/unlearning';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { dampen, squaredGradientImportance, ssd } from './ssd.js';

useWasm();

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

// α = 10 selects nothing for the toy partial-task request (random instances, not a class: see the
// module's Limits), so the kit runs with α = 2, which does select.
describe('conformance: ssd', () => {
  const config = { importanceBatchSize: 4, selectionWeighting: 2 };
  for (const check of conformanceChecks(ssd, { config })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('ssd: dampening (closed form)', () => {
  const w = (): NamedTensorMap => ({ a: tf.tensor1d([1, 2, -3, 4]), b: tf.tensor1d([5, 6]) });
  const trainImp = (): NamedTensorMap => ({ a: tf.tensor1d([1, 1, 0, 2]) });
  const forgetImp = (): NamedTensorMap => ({ a: tf.tensor1d([20, 5, 1, 30]) });

  it('scales exactly the entries with I_f > α·I_D by min(λ·I_D/I_f, 1), copies the rest', () => {
    const [weights, dImp, fImp] = [w(), trainImp(), forgetImp()];
    const out = dampen(weights, dImp, fImp, { selectionWeighting: 10, dampening: 1 });
    // 20 > 10 → ×1/20; 5 ≤ 10 → kept; 1 > 0 → ×0 (I_D = 0); 30 > 20 → ×2/30. b: no I_f → kept.
    expect(out.selected).toBe(3);
    const a = out.weights['a']!.dataSync();
    expect(a[0]).toBeCloseTo(1 / 20, 7);
    expect(Object.is(a[1], 2)).toBe(true);
    expect(a[2]).toBe(-0);
    expect(a[3]).toBeCloseTo((4 * 2) / 30, 6);
    expect(Array.from(out.weights['b']!.dataSync())).toEqual([5, 6]);
    tf.dispose([weights, dImp, fImp, out.weights]);
  });

  it('never scales up: a large λ caps β at 1 (selected entries unchanged)', () => {
    const [weights, dImp, fImp] = [w(), trainImp(), forgetImp()];
    const out = dampen(weights, dImp, fImp, { selectionWeighting: 10, dampening: 1000 });
    // Entry 2 has I_D = 0, so β = 0 whatever λ; the others are capped at 1.
    expect(Array.from(out.weights['a']!.dataSync())).toEqual([1, 2, -0, 4]);
    tf.dispose([weights, dImp, fImp, out.weights]);
  });
});

describe('ssd: importances', () => {
  it('with minibatches of 1, I_D is the mean squared per-instance gradient', () => {
    const ctx = createStepContext(ssd, fixture, fixture.requests['full-task']);
    const ids = [0, 3, 7, 11, 20];
    const imp = squaredGradientImportance(
      ctx,
      ids,
      1,
      (batch) => lossAndGradients(ctx.model, ctx.dataset, batch).grads,
    );
    const G = perInstanceGradients(ctx.model, ctx.dataset, ids, { tasks: ctx.model.tasks });
    const expected = tf.tidy(() => tf.mean(tf.square(G), 1).dataSync());
    const got = gradientVector(ctx.model, imp);
    const v = got.dataSync();
    let worst = 0;
    for (let i = 0; i < v.length; i++) {
      worst = Math.max(worst, Math.abs(v[i]! - expected[i]!) / (Math.abs(expected[i]!) + 1e-12));
    }
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([G, got, imp]);
  });
});

describe('ssd: the run', () => {
  it('only shrinks weights, never touches a non-target head, and changes something', async () => {
    const request = fixture.requests['partial-task'];
    const result = await unlearn(fixture.model, fixture.dataset, request, ssd, {
      config: { selectionWeighting: 2 },
    });
    const before = fixture.model.weights();
    const after = result.model.weights();
    let changed = 0;
    for (const [name, t] of Object.entries(before)) {
      const a = t.dataSync();
      const b = after[name]!.dataSync();
      if (!name.startsWith('shared/') && !name.startsWith('segmentation/')) {
        expect(
          b.every((x, i) => Object.is(x, a[i])),
          name,
        ).toBe(true);
        continue;
      }
      for (let i = 0; i < a.length; i++) {
        if (Object.is(a[i], b[i])) continue;
        changed++;
        expect(Math.abs(b[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!));
        expect(b[i]! * a[i]!).toBeGreaterThanOrEqual(0);
      }
    }
    expect(changed).toBeGreaterThan(0);
    tf.dispose([before, after]);
    result.model.dispose();
  });
});
