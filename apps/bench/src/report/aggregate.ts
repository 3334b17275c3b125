/**
 * Aggregation of cell outcomes into report groups — one per (dataset, setting, target tasks) —
 * with the original model, the retrained reference and every method as rows, each value a
 * mean / sample std / count over seeds; the UIS reduction of our method vs the strongest baseline;
 * and the number formatting every report shares.
 *
 * @module
 */
import type { TaskKind } from '@mtu/datasets';
import type { Direction, ModelEvaluation, ResultRecord, SplitName } from '@mtu/metrics';
import { PRIMARY_METRIC, metricDefinition, unlearningImpactScore } from '@mtu/metrics';
import type { CellOutcome, CellStatus, MethodInfo, MethodRole } from '../types.js';

/** The splits every task is reported on, in column order. */
export const REPORT_SPLITS: readonly SplitName[] = ['forget', 'retain', 'test'];

/**
 * One number aggregated over seeds: mean, sample standard deviation (n − 1 in the denominator;
 * absent when n = 1) and the number of seeds.
 *
 * @example
 * ```ts
 * const s: SeedStat = { mean: 0.62, std: 0.02, n: 3, values: [0.6, 0.62, 0.64] };
 * ```
 */
export interface SeedStat {
  readonly mean: number;
  /** Sample standard deviation; absent when `n` is 1. */
  readonly std?: number;
  readonly n: number;
  /** The per-seed values, in seed order. */
  readonly values: readonly number[];
}

/**
 * One task's column of a report group: the task's primary metric.
 *
 * @example
 * ```ts
 * const t: ReportTask = { name: 'depth', kind: 'depth', metric: 'delta1', label: 'δ<1.25', better: 'higher', target: true };
 * ```
 */
export interface ReportTask {
  readonly name: string;
  readonly kind: TaskKind;
  /** Metric key, e.g. `'mIoU'` (the kind's primary metric). */
  readonly metric: string;
  /** Short label, e.g. `'δ<1.25'`. */
  readonly label: string;
  readonly better: Direction;
  /** Whether the task is a target of the forget request. */
  readonly target: boolean;
}

/**
 * Where a row comes from: the original model, the retrained reference, or a method's cells.
 *
 * @example
 * ```ts
 * group.rows.filter((r) => r.kind === 'method');
 * ```
 */
export type ReportRowKind = 'original' | 'retrained' | 'method';

/**
 * A row's role: a method's {@link MethodRole}, or `'original'` for the original model.
 *
 * @example
 * ```ts
 * const baselines = group.rows.filter((r) => r.role === 'baseline');
 * ```
 */
export type ReportRole = MethodRole | 'original';

/**
 * Per-task, per-split statistics of a row (task name → split → stat).
 *
 * @example
 * ```ts
 * row.metrics['segmentation']?.test?.mean; // e.g. 0.448
 * ```
 */
export type TaskSplitStats = Readonly<Record<string, Partial<Record<SplitName, SeedStat>>>>;

/**
 * One row of a report table.
 *
 * @example
 * ```ts
 * const row = group.rows.find((r) => r.role === 'ours');
 * row?.uis?.mean; // e.g. 4.38
 * ```
 */
export interface ReportRow {
  /** `'original'`, `'retrained'` or the method id. */
  readonly id: string;
  readonly displayName: string;
  readonly kind: ReportRowKind;
  readonly role: ReportRole;
  /**
   * `'done'` when at least one seed has a result; else `'failed'` when a seed failed; else
   * `'not-applicable'`.
   */
  readonly status: CellStatus;
  /**
   * Why the method does not apply, the (shortened) error, or — for a done row — which seeds
   * failed or did not apply.
   */
  readonly reason?: string;
  /** The seeds the statistics aggregate. */
  readonly seeds: readonly number[];
  /** Number of seeds with a result. */
  readonly n: number;
  /** Primary metric per task and split. */
  readonly metrics: TaskSplitStats;
  /** Loss-based membership inference ROC-AUC (combined over target tasks). */
  readonly mia?: SeedStat;
  /** UIS vs the original model (%, lower is better). */
  readonly uis?: SeedStat;
  /** UIS-R vs the retrained model (%, lower is better). */
  readonly uisR?: SeedStat;
  /** Wall seconds of the run (the reference row: retraining time). */
  readonly seconds?: SeedStat;
}

/**
 * The rows of one (dataset, setting, target tasks) combination.
 *
 * @example
 * ```ts
 * const [group] = aggregate(outcomes, methods);
 * group?.tasks.map((t) => t.name); // ['segmentation', 'depth']
 * ```
 */
export interface ReportGroup {
  readonly dataset: string;
  readonly setting: 'full-task' | 'partial-task';
  readonly targetTasks: readonly string[];
  readonly nonTargetTasks: readonly string[];
  /** Every task of the dataset, in the dataset's order (empty when no cell of the group is done). */
  readonly tasks: readonly ReportTask[];
  /** The original model, the retrained reference, then the methods in the given order. */
  readonly rows: readonly ReportRow[];
  /** Every seed of the group's cells, ascending. */
  readonly seeds: readonly number[];
}

/**
 * Mean, sample standard deviation and count of `values`; `undefined` for none.
 *
 * @example
 * ```ts
 * seedStat([0.6, 0.62, 0.64]); // { mean: 0.62, std: 0.02, n: 3, values: [...] }
 * ```
 */
export function seedStat(values: readonly number[]): SeedStat | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  const n = finite.length;
  if (n === 0) return undefined;
  let sum = 0;
  for (const v of finite) sum += v;
  const mean = sum / n;
  if (n === 1) return { mean, n, values: finite };
  let ss = 0;
  for (const v of finite) ss += (v - mean) * (v - mean);
  return { mean, std: Math.sqrt(ss / (n - 1)), n, values: finite };
}

/** The first line of `reason`, at most `max` characters. */
function shortReason(reason: string | undefined, max = 120): string {
  const line = (reason ?? '').trim().split(/\r?\n/)[0]?.trim() ?? '';
  if (line === '') return 'no reason given';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function groupKey(o: CellOutcome): string {
  return JSON.stringify([o.dataset, o.setting, [...o.targetTasks].sort()]);
}

function tasksOf(record: ResultRecord): ReportTask[] {
  const tasks: ReportTask[] = [];
  for (const [name, kind] of Object.entries(record.kinds)) {
    const metric = PRIMARY_METRIC[kind];
    const def = metricDefinition(kind, metric);
    tasks.push({
      name,
      kind,
      metric,
      label: def?.label ?? metric,
      better: def?.better ?? 'higher',
      target: record.targetTasks.includes(name),
    });
  }
  return tasks;
}

function metricOf(ev: ModelEvaluation, split: SplitName, task: ReportTask): number | undefined {
  const splitMetrics = ev.splits[split] as ModelEvaluation['splits'][SplitName] | undefined;
  if (splitMetrics === undefined || !Object.prototype.hasOwnProperty.call(splitMetrics, task.name))
    return undefined;
  const v = splitMetrics[task.name]?.values[task.metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** One seed's values of a row. */
interface Sample {
  readonly seed: number;
  readonly evaluation: ModelEvaluation;
  readonly mia?: number | undefined;
  readonly uis?: number | undefined;
  readonly uisR?: number | undefined;
  readonly seconds?: number | undefined;
}

function collect(samples: readonly Sample[], pick: (s: Sample) => number | undefined): number[] {
  const out: number[] = [];
  for (const s of samples) {
    const v = pick(s);
    if (v !== undefined && Number.isFinite(v)) out.push(v);
  }
  return out;
}

function statsOf(
  samples: readonly Sample[],
  tasks: readonly ReportTask[],
): Pick<ReportRow, 'metrics' | 'mia' | 'uis' | 'uisR' | 'seconds'> {
  const metrics: Record<string, Partial<Record<SplitName, SeedStat>>> = {};
  for (const task of tasks) {
    const perSplit: Partial<Record<SplitName, SeedStat>> = {};
    for (const split of REPORT_SPLITS) {
      const s = seedStat(collect(samples, (x) => metricOf(x.evaluation, split, task)));
      if (s !== undefined) perSplit[split] = s;
    }
    metrics[task.name] = perSplit;
  }
  const mia = seedStat(collect(samples, (s) => s.mia));
  const uis = seedStat(collect(samples, (s) => s.uis));
  const uisR = seedStat(collect(samples, (s) => s.uisR));
  const seconds = seedStat(collect(samples, (s) => s.seconds));
  return {
    metrics,
    ...(mia === undefined ? {} : { mia }),
    ...(uis === undefined ? {} : { uis }),
    ...(uisR === undefined ? {} : { uisR }),
    ...(seconds === undefined ? {} : { seconds }),
  };
}

/** UIS (or UIS-R) of `unlearned` vs `reference`, or `undefined` when it is undefined (0 reference). */
function uisOf(
  reference: ModelEvaluation | undefined,
  unlearned: ModelEvaluation | undefined,
  record: ResultRecord,
  variant: 'UIS' | 'UIS-R',
): number | undefined {
  if (reference === undefined || unlearned === undefined) return undefined;
  try {
    return unlearningImpactScore(
      reference,
      unlearned,
      { targetTasks: record.targetTasks, nonTargetTasks: record.nonTargetTasks },
      record.kinds,
      { variant },
    ).value;
  } catch {
    return undefined;
  }
}

function referenceRows(
  bySeed: ReadonlyMap<number, ResultRecord>,
  tasks: readonly ReportTask[],
): ReportRow[] {
  const seeds = [...bySeed.keys()].sort((a, b) => a - b);
  const originals: Sample[] = [];
  const retrained: Sample[] = [];
  for (const seed of seeds) {
    const r = bySeed.get(seed)!;
    const { original, retrained: ret } = r.evaluations;
    if (original !== undefined) {
      originals.push({
        seed,
        evaluation: original,
        mia: r.mia.original?.combined.auc,
        uis: uisOf(original, original, r, 'UIS'),
        uisR: uisOf(ret, original, r, 'UIS-R'),
      });
    }
    if (ret !== undefined) {
      retrained.push({
        seed,
        evaluation: ret,
        mia: r.mia.retrained?.combined.auc,
        uis: uisOf(original, ret, r, 'UIS'),
        uisR: uisOf(ret, ret, r, 'UIS-R'),
        seconds: r.cost.retrainSeconds,
      });
    }
  }
  const rows: ReportRow[] = [];
  const row = (
    samples: Sample[],
    id: string,
    displayName: string,
    kind: ReportRowKind,
    role: ReportRole,
  ): void => {
    if (samples.length === 0) return;
    rows.push({
      id,
      displayName,
      kind,
      role,
      status: 'done',
      seeds: samples.map((s) => s.seed),
      n: samples.length,
      ...statsOf(samples, tasks),
    });
  };
  row(originals, 'original', 'original', 'original', 'original');
  row(retrained, 'retrained', 'retrain (reference)', 'retrained', 'reference');
  return rows;
}

function methodRow(
  info: MethodInfo,
  cells: readonly CellOutcome[],
  tasks: readonly ReportTask[],
): ReportRow {
  const done = cells
    .filter((c) => c.status === 'done' && c.record !== undefined)
    .sort((a, b) => a.seed - b.seed);
  const failed = cells.filter(
    (c) => c.status === 'failed' || (c.status === 'done' && c.record === undefined),
  );
  const notApplicable = cells.filter((c) => c.status === 'not-applicable');
  const base = {
    id: info.id,
    displayName: info.displayName,
    kind: 'method' as const,
    role: info.role,
  };
  if (done.length === 0) {
    const empty = { seeds: [], n: 0, metrics: {} };
    if (failed.length > 0) {
      const first = failed[0]!;
      const reason = first.status === 'done' ? 'no result record' : first.reason;
      const seeds = failed.length > 1 ? ` (${failed.length} seeds)` : '';
      return { ...base, status: 'failed', reason: `${shortReason(reason)}${seeds}`, ...empty };
    }
    return {
      ...base,
      status: 'not-applicable',
      reason: shortReason(notApplicable[0]?.reason),
      ...empty,
    };
  }
  const samples: Sample[] = done.map((c) => {
    const r = c.record!;
    return {
      seed: c.seed,
      evaluation: r.evaluations.unlearned,
      mia: r.mia.unlearned?.combined.auc,
      uis: r.scores.uis?.value,
      uisR: r.scores.uisR?.value,
      seconds: r.cost.seconds,
    };
  });
  const notes: string[] = [];
  if (failed.length > 0) {
    notes.push(
      `${failed.length} of ${cells.length} seeds failed: ${shortReason(failed[0]!.reason, 80)}`,
    );
  }
  if (notApplicable.length > 0) {
    notes.push(
      `${notApplicable.length} of ${cells.length} seeds not applicable: ${shortReason(notApplicable[0]!.reason, 80)}`,
    );
  }
  return {
    ...base,
    status: 'done',
    ...(notes.length === 0 ? {} : { reason: notes.join('; ') }),
    seeds: samples.map((s) => s.seed),
    n: samples.length,
    ...statsOf(samples, tasks),
  };
}

/**
 * Groups cell outcomes by (dataset, setting, target tasks), in first-seen order, and aggregates
 * each group's rows over seeds: first the original model and the retrained reference (taken from
 * the records' `evaluations.original` / `retrained` and `mia`, one per seed; their UIS and UIS-R
 * computed with `unlearningImpactScore`; the reference's time is `cost.retrainSeconds`), then one
 * row per method of `methods` that has outcomes in the group, in `methods`' order. Outcomes of
 * methods not in `methods` are ignored.
 *
 * @param outcomes - The grid's cell outcomes (any order).
 * @param methods - The methods to report, in row order, with their display names and roles.
 * @returns One {@link ReportGroup} per (dataset, setting, target tasks).
 *
 * @example
 * ```ts
 * const groups = aggregate(outcomes, [
 *   { id: 'pgu', displayName: 'PGU', role: 'baseline' },
 *   { id: 'interference-aware', displayName: 'Ours', role: 'ours' },
 * ]);
 * groups[0]?.rows.map((r) => r.id); // ['original', 'retrained', 'pgu', 'interference-aware']
 * ```
 */
export function aggregate(
  outcomes: readonly CellOutcome[],
  methods: readonly MethodInfo[],
): ReportGroup[] {
  const buckets = new Map<string, CellOutcome[]>();
  for (const o of outcomes) {
    const key = groupKey(o);
    const bucket = buckets.get(key);
    if (bucket === undefined) buckets.set(key, [o]);
    else bucket.push(o);
  }
  const groups: ReportGroup[] = [];
  for (const cells of buckets.values()) {
    const first = cells[0]!;
    const done = cells
      .filter((c) => c.status === 'done' && c.record !== undefined)
      .sort((a, b) => a.seed - b.seed);
    const sample = done[0]?.record;
    const tasks = sample === undefined ? [] : tasksOf(sample);
    const bySeed = new Map<number, ResultRecord>();
    for (const c of done) if (!bySeed.has(c.seed)) bySeed.set(c.seed, c.record!);
    const rows = referenceRows(bySeed, tasks);
    for (const info of methods) {
      const mine = cells.filter((c) => c.method === info.id);
      if (mine.length > 0) rows.push(methodRow(info, mine, tasks));
    }
    groups.push({
      dataset: first.dataset,
      setting: first.setting,
      targetTasks: [...first.targetTasks],
      nonTargetTasks: sample === undefined ? [] : [...sample.nonTargetTasks],
      tasks,
      rows,
      seeds: [...new Set(cells.map((c) => c.seed))].sort((a, b) => a - b),
    });
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// UIS reduction
// ---------------------------------------------------------------------------------------------

/**
 * Our method vs the strongest baseline in one group.
 *
 * @example
 * ```ts
 * uisReduction(groups).perGroup[0]?.best?.id; // e.g. 'pgu'
 * ```
 */
export interface GroupReduction {
  readonly group: ReportGroup;
  /** Our method's row (role `'ours'`), when it has a UIS. */
  readonly ours?: ReportRow;
  /** The baseline (role `'baseline'`) with the lowest mean UIS, when any has one. */
  readonly best?: ReportRow;
  /** (UIS_best − UIS_ours) / UIS_best × 100; absent when either is missing or UIS_best is 0. */
  readonly reduction?: number;
}

/**
 * The UIS reduction of our method vs the strongest baseline, per group and per setting.
 *
 * @example
 * ```ts
 * uisReduction(groups).bySetting['partial-task']; // e.g. 12.5 (%), or undefined
 * ```
 */
export interface UisReductionSummary {
  /** The id of our method (the first row with role `'ours'`), when there is one. */
  readonly oursId?: string;
  readonly perGroup: readonly GroupReduction[];
  /** Mean reduction (%) over each setting's groups that have one. */
  readonly bySetting: Partial<Record<'full-task' | 'partial-task', number>>;
}

/**
 * For each group, the strongest baseline — the lowest mean UIS among rows with role `'baseline'`
 * (never the retrained reference, never an ablation) — and the reduction of our method's (role
 * `'ours'`) mean UIS relative to it, (UIS_best − UIS_ours) / UIS_best × 100 (negative when ours is
 * worse); then the mean per setting.
 *
 * @example
 * ```ts
 * const summary = uisReduction(aggregate(outcomes, methods));
 * summary.bySetting['full-task']; // e.g. 30 (%)
 * ```
 */
export function uisReduction(groups: readonly ReportGroup[]): UisReductionSummary {
  const perGroup: GroupReduction[] = [];
  const sums: Partial<Record<'full-task' | 'partial-task', { sum: number; n: number }>> = {};
  let oursId: string | undefined;
  for (const group of groups) {
    const ours = group.rows.find(
      (r) => r.kind === 'method' && r.role === 'ours' && r.uis !== undefined,
    );
    oursId ??= group.rows.find((r) => r.kind === 'method' && r.role === 'ours')?.id;
    let best: ReportRow | undefined;
    for (const r of group.rows) {
      if (r.kind !== 'method' || r.role !== 'baseline' || r.uis === undefined) continue;
      if (best === undefined || r.uis.mean < best.uis!.mean) best = r;
    }
    let reduction: number | undefined;
    if (ours?.uis !== undefined && best?.uis !== undefined && best.uis.mean > 0) {
      reduction = ((best.uis.mean - ours.uis.mean) / best.uis.mean) * 100;
      const acc = (sums[group.setting] ??= { sum: 0, n: 0 });
      acc.sum += reduction;
      acc.n += 1;
    }
    perGroup.push({
      group,
      ...(ours === undefined ? {} : { ours }),
      ...(best === undefined ? {} : { best }),
      ...(reduction === undefined ? {} : { reduction }),
    });
  }
  const bySetting: Partial<Record<'full-task' | 'partial-task', number>> = {};
  for (const setting of ['full-task', 'partial-task'] as const) {
    const acc = sums[setting];
    if (acc !== undefined && acc.n > 0) bySetting[setting] = acc.sum / acc.n;
  }
  return { ...(oursId === undefined ? {} : { oursId }), perGroup, bySetting };
}

function percent(v: number | undefined): string {
  if (v === undefined) return 'n/a';
  const s = v.toFixed(1);
  return `${s === '-0.0' ? '0.0' : s}%`;
}

/**
 * The headline: `UIS reduction of <ours> vs the strongest baseline: full-task X%, partial-task Y%`
 * (one decimal; `n/a` for a setting without a reduction).
 *
 * @example
 * ```ts
 * reductionLine(uisReduction(groups));
 * // 'UIS reduction of interference-aware vs the strongest baseline: full-task 30.0%, partial-task n/a'
 * ```
 */
export function reductionLine(summary: UisReductionSummary): string {
  return (
    `UIS reduction of ${summary.oursId ?? 'ours'} vs the strongest baseline: ` +
    `full-task ${percent(summary.bySetting['full-task'])}, ` +
    `partial-task ${percent(summary.bySetting['partial-task'])}`
  );
}

/**
 * A group's short label: `dataset setting`, plus `[targets]` in partial-task.
 *
 * @example
 * ```ts
 * groupLabel(group); // 'nyuv2 partial-task [segmentation]'
 * ```
 */
export function groupLabel(group: ReportGroup): string {
  return group.setting === 'partial-task'
    ? `${group.dataset} ${group.setting} [${group.targetTasks.join(', ')}]`
    : `${group.dataset} ${group.setting}`;
}

/**
 * One line per group: `scenes full-task: interference-aware 4.38 vs pgu 7.90 → 44.6%`, or why
 * there is no reduction.
 *
 * @example
 * ```ts
 * reductionDetails(uisReduction(groups)).join('\n');
 * ```
 */
export function reductionDetails(summary: UisReductionSummary): string[] {
  return summary.perGroup.map(({ group, ours, best, reduction }) => {
    const label = groupLabel(group);
    if (ours?.uis === undefined) return `${label}: n/a (no UIS of our method)`;
    if (best?.uis === undefined) return `${label}: n/a (no baseline with a UIS)`;
    const head = `${label}: ${ours.id} ${ours.uis.mean.toFixed(2)} vs ${best.id} ${best.uis.mean.toFixed(2)}`;
    return reduction === undefined
      ? `${head} → n/a (the baseline's UIS is 0)`
      : `${head} → ${percent(reduction)}`;
  });
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/** How many decimals each kind of number gets in tables. */
export const DECIMALS = { metric: 3, mia: 3, uis: 2 } as const;

/**
 * Formats a stat as `mean` (n = 1) or `mean±std` with `digits` decimals; `–` when absent.
 *
 * @example
 * ```ts
 * formatStat({ mean: 0.65, std: 0.0123, n: 2, values: [] }, 3); // '0.650±0.012'
 * ```
 */
export function formatStat(stat: SeedStat | undefined, digits: number, separator = '±'): string {
  if (stat === undefined) return '–';
  const mean = stat.mean.toFixed(digits);
  return stat.std === undefined ? mean : `${mean}${separator}${stat.std.toFixed(digits)}`;
}

/**
 * Decimals for a number of seconds: 2 below 10 s, 1 below 100 s, else 0.
 *
 * @example
 * ```ts
 * secondsDigits(3.2); // 2
 * ```
 */
export function secondsDigits(seconds: number): number {
  const a = Math.abs(seconds);
  return a < 10 ? 2 : a < 100 ? 1 : 0;
}

/**
 * A duration in seconds as `3725.4 s (1 h 02 min)`; `unknown` when absent.
 *
 * @example
 * ```ts
 * formatDuration(3725.4); // '3725.4 s (1 h 02 min)'
 * ```
 */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return 'unknown';
  const s = `${seconds.toFixed(1)} s`;
  if (seconds < 60) return s;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0
    ? `${s} (${h} h ${String(m).padStart(2, '0')} min)`
    : `${s} (${m} min ${String(sec).padStart(2, '0')} s)`;
}

/**
 * The short status text of a row that has no numbers: `n/a: <reason>` or `failed: <reason>`.
 *
 * @example
 * ```ts
 * statusText(row); // 'n/a: needs a classification task'
 * ```
 */
export function statusText(row: ReportRow): string {
  if (row.status === 'not-applicable') return `n/a: ${row.reason ?? 'not applicable'}`;
  if (row.status === 'failed') return `failed: ${row.reason ?? 'unknown error'}`;
  return row.reason ?? '';
}
