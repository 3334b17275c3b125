import { tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Scalar } from '@mtu/core-tensors';
import type { ForgetRequest } from '@mtu/datasets';

import { valueAndGradients } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { unlearn } from '@mtu/unlearning';
import type { StepBatches, UnlearnContext } from '@mtu/unlearning';
import {
  conformanceChecks,
  createConformanceFixture,
  createStepContext,
  readStepBatches,
} from '@mtu/unlearning/testing';
import type { ConformanceFixture } from '@mtu/unlearning/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from '../__fixtures__/setup.js';
import { forgetLoss, retainLoss } from '../objectives.js';
import { hessianVectorProduct, lur, lurParts } from './lur.js';
import type { LurConfig, LurParts } from './lur.js';

useWasm();

const SMALL = { epochs: 1, forgetBatchSize: 2, retainBatchSize: 4, earlyStop: false };

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

describe('conformance: lur', () => {
  for (const check of conformanceChecks(lur, { config: SMALL })) {
    it(check.name, () => check.run(fixture));
  }
});

function makeContext(
  request: ForgetRequest,
  raw: Record<string, unknown>,
  testLoss = 10,
): { ctx: UnlearnContext<LurConfig>; batches: StepBatches; dispose: () => void } {
  const model = fixture.model.clone();
  const ctx = createStepContext(lur, fixture, request, { config: raw, model, testLoss });
  const step = readStepBatches(ctx, 8);
  return {
    ctx,
    batches: step.batches,
    dispose: () => {
      step.dispose();
      model.dispose();
    },
  };
}

function flat(m: NamedTensorMap, model: MultiTaskModel): Float64Array {
  const parts = Object.keys(model.variables).map((n) => m[n]!.dataSync());
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) for (const v of p) out[k++] = v;
  return out;
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);
const nrm = (a: Float64Array): number => Math.sqrt(dot(a, a));
const sub = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v - b[i]!);

function disposeParts(p: LurParts): void {
  tf.dispose([p.retainGrad, p.forgetGradAtLookahead, p.direction]);
  if (p.hvp !== undefined) tf.dispose(p.hvp);
}

/** θ + s·v as a parameter map (caller owns). */
function shifted(model: MultiTaskModel, v: NamedTensorMap, s: number): NamedTensorMap {
  return tf.tidy(() => {
    const out: NamedTensorMap = {};
    for (const [n, w] of Object.entries(model.variables)) out[n] = tf.add(w, tf.mul(v[n]!, s));
    return out;
  });
}

describe('lur: defining properties', () => {
  it('the finite-difference HVP is exact on a quadratic', () => {
    const model = fixture.model;
    const c = 0.7;
    const quad = (p: NamedTensorMap): Scalar =>
      Object.values(p).reduce<Scalar>(
        (a, t) => tf.add(a, tf.mul(tf.sum(tf.square(t)), c)),
        tf.scalar(0),
      );
    const v = tf.tidy(() => {
      const out: NamedTensorMap = {};
      Object.entries(model.variables).forEach(([n, w], i) => {
        out[n] = tf.randomNormal(w.shape, 0, 1, 'float32', 7 + i);
      });
      return out;
    });
    const hv = hessianVectorProduct(model, quad, v, { tasks: model.tasks, radius: 1e-2 });
    const [a, b] = [flat(hv, model), flat(v, model).map((x) => 2 * c * x)];
    expect(nrm(sub(a, b)) / nrm(b)).toBeLessThan(1e-2);
    tf.dispose([v, hv]);
  });

  it('the HVP of the retain loss matches directional finite differences of the retain gradient and of the loss (oracles)', () => {
    const { ctx, batches, dispose } = makeContext(fixture.requests['full-task'], {});
    try {
      const model = ctx.model;
      const f = (p: NamedTensorMap): Scalar => retainLoss(ctx, batches, p);
      // A direction along which L_r is smooth: the CE heads' output layers (linear logits; no ReLU
      // or L1 kink is crossed), taken from the retain gradient.
      const full = valueAndGradients(model, f, { tasks: model.tasks }).grads;
      const v = tf.tidy(() => {
        const out: NamedTensorMap = {};
        for (const [n, g] of Object.entries(full)) {
          const smooth = n.startsWith('segmentation/out/') || n.startsWith('classification/fc2/');
          out[n] = smooth ? tf.clone(g) : tf.zerosLike(g);
        }
        return out;
      });
      tf.dispose(full);
      const vf = flat(v, model);
      const vn = nrm(vf);
      const hvMap = hessianVectorProduct(model, f, v, { tasks: model.tasks, radius: 1e-2 });
      const hv = flat(hvMap, model);
      tf.dispose(hvMap);
      // Oracle 1: one-sided directional difference (∇L_r(θ + δv) − ∇L_r(θ)) / δ, another step.
      const delta = 3e-3 / vn;
      const plus = shifted(model, v, delta);
      const g1 = valueAndGradients(model, f, { tasks: model.tasks, params: plus }).grads;
      const g0 = valueAndGradients(model, f, { tasks: model.tasks }).grads;
      const oracle = sub(flat(g1, model), flat(g0, model)).map((x) => x / delta);
      tf.dispose([plus, g1, g0]);
      expect(nrm(hv)).toBeGreaterThan(0);
      expect(nrm(sub(hv, oracle)) / nrm(oracle)).toBeLessThan(0.05);
      // Oracle 2: ⟨v, H v⟩ from loss values only, (L(θ+hv) − 2L(θ) + L(θ−hv)) / h².
      const h = 3e-2 / vn;
      const L = (s: number): number => {
        const p = shifted(model, v, s);
        const value = valueAndGradients(model, f, {
          tasks: model.tasks,
          params: p,
          groups: [],
        }).value;
        tf.dispose(p);
        return value;
      };
      const vHv = (L(h) - 2 * L(0) + L(-h)) / (h * h);
      expect(Math.abs(dot(vf, hv) - vHv) / Math.abs(vHv)).toBeLessThan(0.05);
      tf.dispose(v);
    } finally {
      dispose();
    }
  });

  it('first-order and finite-difference updates differ by O(α) (→ equal as α shrinks)', () => {
    const { ctx, batches, dispose } = makeContext(fixture.requests['partial-task'], {});
    try {
      const model = ctx.model;
      const gap = (alpha: number): { gap: number; size: number } => {
        const fo = lurParts(ctx, batches, { form: 'first-order', innerLearningRate: alpha });
        const fd = lurParts(ctx, batches, { form: 'finite-difference', innerLearningRate: alpha });
        const [a, b] = [flat(fo.direction, model), flat(fd.direction, model)];
        disposeParts(fo);
        disposeParts(fd);
        return { gap: nrm(sub(a, b)), size: nrm(a) };
      };
      const big = gap(2e-3);
      const small = gap(5e-4);
      expect(big.gap).toBeGreaterThan(0);
      // gap(α) = w_f·α·‖H_r ∇L_f(θ')‖: gap/α is (nearly) the same at both α.
      const ratio = small.gap / 5e-4 / (big.gap / 2e-3);
      expect(ratio).toBeGreaterThan(0.8);
      expect(ratio).toBeLessThan(1.25);
      expect(small.gap / small.size).toBeLessThan(big.gap / big.size);
    } finally {
      dispose();
    }
  });

  it('the finite-difference form is the gradient of J(θ) = −L_f(θ − α∇L_r(θ)) (directional oracle)', () => {
    const alpha = 5e-3;
    const { ctx, batches, dispose } = makeContext(fixture.requests['full-task'], {
      retainWeight: 0,
      innerLearningRate: alpha,
    });
    try {
      const model = ctx.model;
      const fd = lurParts(ctx, batches, { form: 'finite-difference' });
      const fo = lurParts(ctx, batches, { form: 'first-order' });
      const u = fd.forgetGradAtLookahead; // direction of the oracle difference
      const un = nrm(flat(u, model));
      const J = (s: number): number => {
        const theta = shifted(model, u, s);
        const gr = valueAndGradients(model, (p) => retainLoss(ctx, batches, p), {
          tasks: model.tasks,
          params: theta,
        }).grads;
        const ahead = tf.tidy(() => {
          const out: NamedTensorMap = {};
          for (const n of Object.keys(theta)) out[n] = tf.sub(theta[n]!, tf.mul(gr[n]!, alpha));
          return out;
        });
        const value = valueAndGradients(model, (p) => tf.neg(forgetLoss(ctx, batches, p)), {
          tasks: ctx.views.targetTasks,
          params: ahead,
          groups: [],
        }).value;
        tf.dispose([theta, gr, ahead]);
        return value;
      };
      const h = ctx.config.fdRadius / un; // the same scale as the HVP's differences
      const oracle = (J(h) - J(-h)) / (2 * h);
      const uf = flat(u, model);
      const dFd = dot(flat(fd.direction, model), uf);
      const dFo = dot(flat(fo.direction, model), uf);
      expect(Math.abs(dFd - oracle)).toBeLessThan(Math.abs(dFo - oracle));
      expect(Math.abs(dFd - oracle) / Math.abs(oracle)).toBeLessThan(0.05);
      disposeParts(fd);
      disposeParts(fo);
    } finally {
      dispose();
    }
  });

  it('regression ascent is bounded: forget instances above the cap give no forget gradient', () => {
    const request: ForgetRequest = { instances: [2, 6, 10, 14], tasks: ['depth'] };
    for (const [tau, expectAscent] of [
      [1e-6, false],
      [10, true],
    ] as const) {
      const { ctx, batches, dispose } = makeContext(request, { form: 'first-order' }, tau);
      try {
        const parts = lurParts(ctx, batches);
        const fg = nrm(flat(parts.forgetGradAtLookahead, ctx.model));
        if (expectAscent) expect(fg).toBeGreaterThan(0);
        else {
          expect(fg).toBe(0);
          const d = flat(parts.direction, ctx.model);
          expect(nrm(sub(d, flat(parts.retainGrad, ctx.model)))).toBe(0);
        }
        disposeParts(parts);
      } finally {
        dispose();
      }
    }
  });

  it('a short run stays finite in both forms', async () => {
    for (const form of ['first-order', 'finite-difference'] as const) {
      const r = await unlearn(fixture.model, fixture.dataset, fixture.requests['full-task'], lur, {
        config: { ...SMALL, epochs: 2, form },
      });
      const w = r.model.flatWeights();
      expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(w)).dataSync()[0]!))).toBe(true);
      w.dispose();
      r.model.dispose();
    }
  });
});
