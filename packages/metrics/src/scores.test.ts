import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mtu/core-tensors';
import type { TaskKind } from '@mtu/datasets';
import { METRICS } from './definitions.js';
import type { Direction, ModelEvaluation, SplitName, TaskMetrics } from './definitions.js';
import {
  averageGap,
  deltaM,
  deltaMFromEvaluations,
  instanceInterference,
  taskInterference,
  uisNonTarget,
  uisTarget,
  unlearningImpactScore,
} from './scores.js';

type Values = Record<string, number>;
type Spec = Partial<Record<SplitName, Record<string, Values>>>;

const KINDS: Record<string, TaskKind> = { seg: 'segmentation', depth: 'depth', normals: 'normals' };

/** Plausible defaults for every metric of a kind, overridden per split and task. */
const DEFAULTS: Record<TaskKind, Values> = {
  classification: { accuracy: 0.9 },
  segmentation: { mIoU: 0.4, pixelAccuracy: 0.65 },
  depth: { absErr: 0.6, relErr: 0.25, delta1: 0.6, delta2: 0.85, delta3: 0.95 },
  normals: { meanAngle: 24, medianAngle: 18, within11_25: 0.32, within22_5: 0.59, within30: 0.7 },
};

/** A hand-built ModelEvaluation: every task of `kinds` on every split, defaults + overrides. */
function evaluation(spec: Spec = {}, kinds: Record<string, TaskKind> = KINDS): ModelEvaluation {
  const split = (s: SplitName): Record<string, TaskMetrics> =>
    Object.fromEntries(
      Object.entries(kinds).map(([task, kind]) => [
        task,
        { kind, count: 10, values: { ...DEFAULTS[kind], ...spec[s]?.[task] } },
      ]),
    );
  return {
    splits: { forget: split('forget'), retain: split('retain'), test: split('test') },
    sizes: { forget: 10, retain: 80, retainEvaluated: 80, test: 50 },
  };
}

/** Deletes one task (or one metric of it) from a split of an evaluation. */
function without(
  ev: ModelEvaluation,
  split: SplitName,
  task: string,
  metric?: string,
): ModelEvaluation {
  const tasks = { ...ev.splits[split] };
  if (metric === undefined) {
    delete tasks[task];
  } else {
    const values = { ...tasks[task]!.values };
    delete values[metric];
    tasks[task] = { ...tasks[task]!, values };
  }
  return { ...ev, splits: { ...ev.splits, [split]: tasks } };
}

describe('uisTarget / uisNonTarget', () => {
  it('reproduces baselines §7.4', () => {
    expect(uisTarget(0.4, 0.38, 0.45)).toBeCloseTo(0.0875, 14);
    expect(uisTarget(94.0, 93.0, 95.5)).toBeCloseTo(0.013298, 6);
    expect(uisTarget(94.0, 93.0, 95.5)).toBeCloseTo(1.25 / 94, 14);
  });

  it('is exactly 0 when test is unchanged and the forget metric equals the reference, positive otherwise', () => {
    expect(uisTarget(0.4, 0.4, 0.4)).toBe(0);
    expect(uisNonTarget(0.4, 0.4, 0.7, 0.7)).toBe(0);
    expect(uisTarget(0.4, 0.39, 0.4)).toBeGreaterThan(0);
    expect(uisTarget(0.4, 0.4, 0.41)).toBeGreaterThan(0);
    expect(uisTarget(0.4, 0.4, 0.39)).toBeGreaterThan(0);
    expect(uisNonTarget(0.4, 0.41, 0.7, 0.7)).toBeGreaterThan(0);
    expect(uisNonTarget(0.4, 0.4, 0.7, 0.69)).toBeGreaterThan(0);
  });

  it('the property test catches a mutant that swaps O_f and O_t in the non-target formula', () => {
    type NonTarget = (oT: number, uT: number, oF: number, uF: number) => number;
    const zeroWhenUnchanged = (f: NonTarget): boolean =>
      [
        [0.4, 0.7],
        [0.9, 0.3],
        [50, 60],
      ].every(([oT, oF]) => f(oT!, oT!, oF!, oF!) === 0);
    const mutant: NonTarget = (oT, uT, oF, uF) =>
      0.5 * (Math.abs(oF - uT) / oF + Math.abs(oT - uF) / oT);
    expect(zeroWhenUnchanged(uisNonTarget)).toBe(true);
    expect(zeroWhenUnchanged(mutant)).toBe(false);
  });

  it("scores the original model's own memorisation gap: U = O gives ½|O_t − O_f|/O_t", () => {
    expect(uisTarget(0.6, 0.6, 0.9)).toBeCloseTo(0.25, 14);
  });

  it('throws a ConfigError (never NaN/Infinity) on a zero reference or non-finite input', () => {
    expect(() => uisTarget(0, 0.1, 0.2)).toThrow(ConfigError);
    expect(() => uisTarget(0, 0.1, 0.2)).toThrow(/oTest.*reference metric is 0/);
    expect(() => uisNonTarget(0.4, 0.4, 0, 0.1)).toThrow(/oForget/);
    expect(() => uisTarget(0.4, NaN, 0.2)).toThrow(/uTest/);
    expect(() => uisNonTarget(0.4, 0.4, 0.5, Infinity)).toThrow(/uForget/);
  });
});

describe('unlearningImpactScore', () => {
  const kinds = { seg: 'segmentation', depth: 'depth' } as const;

  it('reproduces §7.4 through ModelEvaluations (×100, primary metric)', () => {
    const original = evaluation({ test: { seg: { mIoU: 0.4 } } }, kinds);
    const unlearned = evaluation(
      { test: { seg: { mIoU: 0.38 } }, forget: { seg: { mIoU: 0.45 } } },
      kinds,
    );
    const r = unlearningImpactScore(
      original,
      unlearned,
      { targetTasks: ['seg'], nonTargetTasks: [] },
      kinds,
    );
    expect(r.value).toBeCloseTo(8.75, 12);
    expect(r.perTask).toEqual({ seg: expect.closeTo(0.0875, 14) });
    expect(r.variant).toBe('UIS');
    expect(r.metric).toEqual({ seg: 'mIoU' });
    expect(r.targetReference).toBe('test');
  });

  it('averages target (uisTarget) and non-target (uisNonTarget) tasks', () => {
    const original = evaluation(
      {
        test: { seg: { mIoU: 0.4 }, depth: { delta1: 0.5 } },
        forget: { seg: { mIoU: 0.6 }, depth: { delta1: 0.8 } },
      },
      kinds,
    );
    const unlearned = evaluation(
      {
        test: { seg: { mIoU: 0.38 }, depth: { delta1: 0.45 } },
        forget: { seg: { mIoU: 0.45 }, depth: { delta1: 0.72 } },
      },
      kinds,
    );
    const r = unlearningImpactScore(
      original,
      unlearned,
      { targetTasks: ['seg'], nonTargetTasks: ['depth'] },
      kinds,
    );
    const seg = uisTarget(0.4, 0.38, 0.45);
    const depth = uisNonTarget(0.5, 0.45, 0.8, 0.72);
    expect(r.perTask['seg']).toBe(seg);
    expect(r.perTask['depth']).toBe(depth);
    expect(r.value).toBeCloseTo((100 * (seg + depth)) / 2, 12);
    expect(r.metric).toEqual({ seg: 'mIoU', depth: 'delta1' });
    // A custom metric choice.
    const abs = unlearningImpactScore(
      original,
      unlearned,
      { targetTasks: ['seg'], nonTargetTasks: ['depth'] },
      kinds,
      {
        metric: (kind) => (kind === 'depth' ? 'absErr' : 'pixelAccuracy'),
      },
    );
    expect(abs.metric).toEqual({ seg: 'pixelAccuracy', depth: 'absErr' });
    expect(abs.value).toBe(0); // those metrics are unchanged in the fixtures
  });

  it('the original model scores its memorisation gap under UIS (U = O)', () => {
    const original = evaluation(
      { test: { seg: { mIoU: 0.6 } }, forget: { seg: { mIoU: 0.9 } } },
      kinds,
    );
    const r = unlearningImpactScore(
      original,
      original,
      { targetTasks: ['seg'], nonTargetTasks: ['depth'] },
      kinds,
    );
    expect(r.perTask['seg']).toBeCloseTo(0.25, 14);
    expect(r.perTask['depth']).toBe(0); // non-target: forget unchanged → 0
    expect(r.value).toBeCloseTo(12.5, 12);
  });

  it('UIS-R is exactly 0 when the unlearned model equals the retrained reference', () => {
    const retrained = evaluation(
      {
        test: { seg: { mIoU: 0.41 }, depth: { delta1: 0.55 } },
        forget: { seg: { mIoU: 0.37 }, depth: { delta1: 0.7 } },
      },
      kinds,
    );
    const request = { targetTasks: ['seg'], nonTargetTasks: ['depth'] };
    const r = unlearningImpactScore(retrained, retrained, request, kinds, { variant: 'UIS-R' });
    expect(r.value).toBe(0);
    expect(r.variant).toBe('UIS-R');
    expect(r.targetReference).toBe('forget');
    const u = evaluation({ test: { seg: { mIoU: 0.4 } }, forget: { seg: { mIoU: 0.5 } } }, kinds);
    const r2 = unlearningImpactScore(retrained, u, request, kinds, { variant: 'UIS-R' });
    expect(r2.perTask['seg']).toBeCloseTo(uisNonTarget(0.41, 0.4, 0.37, 0.5), 14);
    // The literal substitution (OrthoGrad's target formula with R in place of O) is available.
    const r3 = unlearningImpactScore(retrained, retrained, request, kinds, {
      variant: 'UIS-R',
      targetReference: 'test',
    });
    expect(r3.perTask['seg']).toBeCloseTo((0.5 * Math.abs(0.41 - 0.37)) / 0.41, 14);
  });

  it('throws ConfigErrors naming missing tasks, metrics, zero references and bad requests', () => {
    const ev = evaluation({}, kinds);
    const req = { targetTasks: ['seg'], nonTargetTasks: ['depth'] };
    expect(() => unlearningImpactScore(ev, without(ev, 'forget', 'seg'), req, kinds)).toThrow(
      /task 'seg' is missing from the unlearned model's forget split/,
    );
    expect(() =>
      unlearningImpactScore(without(ev, 'test', 'depth', 'delta1'), ev, req, kinds),
    ).toThrow(/metric 'delta1' of task 'depth' is missing/);
    expect(() =>
      unlearningImpactScore(ev, ev, { targetTasks: ['seg', 'normals'], nonTargetTasks: [] }, kinds),
    ).toThrow(/no known task kind for task 'normals'/);
    expect(() =>
      unlearningImpactScore(ev, ev, { targetTasks: ['seg'], nonTargetTasks: ['seg'] }, kinds),
    ).toThrow(/also a target task/);
    expect(() =>
      unlearningImpactScore(ev, ev, { targetTasks: [], nonTargetTasks: [] }, kinds),
    ).toThrow(/no tasks/);
    const zero = evaluation({ test: { seg: { mIoU: 0 } } }, kinds);
    expect(() => unlearningImpactScore(zero, ev, req, kinds)).toThrow(
      /task 'seg'.*reference metric is 0/,
    );
    expect(() => unlearningImpactScore(ev, ev, req, kinds, { metric: () => 'nope' })).toThrow(
      /not a metric/,
    );
  });
});

describe('deltaM', () => {
  // baselines §3.5 (nash-mtl BASE) and §7.5.
  const keys = ['mIoU', 'PixAcc', 'Abs', 'Rel', 'Mean', 'Median', 'w11', 'w22', 'w30'];
  const base = [0.383, 0.6376, 0.6754, 0.278, 25.01, 19.21, 0.3014, 0.572, 0.6915];
  const a = [0.4, 0.65, 0.6, 0.25, 24.0, 18.0, 0.32, 0.59, 0.7];
  const dirs: Direction[] = [
    'higher',
    'higher',
    'lower',
    'lower',
    'lower',
    'lower',
    'higher',
    'higher',
    'higher',
  ];
  const group = [
    'seg',
    'seg',
    'depth',
    'depth',
    'normals',
    'normals',
    'normals',
    'normals',
    'normals',
  ];
  const rec = <T>(xs: readonly T[]): Record<string, T> =>
    Object.fromEntries(keys.map((k, i) => [k, xs[i]!]));

  it('reproduces §7.5 in both conventions', () => {
    const m = deltaM(rec(a), rec(base), rec(dirs), 'maninis');
    expect(m.value).toBeCloseTo(-5.389287, 5);
    expect(m).toMatchObject({
      convention: 'maninis',
      positiveMeans: 'worse',
      averaging: 'metrics',
    });
    expect(m.perGroup).toEqual({});
    const l = deltaM(rec(a), rec(base), rec(dirs), 'libmtl', rec(group));
    expect(l.value).toBeCloseTo(5.995486, 5);
    expect(l).toMatchObject({ convention: 'libmtl', positiveMeans: 'better', averaging: 'tasks' });
    expect(Object.keys(l.perGroup)).toEqual(['seg', 'depth', 'normals']);
    // With groups, maninis still averages over metrics.
    expect(deltaM(rec(a), rec(base), rec(dirs), 'maninis', rec(group)).value).toBeCloseTo(
      -5.389287,
      5,
    );
  });

  it('signs: a drop of a higher-better metric and a rise of a lower-better one are "worse"', () => {
    const d = deltaM(
      { acc: 0.45, err: 1.1 },
      { acc: 0.5, err: 1.0 },
      { acc: 'higher', err: 'lower' },
      'maninis',
    );
    expect(d.terms['acc']).toBeCloseTo(10, 12);
    expect(d.terms['err']).toBeCloseTo(10, 12);
    expect(d.value).toBeCloseTo(10, 12);
    const p = deltaM(
      { acc: 0.45, err: 1.1 },
      { acc: 0.5, err: 1.0 },
      { acc: 'higher', err: 'lower' },
      'libmtl',
      {
        acc: 'a',
        err: 'b',
      },
    );
    expect(p.value).toBeCloseTo(-10, 12);
    expect(deltaM({ x: 2 }, { x: 2 }, { x: 'higher' }, 'maninis').value).toBe(0);
  });

  it('throws ConfigErrors naming missing keys, zero bases and missing groups', () => {
    expect(() => deltaM({ x: 1 }, {}, { x: 'higher' }, 'maninis')).toThrow(
      /'x' is missing from base/,
    );
    expect(() => deltaM({ x: 1 }, { x: 1, y: 2 }, { x: 'higher' }, 'maninis')).toThrow(
      /'y' is in base/,
    );
    expect(() => deltaM({ x: 1 }, { x: 1 }, {}, 'maninis')).toThrow(/'x' needs a direction/);
    expect(() => deltaM({ x: 1 }, { x: 0 }, { x: 'higher' }, 'maninis')).toThrow(/base value is 0/);
    expect(() => deltaM({ x: 1 }, { x: 1 }, { x: 'higher' }, 'libmtl')).toThrow(
      /'x' needs a group/,
    );
    expect(() => deltaM({ x: NaN }, { x: 1 }, { x: 'higher' }, 'maninis')).toThrow(ConfigError);
    expect(() => deltaM({}, {}, {}, 'maninis')).toThrow(/no metrics/);
  });

  it('deltaMFromEvaluations builds every metric of METRICS per task on one split', () => {
    const kinds = { seg: 'segmentation', normals: 'normals' } as const;
    const reference = evaluation({ test: { seg: { mIoU: 0.383, pixelAccuracy: 0.6376 } } }, kinds);
    const unlearned = evaluation({ test: { normals: { meanAngle: 25, within30: 0.6 } } }, kinds);
    const d = deltaMFromEvaluations(unlearned, reference, 'test', kinds, 'libmtl');
    const values: Values = {};
    const baseV: Values = {};
    const directions: Record<string, Direction> = {};
    const groups: Record<string, string> = {};
    for (const [task, kind] of Object.entries(kinds)) {
      for (const m of METRICS[kind]) {
        const key = `${task}.${m.name}`;
        values[key] = unlearned.splits.test[task]!.values[m.name]!;
        baseV[key] = reference.splits.test[task]!.values[m.name]!;
        directions[key] = m.better;
        groups[key] = task;
      }
    }
    expect(d).toEqual(deltaM(values, baseV, directions, 'libmtl', groups));
    expect(Object.keys(d.terms)).toHaveLength(7);
    expect(deltaMFromEvaluations(reference, reference, 'retain', kinds, 'maninis').value).toBe(0);
    expect(() =>
      deltaMFromEvaluations(
        without(unlearned, 'test', 'normals', 'within30'),
        reference,
        'test',
        kinds,
        'maninis',
      ),
    ).toThrow(
      /metric 'within30' of task 'normals' is missing from the unlearned model's test split/,
    );
  });
});

describe('averageGap', () => {
  it('is 0 for identical evaluations', () => {
    const ev = evaluation();
    const g = averageGap(ev, ev, KINDS);
    expect(g.absolute).toBe(0);
    expect(g.relative).toBe(0);
    expect(g.terms).toHaveLength(9);
  });

  it('averages |M_u − M_R| (×100 for fractions) and the relative gap over tasks × splits (+ MIA)', () => {
    const kinds = { seg: 'segmentation', normals: 'normals' } as const;
    const retrained = evaluation({}, kinds);
    const unlearned = evaluation(
      { forget: { seg: { mIoU: 0.5 } }, test: { normals: { within30: 0.63 } } },
      kinds,
    );
    const g = averageGap(unlearned, retrained, kinds);
    // seg forget: 100·0.1 = 10 pp, 25 %; normals test: 100·0.07 = 7 pp, 10 %.
    expect(g.absolute).toBeCloseTo((10 + 7) / 6, 12);
    expect(g.relative).toBeCloseTo((25 + 10) / 6, 12);
    const seg = g.terms.find((t) => t.task === 'seg' && t.split === 'forget')!;
    expect(seg).toMatchObject({ metric: 'mIoU', unlearned: 0.5, retrained: 0.4, scale: 100 });
    const withMia = averageGap(unlearned, retrained, kinds, {
      mia: [{ name: 'MIA-Efficacy', unlearned: 0.3, retrained: 0.25 }],
    });
    expect(withMia.terms).toHaveLength(7);
    expect(withMia.terms[6]).toMatchObject({
      task: null,
      split: null,
      metric: 'MIA-Efficacy',
      scale: 100,
    });
    expect(withMia.absolute).toBeCloseTo((10 + 7 + 5) / 7, 12);
    // Native units for a non-fraction metric (degrees).
    const deg = averageGap(
      unlearned,
      evaluation({ test: { normals: { meanAngle: 26 } } }, kinds),
      kinds,
      {
        tasks: ['normals'],
        metric: () => 'meanAngle',
      },
    );
    expect(deg.absolute).toBeCloseTo(2 / 3, 12);
    expect(deg.terms[0]!.scale).toBe(1);
  });

  it('leaves terms with a zero retrained value out of the relative mean', () => {
    const kinds = { c: 'classification' } as const;
    const r = evaluation({ forget: { c: { accuracy: 0 } } }, kinds);
    const u = evaluation({ forget: { c: { accuracy: 0.1 } } }, kinds);
    const g = averageGap(u, r, kinds);
    expect(g.terms[0]!.relative).toBeNull();
    expect(g.relative).toBe(0);
    expect(g.absolute).toBeCloseTo(10 / 3, 12);
  });

  it('throws ConfigErrors naming missing tasks and metrics', () => {
    const ev = evaluation();
    expect(() => averageGap(ev, without(ev, 'retain', 'depth'), KINDS)).toThrow(
      /task 'depth' is missing from the retrained model's retain split/,
    );
    expect(() => averageGap(without(ev, 'test', 'seg', 'mIoU'), ev, KINDS)).toThrow(
      /'mIoU' of task 'seg'/,
    );
    expect(() => averageGap(ev, ev, KINDS, { tasks: ['cls'] })).toThrow(/task 'cls'/);
    expect(() => averageGap(ev, ev, KINDS, { tasks: [] })).toThrow(/no terms/);
  });
});

describe('interference', () => {
  const kinds = { seg: 'segmentation', depth: 'depth' } as const;

  it('counts a drop of a higher-better and a rise of a lower-better metric as positive degradation', () => {
    const original = evaluation({}, kinds);
    const unlearned = evaluation(
      {
        test: { seg: { mIoU: 0.3 }, depth: { absErr: 0.72, delta1: 0.54 } },
        forget: { depth: { delta1: 0.66 } },
      },
      kinds,
    );
    const ti = taskInterference(original, unlearned, ['seg', 'depth'], kinds);
    const term = (task: string, split: SplitName, metric: string) =>
      ti.terms.find((t) => t.task === task && t.split === split && t.metric === metric)!;
    expect(term('seg', 'test', 'mIoU').degradation).toBeCloseTo(0.25, 14);
    expect(term('seg', 'test', 'mIoU').change).toBeCloseTo(-0.1, 14);
    expect(term('depth', 'test', 'absErr').degradation).toBeCloseTo(0.2, 14);
    expect(term('depth', 'test', 'absErr').change).toBeCloseTo(0.12, 14);
    expect(term('depth', 'test', 'delta1').degradation).toBeCloseTo(0.1, 14);
    expect(term('depth', 'forget', 'delta1').degradation).toBeCloseTo(-0.1, 14); // improved
    expect(term('depth', 'test', 'delta1').primary).toBe(true);
    expect(term('depth', 'test', 'absErr').primary).toBe(false);
    // Summary: primary metrics (seg mIoU, depth δ1) over 2 tasks × 3 splits.
    expect(ti.summary).toBeCloseTo((100 * (0.25 + 0.1 - 0.1)) / 6, 12);
    expect(ti.terms).toHaveLength(2 * 3 + 5 * 3);
    expect(ti.splits).toEqual(['forget', 'retain', 'test']);
  });

  it('is 0 with no terms for full-task requests (no non-target task)', () => {
    const ev = evaluation({}, kinds);
    expect(
      taskInterference(ev, evaluation({ test: { seg: { mIoU: 0.1 } } }, kinds), [], kinds),
    ).toEqual({
      summary: 0,
      terms: [],
      tasks: [],
      splits: ['forget', 'retain', 'test'],
    });
  });

  it('instance-level interference looks at the target tasks on retain only', () => {
    const original = evaluation({}, kinds);
    const unlearned = evaluation(
      { retain: { seg: { mIoU: 0.36 } }, test: { seg: { mIoU: 0.1 } } },
      kinds,
    );
    const ii = instanceInterference(original, unlearned, ['seg'], kinds);
    expect(ii.splits).toEqual(['retain']);
    expect(ii.terms.every((t) => t.split === 'retain' && t.task === 'seg')).toBe(true);
    expect(ii.summary).toBeCloseTo(10, 12);
  });

  it('throws ConfigErrors naming missing tasks and metrics, and an undefined summary', () => {
    const ev = evaluation({}, kinds);
    expect(() => taskInterference(ev, without(ev, 'forget', 'depth'), ['depth'], kinds)).toThrow(
      /task 'depth' is missing from the unlearned model's forget split/,
    );
    expect(() =>
      instanceInterference(without(ev, 'retain', 'seg', 'pixelAccuracy'), ev, ['seg'], kinds),
    ).toThrow(/'pixelAccuracy' of task 'seg' is missing from the original model's retain split/);
    expect(() => taskInterference(ev, ev, ['normals'], kinds)).toThrow(/task 'normals'/);
    const zero = evaluation({ retain: { seg: { mIoU: 0 } } }, kinds);
    expect(() => instanceInterference(zero, ev, ['seg'], kinds)).toThrow(
      /relative degradation is undefined/,
    );
    // A zero non-summary metric only nulls its own term.
    const zeroPix = evaluation({ retain: { seg: { pixelAccuracy: 0 } } }, kinds);
    const ii = instanceInterference(zeroPix, ev, ['seg'], kinds);
    expect(ii.terms.find((t) => t.metric === 'pixelAccuracy')!.degradation).toBeNull();
    expect(ii.summary).toBe(0);
  });
});
