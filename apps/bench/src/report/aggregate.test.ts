import { describe, expect, it } from 'vitest';
import type { CellOutcome, MethodInfo } from '../types.js';
import {
  METHODS,
  MNIST_KINDS,
  ORIGINAL,
  RETRAINED,
  doneOutcome,
  otherOutcome,
} from './__fixtures__/outcomes.js';
import type { ReportGroup, ReportRow } from './aggregate.js';
import {
  aggregate,
  formatDuration,
  formatStat,
  reductionDetails,
  reductionLine,
  seedStat,
  uisReduction,
} from './aggregate.js';

function row(group: ReportGroup | undefined, id: string): ReportRow {
  const r = group?.rows.find((x) => x.id === id);
  if (r === undefined) throw new Error(`no row ${id}`);
  return r;
}

/** pgu over three seeds with hand-computed UIS 0, 7.5 and 16.25 (targets: both tasks). */
const PGU_SEEDS = [
  { seg: [0.5, 0.7, 0.5], depth: [0.6, 0.85, 0.6], seconds: 1, mia: 0.5 },
  { seg: [0.4, 0.7, 0.45], depth: [0.6, 0.85, 0.6], seconds: 2, mia: 0.6 },
  { seg: [0.3, 0.7, 0.5], depth: [0.45, 0.85, 0.6], seconds: 6, mia: 0.7 },
] as const;

function pguOutcomes(method = 'pgu'): CellOutcome[] {
  return PGU_SEEDS.map((s, seed) =>
    doneOutcome({
      method,
      seed,
      unlearned: { segmentation: s.seg, depth: s.depth },
      original: ORIGINAL,
      retrained: RETRAINED,
      mia: { unlearned: s.mia, original: 0.7, retrained: 0.5 },
      seconds: s.seconds,
      retrainSeconds: 10 + 2 * seed,
    }),
  );
}

describe('seedStat', () => {
  it('computes the mean and the sample standard deviation (n − 1)', () => {
    const s = seedStat([1, 2, 6])!;
    expect(s.mean).toBeCloseTo(3, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(7), 12); // (4 + 1 + 9) / 2
    expect(s.n).toBe(3);
  });
  it('has no std for one value and is undefined for none', () => {
    expect(seedStat([0.4])).toEqual({ mean: 0.4, n: 1, values: [0.4] });
    expect(seedStat([])).toBeUndefined();
  });
});

describe('aggregate', () => {
  it('aggregates a method over seeds (hand-computed means and sample stds)', () => {
    const [group] = aggregate(pguOutcomes(), METHODS);
    const pgu = row(group, 'pgu');
    expect(pgu.n).toBe(3);
    expect(pgu.seeds).toEqual([0, 1, 2]);
    // segmentation forget 0.5, 0.4, 0.3: mean 0.4, std 0.1
    expect(pgu.metrics['segmentation']?.forget?.mean).toBeCloseTo(0.4, 12);
    expect(pgu.metrics['segmentation']?.forget?.std).toBeCloseTo(0.1, 12);
    // segmentation test 0.5, 0.45, 0.5: mean 0.48333, std 0.05 / √3
    expect(pgu.metrics['segmentation']?.test?.mean).toBeCloseTo(1.45 / 3, 12);
    expect(pgu.metrics['segmentation']?.test?.std).toBeCloseTo(0.05 / Math.sqrt(3), 12);
    // depth retain constant: std 0
    expect(pgu.metrics['depth']?.retain?.mean).toBeCloseTo(0.85, 12);
    expect(pgu.metrics['depth']?.retain?.std).toBeCloseTo(0, 12);
    // UIS per seed by hand: 0, ½(0.05 + 0.1)/0.5 / 2 × 100 = 7.5, (0.2 + 0.125)/2 × 100 = 16.25
    const uis = [0, 7.5, 16.25];
    const m = (0 + 7.5 + 16.25) / 3;
    expect(pgu.uis?.values[1]).toBeCloseTo(7.5, 10);
    expect(pgu.uis?.mean).toBeCloseTo(m, 10);
    expect(pgu.uis?.std).toBeCloseTo(Math.sqrt(uis.reduce((a, v) => a + (v - m) ** 2, 0) / 2), 10);
    expect(pgu.seconds?.mean).toBeCloseTo(3, 12);
    expect(pgu.seconds?.std).toBeCloseTo(Math.sqrt(7), 12);
    expect(pgu.mia?.mean).toBeCloseTo(0.6, 12);
    expect(pgu.mia?.std).toBeCloseTo(0.1, 12);
  });

  it('puts the original and the reference first, deduplicated per seed', () => {
    const outcomes = [...pguOutcomes('pgu'), ...pguOutcomes('interference-aware')];
    const [group] = aggregate(outcomes, METHODS);
    expect(group?.rows.map((r) => r.id)).toEqual([
      'original',
      'retrained',
      'pgu',
      'interference-aware',
    ]);
    const original = row(group, 'original');
    const retrained = row(group, 'retrained');
    expect(original.n).toBe(3); // not 6: one per seed
    expect(original.role).toBe('original');
    expect(retrained.role).toBe('reference');
    expect(retrained.displayName).toBe('retrain (reference)');
    expect(original.metrics['segmentation']?.forget?.mean).toBeCloseTo(0.8, 12);
    expect(original.mia?.mean).toBeCloseTo(0.7, 12);
    expect(retrained.mia?.mean).toBeCloseTo(0.5, 12);
    // original vs itself: its memorisation gap ½|0.5 − 0.8|/0.5 = 0.3, ½|0.6 − 0.9|/0.6 = 0.25
    expect(original.uis?.mean).toBeCloseTo(27.5, 10);
    expect(original.seconds).toBeUndefined();
    // retrained vs original: ½(0.02 + 0.05)/0.5 = 0.07, ½(0.01 + 0.02)/0.6 = 0.025 → 4.75
    expect(retrained.uis?.mean).toBeCloseTo(4.75, 10);
    expect(retrained.uisR?.mean).toBeCloseTo(0, 12);
    // retrain seconds 10, 12, 14
    expect(retrained.seconds?.mean).toBeCloseTo(12, 12);
    expect(retrained.seconds?.std).toBeCloseTo(2, 12);
  });

  it('groups by dataset, setting and targets in first-seen order; rows follow `methods`', () => {
    const mnist = (method: string, seed: number): CellOutcome =>
      doneOutcome({
        dataset: 'multi-mnist',
        kinds: MNIST_KINDS,
        method,
        seed,
        unlearned: { left: [0.5, 0.9, 0.8], right: [0.5, 0.9, 0.8] },
        original: { left: [0.95, 0.95, 0.85], right: [0.95, 0.95, 0.85] },
        retrained: { left: [0.8, 0.95, 0.85], right: [0.8, 0.95, 0.85] },
      });
    const partial = doneOutcome({
      setting: 'partial-task',
      targets: ['segmentation'],
      method: 'pgu',
      seed: 0,
      unlearned: ORIGINAL,
      original: ORIGINAL,
      retrained: RETRAINED,
    });
    const outcomes = [
      mnist('interference-aware', 0),
      ...pguOutcomes(),
      partial,
      mnist('finetune', 0),
      mnist('not-listed', 0),
    ];
    const groups = aggregate(outcomes, METHODS);
    expect(groups.map((g) => [g.dataset, g.setting, g.targetTasks])).toEqual([
      ['multi-mnist', 'full-task', ['left', 'right']],
      ['scenes', 'full-task', ['segmentation', 'depth']],
      ['scenes', 'partial-task', ['segmentation']],
    ]);
    // finetune comes before interference-aware in METHODS; unlisted and absent methods are left out
    expect(groups[0]?.rows.map((r) => r.id)).toEqual([
      'original',
      'retrained',
      'finetune',
      'interference-aware',
    ]);
    expect(groups[0]?.tasks.map((t) => [t.name, t.metric, t.label])).toEqual([
      ['left', 'accuracy', 'Acc'],
      ['right', 'accuracy', 'Acc'],
    ]);
    expect(groups[2]?.nonTargetTasks).toEqual(['depth']);
    expect(groups[2]?.tasks.map((t) => t.target)).toEqual([true, false]);
  });

  it('reports not-applicable, failed and partly failed methods', () => {
    const base = {
      dataset: 'scenes',
      setting: 'full-task',
      targetTasks: ['segmentation', 'depth'],
    } as const;
    const outcomes: CellOutcome[] = [
      ...pguOutcomes().slice(0, 1),
      otherOutcome({ ...base, method: 'pgu', seed: 1 }, 'failed', 'NaN loss at step 3\n  at x.js'),
      otherOutcome({ ...base, method: 'salun', seed: 0 }, 'not-applicable', 'needs a classifier'),
      otherOutcome(
        { ...base, method: 'finetune', seed: 0 },
        'failed',
        'Error: out of memory\n  at y',
      ),
      otherOutcome({ ...base, method: 'finetune', seed: 1 }, 'failed', 'Error: out of memory'),
    ];
    const [group] = aggregate(outcomes, METHODS);
    const salun = row(group, 'salun');
    expect(salun.status).toBe('not-applicable');
    expect(salun.reason).toBe('needs a classifier');
    expect(salun.n).toBe(0);
    expect(salun.uis).toBeUndefined();
    const finetune = row(group, 'finetune');
    expect(finetune.status).toBe('failed');
    expect(finetune.reason).toBe('Error: out of memory (2 seeds)');
    const pgu = row(group, 'pgu');
    expect(pgu.status).toBe('done');
    expect(pgu.n).toBe(1);
    expect(pgu.uis?.std).toBeUndefined();
    expect(pgu.reason).toBe('1 of 2 seeds failed: NaN loss at step 3');
  });
});

describe('uisReduction', () => {
  const uisOutcome = (
    method: string,
    uis: number,
    setting: 'full-task' | 'partial-task' = 'full-task',
    dataset = 'scenes',
  ): CellOutcome =>
    doneOutcome({
      dataset,
      setting,
      ...(setting === 'partial-task' ? { targets: ['segmentation'] } : {}),
      method,
      seed: 0,
      unlearned: RETRAINED,
      original: ORIGINAL,
      retrained: RETRAINED,
      uis,
    });

  it('takes the lowest-UIS baseline, never the reference or an ablation', () => {
    const outcomes = [
      uisOutcome('retrain', 1), // role 'reference': better, but not a baseline
      uisOutcome('finetune', 12),
      uisOutcome('pgu', 10),
      uisOutcome('interference-aware', 7),
      uisOutcome('ia-no-proj', 2), // ablation: better, but not a baseline
    ];
    const groups = aggregate(outcomes, METHODS);
    // the synthetic reference row has UIS 4.75 < 10 too
    expect(row(groups[0], 'retrained').uis?.mean).toBeLessThan(10);
    const summary = uisReduction(groups);
    expect(summary.perGroup[0]?.best?.id).toBe('pgu');
    expect(summary.perGroup[0]?.ours?.id).toBe('interference-aware');
    expect(summary.perGroup[0]?.reduction).toBeCloseTo(30, 10);
    expect(reductionLine(summary)).toBe(
      'UIS reduction of interference-aware vs the strongest baseline: full-task 30.0%, partial-task n/a',
    );
    expect(reductionDetails(summary)).toEqual([
      'scenes full-task: interference-aware 7.00 vs pgu 10.00 → 30.0%',
    ]);
  });

  it('averages per setting and prints negative reductions as negative', () => {
    const outcomes = [
      uisOutcome('pgu', 10),
      uisOutcome('interference-aware', 7),
      uisOutcome('pgu', 20, 'full-task', 'nyuv2'),
      uisOutcome('interference-aware', 10, 'full-task', 'nyuv2'),
      uisOutcome('pgu', 8, 'partial-task'),
      uisOutcome('interference-aware', 10, 'partial-task'),
    ];
    const summary = uisReduction(aggregate(outcomes, METHODS));
    expect(summary.bySetting['full-task']).toBeCloseTo(40, 10); // (30 + 50) / 2
    expect(summary.bySetting['partial-task']).toBeCloseTo(-25, 10);
    expect(reductionLine(summary)).toBe(
      'UIS reduction of interference-aware vs the strongest baseline: full-task 40.0%, partial-task -25.0%',
    );
    expect(reductionDetails(summary)[2]).toBe(
      'scenes partial-task [segmentation]: interference-aware 10.00 vs pgu 8.00 → -25.0%',
    );
  });

  it('uses the ours method id and says n/a without a baseline', () => {
    const methods: MethodInfo[] = [{ id: 'my-method', displayName: 'Mine', role: 'ours' }];
    const summary = uisReduction(aggregate([uisOutcome('my-method', 5)], methods));
    expect(reductionLine(summary)).toBe(
      'UIS reduction of my-method vs the strongest baseline: full-task n/a, partial-task n/a',
    );
    expect(reductionDetails(summary)).toEqual(['scenes full-task: n/a (no baseline with a UIS)']);
  });
});

describe('formatting', () => {
  it('formats stats and durations', () => {
    expect(formatStat({ mean: 0.65, n: 1, values: [0.65] }, 3)).toBe('0.650');
    expect(formatStat({ mean: 0.65, std: 0.0123, n: 2, values: [] }, 3)).toBe('0.650±0.012');
    expect(formatStat(undefined, 3)).toBe('–');
    expect(formatDuration(undefined)).toBe('unknown');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(3725.4)).toBe('3725.4 s (1 h 02 min)');
    expect(formatDuration(125)).toBe('125.0 s (2 min 05 s)');
  });
});
