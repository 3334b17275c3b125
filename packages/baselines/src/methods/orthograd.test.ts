import { flatten, tf } from '@mtu/core-tensors';
import { disposeBatch, readBatch } from '@mtu/datasets';
import { groupLayout, perInstanceGradients } from '@mtu/multitask-model';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { orthograd, orthogradConstraintIds } from './orthograd.js';
import type { OrthogradConfig } from './orthograd.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 3, earlyStop: false };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: orthograd', () => {
  for (const check of conformanceChecks(orthograd, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

function dot(a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]! * b[i]!;
  return s;
}

describe('orthograd: the update is orthogonal to the per-sample retain gradients', () => {
  const check = (
    which: 'full-task' | 'partial-task',
    projection: OrthogradConfig['projection'],
  ): void => {
    const model = fixture.model;
    const ctx = createStepContext(orthograd, fixture, fixture.requests[which], {
      config: { ...SMALL, projection },
      testLoss: 10,
    });
    const { views, config } = ctx;
    const forgetIds = Array.from(views.forget).slice(0, 2);
    const retainIds = Array.from(views.retain).slice(0, 3);
    const forget = readBatch(fixture.dataset, forgetIds);
    const retained = readBatch(fixture.dataset, [...retainIds, ...forgetIds], {
      supervision: views.supervision,
    });
    try {
      const batches = { forget, retained };
      const ids = orthogradConstraintIds(ctx, batches);
      expect(ids.length).toBe(which === 'full-task' ? 3 : 5);
      const out = orthograd.step!(ctx, batches, undefined);
      const all = groupLayout(model, model.layout.groupNames);
      const d = flatten(all, out.grads);
      tf.dispose(out.grads);
      // Recompute the per-sample retain gradients independently.
      const R = perInstanceGradients(model, fixture.dataset, ids, {
        tasks: model.tasks,
        supervision: views.supervision,
      });
      // The raw (unprojected) forget gradient: the negative control and the per-block scale.
      const raw = orthograd.step!(
        { ...ctx, config: { ...config, retainBatchSize: 0 } },
        { forget, retained: undefined },
        undefined,
      );
      const g = flatten(all, raw.grads);
      tf.dispose(raw.grads);
      const gv = g.dataSync();
      const gn = Math.sqrt(dot(gv, gv));
      const dv = d.dataSync();
      const Rv = R.dataSync();
      const M = R.shape[1];
      const dn = Math.sqrt(dot(dv, dv));
      expect(dn).toBeGreaterThan(0); // the update is not trivially zero
      for (let m = 0; m < M; m++) {
        const col = Float32Array.from({ length: all.size }, (_, i) => Rv[i * M + m]!);
        const cn = Math.sqrt(dot(col, col));
        if (cn === 0) continue;
        // Globally orthogonal: |cos(d, r_m)| ≤ 1e-4 (float32 rounding).
        expect(Math.abs(dot(dv, col)) / (dn * cn)).toBeLessThan(1e-4);
        if (projection === 'per-tensor') {
          for (const e of all.entries) {
            const a = dot(dv, col, e.offset, e.offset + e.size);
            // Relative to the block's unprojected gradient: a block whose gradient was removed
            // almost entirely keeps only float32 rounding noise, whose own cosine is meaningless.
            const ng = Math.sqrt(dot(gv, gv, e.offset, e.offset + e.size));
            const nc = Math.sqrt(dot(col, col, e.offset, e.offset + e.size));
            if (ng === 0 || nc === 0) continue;
            expect(Math.abs(a) / (ng * nc)).toBeLessThan(1e-4);
          }
        }
      }
      // Negative control: the raw forget gradient is not orthogonal to them.
      let worst = 0;
      for (let m = 0; m < M; m++) {
        const col = Float32Array.from({ length: all.size }, (_, i) => Rv[i * M + m]!);
        const cn = Math.sqrt(dot(col, col));
        if (cn > 0) worst = Math.max(worst, Math.abs(dot(gv, col)) / (gn * cn));
      }
      expect(worst).toBeGreaterThan(1e-2);
      tf.dispose([d, R, g]);
    } finally {
      disposeBatch(forget);
      disposeBatch(retained);
    }
  };

  for (const which of ['full-task', 'partial-task'] as const) {
    for (const projection of ['per-tensor', 'global'] as const) {
      it(`${which}, ${projection}`, () => check(which, projection));
    }
  }
});
