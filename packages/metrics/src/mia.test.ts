import { describe, expect, it } from 'vitest';
import { ConfigError, createRng } from '@mtu/core-tensors';
import type { Rng } from '@mtu/core-tensors';
import { LOGISTIC_RIDGE, attackAccuracy, fitAttacker, miaEfficacy, rocAuc } from './mia.js';
import type { LogisticAttackerDescription, ThresholdAttackerDescription } from './mia.js';

/** O(nm) oracle: P(pos > neg) + ½ P(pos = neg), counted in halves so that it is exact. */
function bruteAuc(pos: readonly number[], neg: readonly number[]): number {
  let twice = 0;
  for (const p of pos) for (const n of neg) twice += p > n ? 2 : p === n ? 1 : 0;
  return twice / 2 / (pos.length * neg.length);
}

function gaussian2(rng: Rng, n: number, mu: readonly [number, number]): number[][] {
  return Array.from({ length: n }, () => [rng.normal(mu[0], 1), rng.normal(mu[1], 1)]);
}

/** Standard normal CDF via erf (Abramowitz–Stegun 7.1.26, |error| < 1.5e-7). */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

describe('rocAuc', () => {
  it('reproduces baselines §7.6: AUC = 11/12 with score = −loss, ties averaged', () => {
    const forget = [0.1, 0.2, 0.2, 0.05].map((l) => -l);
    const test = [0.3, 0.2, 0.5].map((l) => -l);
    expect(rocAuc(forget, test)).toBe(11 / 12);
  });

  it('counts ties as ½: all tied → 0.5, hand examples with partial ties', () => {
    expect(rocAuc([1, 1, 1], [1, 1])).toBe(0.5);
    expect(rocAuc([3], [3])).toBe(0.5);
    // pos [1, 2, 2], neg [2, 0]: pairs (1,2)=0 (1,0)=1 (2,2)=½ (2,0)=1 (2,2)=½ (2,0)=1 → 4/6
    expect(rocAuc([1, 2, 2], [2, 0])).toBe(4 / 6);
    expect(rocAuc([5, 6], [1, 2])).toBe(1);
    expect(rocAuc([1, 2], [5, 6])).toBe(0);
  });

  it('equals the O(nm) pairwise oracle on seeded random data with many ties', () => {
    const rng = createRng(20240611);
    for (let trial = 0; trial < 60; trial++) {
      const levels = 1 + rng.int(0, 6); // 1..6 distinct values → heavy ties
      const n1 = rng.int(1, 40);
      const n0 = rng.int(1, 40);
      const pos = Array.from({ length: n1 }, () => rng.int(0, levels) * 0.5);
      const neg = Array.from({ length: n0 }, () => rng.int(0, levels) * 0.5 - 0.25 * rng.int(0, 2));
      expect(rocAuc(pos, neg)).toBe(bruteAuc(pos, neg));
      expect(rocAuc(Float64Array.from(pos), Float32Array.from(neg))).toBe(bruteAuc(pos, neg));
    }
  });

  it('is antisymmetric: rocAuc(a, b) = 1 − rocAuc(b, a)', () => {
    const rng = createRng(7);
    for (let trial = 0; trial < 20; trial++) {
      const a = Array.from({ length: rng.int(1, 30) }, () => rng.int(0, 8));
      const b = Array.from({ length: rng.int(1, 30) }, () => rng.int(0, 8));
      expect(rocAuc(a, b)).toBeCloseTo(1 - rocAuc(b, a), 14);
    }
  });

  it('ranks ±Infinity like other values', () => {
    expect(rocAuc([Infinity, 0], [-Infinity, 0])).toBe(bruteAuc([Infinity, 0], [-Infinity, 0]));
    expect(rocAuc([-Infinity], [-Infinity])).toBe(0.5);
  });

  it('throws ConfigError naming the empty side, and on NaN', () => {
    expect(() => rocAuc([], [1])).toThrow(ConfigError);
    expect(() => rocAuc([], [1])).toThrow(/positives side is empty/);
    expect(() => rocAuc([1], [])).toThrow(/negatives side is empty/);
    expect(() => rocAuc([1, NaN], [0])).toThrow(/positives\[1\]/);
    expect(() => rocAuc([1], [NaN])).toThrow(/NaN/);
  });
});

describe('fitAttacker: threshold', () => {
  it('recovers a known separating threshold (midpoint of the gap), both sides', () => {
    const rng = createRng(1);
    const members = Array.from({ length: 50 }, () => 2 + 3 * rng.uniform());
    const nonMembers = Array.from({ length: 80 }, () => -1 + 2.5 * rng.uniform());
    const a = fitAttacker(members, nonMembers, { kind: 'threshold' });
    const d = a.describe() as ThresholdAttackerDescription;
    expect(d.kind).toBe('threshold');
    expect(d.side).toBe('above');
    expect(d.threshold).toBeCloseTo((Math.min(...members) + Math.max(...nonMembers)) / 2, 14);
    expect(d.fitAccuracy).toBe(1);
    expect(d.weighting).toBe('class-weights');
    expect(miaEfficacy(a, members)).toBe(0);
    expect(miaEfficacy(a, nonMembers)).toBe(1);

    const b = fitAttacker(nonMembers, members, { kind: 'threshold' });
    const db = b.describe() as ThresholdAttackerDescription;
    expect(db.side).toBe('below');
    expect(db.threshold).toBeCloseTo(d.threshold, 14);
    expect(miaEfficacy(b, nonMembers)).toBe(0);
    expect(JSON.parse(JSON.stringify(db))).toEqual(db);
  });

  it('finds the maximal balanced accuracy of an exhaustive search on overlapping data', () => {
    const rng = createRng(99);
    for (let trial = 0; trial < 20; trial++) {
      const members = Array.from(
        { length: rng.int(1, 25) },
        () => rng.int(0, 10) + rng.normal(0.5, 1),
      );
      const nonMembers = Array.from({ length: rng.int(1, 25) }, () => rng.int(0, 10));
      const a = fitAttacker(members, nonMembers, { kind: 'threshold' });
      const d = a.describe() as ThresholdAttackerDescription;
      // Oracle: every threshold at a data value or beyond the max, both rules.
      const cands = [...members, ...nonMembers, Math.max(...members, ...nonMembers) + 1];
      let best = 0;
      for (const t of cands) {
        const tpr = members.filter((x) => x >= t).length / members.length;
        const tnr = nonMembers.filter((x) => x < t).length / nonMembers.length;
        best = Math.max(best, (tpr + tnr) / 2, (1 - tpr + 1 - tnr) / 2);
      }
      expect(d.fitAccuracy).toBeCloseTo(best, 12);
      expect(attackAccuracy(a, members, nonMembers).balancedAccuracy).toBeCloseTo(best, 12);
    }
  });

  it('balances by subsampling with an rng (deterministic per seed), by weights without', () => {
    const members = Array.from({ length: 40 }, (_, i) => i / 10);
    const nonMembers = Array.from({ length: 10 }, (_, i) => i / 10 - 0.55);
    const a = fitAttacker(members, nonMembers, { kind: 'threshold', rng: createRng(3) });
    const b = fitAttacker(members, nonMembers, { kind: 'threshold', rng: createRng(3) });
    expect(a.describe()).toEqual(b.describe());
    expect(a.describe().weighting).toBe('subsample');
    expect(a.describe().fitCounts).toEqual({ members: 10, nonMembers: 10 });
    const c = fitAttacker(members, nonMembers, { kind: 'threshold', balance: false });
    expect(c.describe().weighting).toBe('none');
    expect(c.describe().fitCounts).toEqual({ members: 40, nonMembers: 10 });
  });

  it('plain accuracy (balance: false) can prefer the trivial all-member rule', () => {
    // 9 members around one non-member: no split beats calling everything a member (0.9).
    const a = fitAttacker([0, 1, 2, 3, 5, 6, 7, 8, 9], [4], { kind: 'threshold', balance: false });
    const d = a.describe() as ThresholdAttackerDescription;
    expect(d.fitAccuracy).toBeCloseTo(0.9, 15);
    expect(d.side).toBe('above');
    expect(d.threshold).toBe(0); // the lowest split: every fitted value is ≥ t
    expect(miaEfficacy(a, [0, 4, 100])).toBe(0);
  });

  it('rejects multi-dimensional features', () => {
    expect(() => fitAttacker([[1, 2]], [[0, 0]], { kind: 'threshold' })).toThrow(/1-D/);
  });
});

describe('fitAttacker: logistic', () => {
  it('reaches near-Bayes accuracy on 2-D Gaussians with a known linear Bayes boundary', () => {
    const rng = createRng(2024);
    const mu1: [number, number] = [1, 0.5];
    const mu0: [number, number] = [-0.5, -0.5];
    const a = fitAttacker(gaussian2(rng, 1500, mu1), gaussian2(rng, 1500, mu0), {
      kind: 'logistic',
    });
    const d = a.describe() as LogisticAttackerDescription;
    expect(d.converged).toBe(true);
    const tm = gaussian2(rng, 5000, mu1);
    const tn = gaussian2(rng, 5000, mu0);
    // Bayes rule for equal priors and identity covariance.
    const dx = mu1[0] - mu0[0];
    const dy = mu1[1] - mu0[1];
    const c = (mu1[0] ** 2 + mu1[1] ** 2 - mu0[0] ** 2 - mu0[1] ** 2) / 2;
    const bayes = (x: readonly number[]): boolean => dx * x[0]! + dy * x[1]! > c;
    const bayesAcc = (tm.filter(bayes).length + tn.filter((x) => !bayes(x)).length) / 10000;
    const theory = phi(Math.hypot(dx, dy) / 2);
    expect(Math.abs(bayesAcc - theory)).toBeLessThan(0.015);
    const acc = attackAccuracy(a, tm, tn).accuracy;
    expect(acc).toBeLessThanOrEqual(bayesAcc + 0.01);
    expect(acc).toBeGreaterThan(bayesAcc - 0.01);
    // The fitted direction is the Bayes direction.
    const cos =
      (d.rawWeights[0]! * dx + d.rawWeights[1]! * dy) /
      (Math.hypot(d.rawWeights[0]!, d.rawWeights[1]!) * Math.hypot(dx, dy));
    expect(cos).toBeGreaterThan(0.99);
  });

  it('satisfies the normal equations of the ridge-penalised weighted log-likelihood', () => {
    const rng = createRng(5);
    const members = Array.from({ length: 300 }, () => [
      rng.normal(1, 2),
      rng.normal(0, 0.5),
      rng.normal(3, 1),
    ]);
    const nonMembers = Array.from({ length: 500 }, () => [
      rng.normal(0, 2),
      rng.normal(0.3, 0.5),
      rng.normal(3, 1),
    ]);
    const a = fitAttacker(members, nonMembers, { kind: 'logistic' }); // class weights
    const d = a.describe() as LogisticAttackerDescription;
    expect(d.lambda).toBe(LOGISTIC_RIDGE);
    expect(d.classWeights.member).toBeCloseTo(800 / 600, 14);
    expect(d.classWeights.nonMember).toBeCloseTo(800 / 1000, 14);
    // ∇ [(Σ s ℓ)/(Σ s) + λ/2 ‖w‖²] = 0  ⇔  (1/Σs) Σ s_i (p_i − y_i) [1, z_i] + λ [0, w] = 0
    const grad = [0, 0, 0, 0];
    let sumS = 0;
    const rows = [
      ...members.map((x) => [x, 1] as const),
      ...nonMembers.map((x) => [x, 0] as const),
    ];
    for (const [x, y] of rows) {
      const s = y === 1 ? d.classWeights.member : d.classWeights.nonMember;
      const z = x.map((v, j) => (v - d.mean[j]!) / d.scale[j]!);
      const logit = d.bias + z.reduce((acc, v, j) => acc + v * d.weights[j]!, 0);
      const p = 1 / (1 + Math.exp(-logit));
      grad[0]! += s * (p - y);
      z.forEach((v, j) => (grad[j + 1]! += s * (p - y) * v));
      sumS += s;
    }
    const g = grad.map((v, k) => v / sumS + (k === 0 ? 0 : d.lambda * d.weights[k - 1]!));
    for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-12);
    // The raw-unit decision function is the same function.
    for (const x of [...members.slice(0, 20), ...nonMembers.slice(0, 20)]) {
      const raw = d.rawBias + x.reduce((acc, v, j) => acc + v * d.rawWeights[j]!, 0);
      expect(a.predictMember(x)).toBe(raw > 0);
    }
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('has a finite optimum on separable data (ridge) and efficacy 0 on members, 1 on non-members', () => {
    const members = [
      [2, 1],
      [3, 2],
      [2.5, 0.5],
      [4, 1],
    ];
    const nonMembers = [
      [-1, 0],
      [0, -2],
      [-2, -1],
    ];
    const a = fitAttacker(members, nonMembers, { kind: 'logistic' });
    const d = a.describe() as LogisticAttackerDescription;
    expect(d.converged).toBe(true);
    for (const w of d.weights) expect(Number.isFinite(w)).toBe(true);
    expect(miaEfficacy(a, members)).toBe(0);
    expect(miaEfficacy(a, nonMembers)).toBe(1);
    expect(attackAccuracy(a, members, nonMembers)).toEqual({
      accuracy: 1,
      balancedAccuracy: 1,
      truePositiveRate: 1,
      trueNegativeRate: 1,
    });
  });

  it('accepts scalar features, is deterministic, and a subsample fit uses equal class counts', () => {
    const rng = createRng(11);
    const m = Array.from({ length: 120 }, () => rng.normal(1, 1));
    const n = Array.from({ length: 60 }, () => rng.normal(0, 1));
    const a = fitAttacker(m, n, { kind: 'logistic' });
    const b = fitAttacker(m, n, { kind: 'logistic' });
    expect(a.describe()).toEqual(b.describe());
    expect(a.dimension).toBe(1);
    expect(a.predictMember(5)).toBe(true);
    expect(a.predictMember([-5])).toBe(false);
    const s = fitAttacker(m, n, { kind: 'logistic', rng: createRng(1) });
    expect(s.describe().fitCounts).toEqual({ members: 60, nonMembers: 60 });
    expect((s.describe() as LogisticAttackerDescription).classWeights).toEqual({
      member: 1,
      nonMember: 1,
    });
  });
});

describe('miaEfficacy / attackAccuracy', () => {
  it('matches the documented examples', () => {
    const l = fitAttacker([[-0.1], [-0.2]], [[-1.0], [-2.0]], { kind: 'logistic' });
    expect(miaEfficacy(l, [[-1.5], [-0.15]])).toBe(0.5);
    const t = fitAttacker([2, 3, 4], [0, 1], { kind: 'threshold' });
    expect(attackAccuracy(t, [2.5, 0.5], [0.2])).toEqual({
      accuracy: 2 / 3,
      balancedAccuracy: 0.75,
      truePositiveRate: 0.5,
      trueNegativeRate: 1,
    });
  });
});

describe('attacker input errors', () => {
  it('rejects empty, NaN, ragged and mismatched features with ConfigError', () => {
    expect(() => fitAttacker([], [1], { kind: 'threshold' })).toThrow(/members = \[\]: is empty/);
    expect(() => fitAttacker([1], [], { kind: 'logistic' })).toThrow(/nonMembers/);
    expect(() => fitAttacker([1, NaN], [0], { kind: 'threshold' })).toThrow(ConfigError);
    expect(() => fitAttacker([[1, 2], [3]], [[0, 0]], { kind: 'logistic' })).toThrow(
      /members\[1\]/,
    );
    expect(() => fitAttacker([[1, 2]], [[0, 0, 0]], { kind: 'logistic' })).toThrow(/dimension/);
    expect(() => fitAttacker([1], [0], { kind: 'svm' as 'threshold' })).toThrow(/kind/);
    const a = fitAttacker([[1, 2]], [[0, 0]], { kind: 'logistic' });
    expect(() => a.predictMember(1)).toThrow(/expected 2/);
    expect(() => a.predictMember([1, NaN])).toThrow(ConfigError);
    expect(() => miaEfficacy(a, [])).toThrow(/forgetFeatures/);
    expect(() => miaEfficacy(a, [1, 2])).toThrow(/dimension/);
  });
});
