import { flatten, tf } from '@mtu/core-tensors';
import { unlearn } from '@mtu/unlearning';
import type { Unlearner } from '@mtu/unlearning';
import { conformanceChecks, createConformanceFixture } from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { salun, topKMask } from './salun.js';
import type { SalunConfig, SalunState } from './salun.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4, earlyStop: false };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: salun', () => {
  for (const check of conformanceChecks(salun, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

describe('salun: saliency mask', () => {
  it('topKMask keeps exactly k entries of largest magnitude, ties by index', () => {
    expect(Array.from(topKMask(Float32Array.of(0.1, -3, 2, 0), 2))).toEqual([0, 1, 1, 0]);
    expect(Array.from(topKMask(Float32Array.of(1, -1, 1, 0), 2))).toEqual([1, 1, 0, 0]);
    expect(Array.from(topKMask(Float32Array.of(1, 2), 0))).toEqual([0, 0]);
  });

  for (const setting of ['full-task', 'partial-task'] as const) {
    for (const ratio of [0.5, 0.1]) {
      it(`${setting}, ratio ${ratio}: ⌊ratio·D⌋ weights in the mask; masked-out weights never change`, async () => {
        let mask: Float32Array | undefined;
        let kept = -1;
        let drift = 0;
        let steps = 0;
        const spy: Unlearner<SalunConfig, SalunState> = {
          ...salun,
          async setup(ctx) {
            const state = await salun.setup!(ctx);
            const flat = flatten(ctx.model.layout, state.mask);
            mask = Float32Array.from(flat.dataSync());
            flat.dispose();
            kept = state.kept;
            return state;
          },
          // Before each optimiser step, i.e. after the previous one (teardown's restore aside):
          // masked-out weights are still the original's.
          transformGradients(ctx, grads, state) {
            const now = ctx.model.flatWeights();
            const orig = ctx.original.flatWeights();
            const a = now.dataSync();
            const b = orig.dataSync();
            for (let i = 0; i < a.length; i++) {
              if (mask![i] === 0 && !Object.is(a[i], b[i])) drift++;
            }
            tf.dispose([now, orig]);
            steps++;
            return salun.transformGradients!(ctx, grads, state);
          },
        };
        const r = await unlearn(fixture.model, fixture.dataset, fixture.requests[setting], spy, {
          config: { epochs: 2, forgetBatchSize: 2, retainBatchSize: 4, ratio },
          seed: 1,
        });
        const w0 = fixture.model.flatWeights();
        const w1 = r.model.flatWeights();
        const before = w0.dataSync();
        const after = w1.dataSync();
        const D = before.length;
        let ones = 0;
        let changedIn = 0;
        for (let i = 0; i < D; i++) {
          if (mask![i] === 1) {
            ones++;
            if (!Object.is(before[i], after[i])) changedIn++;
          } else {
            expect(mask![i]).toBe(0);
            if (!Object.is(before[i], after[i])) {
              throw new Error(`masked-out weight ${i} changed: ${before[i]} → ${after[i]}`);
            }
          }
        }
        w0.dispose();
        w1.dispose();
        r.model.dispose();
        expect(ones).toBe(Math.floor(ratio * D));
        expect(kept).toBe(ones);
        expect(changedIn).toBeGreaterThan(0);
        expect(steps).toBeGreaterThan(1);
        expect(drift).toBe(0);
      });
    }
  }
});
