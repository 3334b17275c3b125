/**
 * Synthetic cell outcomes for the report tests: result records built with `createResultRecord` on
 * hand-written evaluations (no tensors).
 */
import type { TaskKind } from '@mtu/datasets';
import type { MiaResult, ModelEvaluation, ResultRecord, TaskMetrics } from '@mtu/metrics';
import { METRICS, PRIMARY_METRIC, createResultRecord } from '@mtu/metrics';
import type { CellOutcome, MethodInfo } from '../../types.js';

/** Primary-metric values of every task on each split: task → [forget, retain, test]. */
export type SplitValues = Readonly<Record<string, readonly [number, number, number]>>;

export const SCENES_KINDS: Readonly<Record<string, TaskKind>> = {
  segmentation: 'segmentation',
  depth: 'depth',
};

export const MNIST_KINDS: Readonly<Record<string, TaskKind>> = {
  left: 'classification',
  right: 'classification',
};

export function evaluation(
  values: SplitValues,
  kinds: Readonly<Record<string, TaskKind>>,
): ModelEvaluation {
  const split = (i: 0 | 1 | 2): Record<string, TaskMetrics> => {
    const out: Record<string, TaskMetrics> = {};
    for (const [task, v] of Object.entries(values)) {
      const kind = kinds[task]!;
      // Every metric of the kind (interference reads them all); the primary one is `v[i]`.
      const all: Record<string, number> = {};
      for (const m of METRICS[kind]) all[m.name] = v[i] + 0.1;
      all[PRIMARY_METRIC[kind]] = v[i];
      out[task] = { kind, count: 10, values: all };
    }
    return out;
  };
  return {
    splits: { forget: split(0), retain: split(1), test: split(2) },
    sizes: { forget: 4, retain: 20, retainEvaluated: 20, test: 10 },
  };
}

export function mia(auc: number): MiaResult {
  return {
    perTask: {},
    combined: { auc, efficacy: 0.5, attackerAccuracy: 0.5 },
    attacker: 'threshold',
    sizes: { forget: 4, retain: 20, test: 10 },
  };
}

export interface OutcomeSpec {
  readonly dataset?: string;
  readonly kinds?: Readonly<Record<string, TaskKind>>;
  readonly setting?: 'full-task' | 'partial-task';
  readonly targets?: readonly string[];
  readonly method: string;
  readonly seed: number;
  readonly unlearned: SplitValues;
  readonly original: SplitValues;
  readonly retrained: SplitValues;
  readonly mia?: {
    readonly unlearned: number;
    readonly original: number;
    readonly retrained: number;
  };
  readonly seconds?: number;
  readonly retrainSeconds?: number;
  /** Overrides the record's UIS value (to construct exact reductions). */
  readonly uis?: number;
}

export function doneOutcome(spec: OutcomeSpec): CellOutcome {
  const dataset = spec.dataset ?? 'scenes';
  const kinds = spec.kinds ?? SCENES_KINDS;
  const tasks = Object.keys(kinds);
  const setting = spec.setting ?? 'full-task';
  const targetTasks = [...(spec.targets ?? tasks)];
  const nonTargetTasks = tasks.filter((t) => !targetTasks.includes(t));
  const m = spec.mia ?? { unlearned: 0.55, original: 0.7, retrained: 0.5 };
  let record: ResultRecord = createResultRecord({
    dataset: { id: dataset, options: {} },
    request: { instances: [0, 1, 2, 3], tasks: targetTasks },
    setting,
    targetTasks,
    nonTargetTasks,
    kinds,
    method: { id: spec.method, config: {} },
    evaluations: {
      unlearned: evaluation(spec.unlearned, kinds),
      original: evaluation(spec.original, kinds),
      retrained: evaluation(spec.retrained, kinds),
    },
    mia: { unlearned: mia(m.unlearned), original: mia(m.original), retrained: mia(m.retrained) },
    cost: {
      seconds: spec.seconds ?? 1,
      gradientEvaluations: 100,
      ...(spec.retrainSeconds === undefined ? {} : { retrainSeconds: spec.retrainSeconds }),
    },
    provenance: {
      backend: 'cpu',
      threads: 1,
      seed: spec.seed,
      versions: {},
      node: 'v20.0.0',
      platform: 'linux-x64',
      createdAt: '2026-01-01T00:00:00.000Z',
    },
  });
  if (spec.uis !== undefined) {
    const uis = record.scores.uis!;
    record = { ...record, scores: { ...record.scores, uis: { ...uis, value: spec.uis } } };
  }
  return {
    id: `${dataset}-${setting}-${targetTasks.join('+')}-${spec.method}-s${spec.seed}`,
    dataset,
    setting,
    targetTasks,
    method: spec.method,
    seed: spec.seed,
    status: 'done',
    record,
  };
}

export function otherOutcome(
  base: Pick<CellOutcome, 'dataset' | 'setting' | 'targetTasks' | 'method' | 'seed'>,
  status: 'failed' | 'not-applicable',
  reason: string,
): CellOutcome {
  return { id: `${base.method}-s${base.seed}-${status}`, ...base, status, reason };
}

export const ORIGINAL: SplitValues = { segmentation: [0.8, 0.7, 0.5], depth: [0.9, 0.85, 0.6] };
export const RETRAINED: SplitValues = {
  segmentation: [0.45, 0.68, 0.48],
  depth: [0.58, 0.84, 0.59],
};

export const METHODS: readonly MethodInfo[] = [
  { id: 'retrain', displayName: 'Retrain', role: 'reference' },
  { id: 'finetune', displayName: 'Fine-tune', role: 'baseline' },
  { id: 'pgu', displayName: 'PGU', role: 'baseline' },
  { id: 'salun', displayName: 'SalUn', role: 'baseline' },
  { id: 'interference-aware', displayName: 'Interference-aware', role: 'ours' },
  { id: 'ia-no-proj', displayName: 'IA w/o projection', role: 'ablation' },
];

/** Methods of {@link sampleOutcomes}, including a display name that needs escaping. */
export const SAMPLE_METHODS: readonly MethodInfo[] = [
  ...METHODS,
  { id: 'weird', displayName: '<b>&x | y', role: 'ablation' },
];

/**
 * A small mixed grid: scenes full-task (two seeds; pgu, interference-aware, `weird`, salun not
 * applicable, finetune failed with a comma and quotes in the reason), scenes partial-task
 * (segmentation) and multi-mnist full-task (one seed).
 */
export function sampleOutcomes(): CellOutcome[] {
  const out: CellOutcome[] = [];
  const scenes = (
    method: string,
    seed: number,
    shift: number,
    seconds: number,
    setting: 'full-task' | 'partial-task' = 'full-task',
  ): CellOutcome =>
    doneOutcome({
      setting,
      ...(setting === 'partial-task' ? { targets: ['segmentation'] } : {}),
      method,
      seed,
      unlearned: {
        segmentation: [0.5 - shift, 0.69 - shift / 2, 0.49 - shift / 2],
        depth: [0.62 - shift, 0.84, 0.6 - shift / 3],
      },
      original: ORIGINAL,
      retrained: RETRAINED,
      seconds,
      retrainSeconds: 40 + seed,
    });
  for (const seed of [0, 1]) {
    out.push(scenes('pgu', seed, 0.06 + 0.01 * seed, 3 + seed));
    out.push(scenes('interference-aware', seed, 0.02 + 0.01 * seed, 5 + seed));
    out.push(scenes('weird', seed, 0.04, 2));
    const base = {
      dataset: 'scenes',
      setting: 'full-task',
      targetTasks: ['segmentation', 'depth'],
      seed,
    } as const;
    out.push(otherOutcome({ ...base, method: 'salun' }, 'not-applicable', 'needs a classifier'));
    out.push(
      otherOutcome({ ...base, method: 'finetune' }, 'failed', 'bad value "lr", got 1e9\n at f'),
    );
  }
  out.push(scenes('pgu', 0, 0.05, 3, 'partial-task'));
  out.push(scenes('interference-aware', 0, 0.01, 4, 'partial-task'));
  for (const method of ['finetune', 'interference-aware']) {
    out.push(
      doneOutcome({
        dataset: 'multi-mnist',
        kinds: MNIST_KINDS,
        method,
        seed: 0,
        unlearned: { left: [0.6, 0.9, 0.8], right: [0.7, 0.9, 0.82] },
        original: { left: [0.95, 0.95, 0.85], right: [0.95, 0.95, 0.85] },
        retrained: { left: [0.8, 0.95, 0.85], right: [0.8, 0.95, 0.85] },
        seconds: method === 'finetune' ? 0.5 : 0.8,
      }),
    );
  }
  return out;
}
