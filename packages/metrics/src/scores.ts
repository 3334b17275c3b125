/**
 * Scores computed from metric values: the Unlearning Impact Score (UIS, and its retrain-referenced
 * variant UIS-R), the Avg. Gap to the retrained model, the multi-task Δm in its two published
 * conventions, and task- / instance-level interference.
 *
 * Pure functions of numbers and {@link ModelEvaluation}s: no TensorFlow.js.
 *
 * Sources: `DESIGN.md` §5; `research/baselines.md` §3.4 (Avg. Gap), §3.5 (Δm), §3.6 (UIS) and §7
 * (test vectors 4 and 5).
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import type { TaskKind } from '@mtu/datasets';
import { METRICS, PRIMARY_METRIC, metricDefinition } from './definitions.js';
import type { Direction, ModelEvaluation, SplitName } from './definitions.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Chooses the metric of a task: `(kind, task) => metric name`. Default: {@link PRIMARY_METRIC}. */
export type MetricSelector = (kind: TaskKind, task: string) => string;

const ALL_SPLITS: readonly SplitName[] = ['forget', 'retain', 'test'];

/** Metrics whose values are fractions in [0, 1]; reported ×100 (percentage points) in gaps. */
const FRACTION_METRICS: ReadonlySet<string> = new Set([
  'accuracy',
  'mIoU',
  'pixelAccuracy',
  'delta1',
  'delta2',
  'delta3',
  'within11_25',
  'within22_5',
  'within30',
]);

function checkFinite(field: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ConfigError(field, v, 'must be a finite number');
  }
}

function kindOf(kinds: Readonly<Record<string, TaskKind>>, task: string): TaskKind {
  const kind = Object.prototype.hasOwnProperty.call(kinds, task) ? kinds[task] : undefined;
  if (kind === undefined || !Object.prototype.hasOwnProperty.call(METRICS, kind)) {
    throw new ConfigError(
      `kinds.${task}`,
      kind,
      `no known task kind for task '${task}' (known tasks: ${Object.keys(kinds).join(', ') || 'none'})`,
    );
  }
  return kind;
}

function metricValue(
  evaluation: ModelEvaluation,
  which: string,
  split: SplitName,
  task: string,
  metric: string,
): number {
  const splitMetrics = evaluation.splits[split] as ModelEvaluation['splits'][SplitName] | undefined;
  if (splitMetrics === undefined) {
    throw new ConfigError(`${which}.splits.${split}`, undefined, `the ${split} split is missing`);
  }
  const tm = Object.prototype.hasOwnProperty.call(splitMetrics, task)
    ? splitMetrics[task]
    : undefined;
  if (tm === undefined) {
    throw new ConfigError(
      `${which}.splits.${split}.${task}`,
      undefined,
      `task '${task}' is missing from the ${which} model's ${split} split (has: ${
        Object.keys(splitMetrics).join(', ') || 'none'
      })`,
    );
  }
  const v = Object.prototype.hasOwnProperty.call(tm.values, metric) ? tm.values[metric] : undefined;
  if (v === undefined) {
    throw new ConfigError(
      `${which}.splits.${split}.${task}.values.${metric}`,
      undefined,
      `metric '${metric}' of task '${task}' is missing from the ${which} model's ${split} split (has: ${
        Object.keys(tm.values).join(', ') || 'none'
      })`,
    );
  }
  checkFinite(`${which}.splits.${split}.${task}.values.${metric}`, v);
  return v;
}

function selectMetric(selector: MetricSelector | undefined, kind: TaskKind, task: string): string {
  const metric = selector === undefined ? PRIMARY_METRIC[kind] : selector(kind, task);
  if (typeof metric !== 'string' || metricDefinition(kind, metric) === undefined) {
    throw new ConfigError(
      'metric',
      metric,
      `not a metric of task '${task}' (kind ${kind}; known: ${METRICS[kind].map((m) => m.name).join(', ')})`,
    );
  }
  return metric;
}

function checkTaskList(field: string, tasks: readonly string[]): void {
  if (!Array.isArray(tasks)) throw new ConfigError(field, tasks, 'must be an array of task names');
  const seen = new Set<string>();
  for (const t of tasks) {
    if (typeof t !== 'string') throw new ConfigError(field, tasks, 'task names must be strings');
    if (seen.has(t)) throw new ConfigError(field, tasks, `task '${t}' is listed twice`);
    seen.add(t);
  }
}

function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

// ---------------------------------------------------------------------------------------------
// UIS
// ---------------------------------------------------------------------------------------------

function reference(field: string, v: number): number {
  checkFinite(field, v);
  if (v === 0) {
    throw new ConfigError(
      field,
      v,
      'the reference metric is 0, so the relative change (and UIS) is undefined',
    );
  }
  return Math.abs(v);
}

/**
 * OrthoGrad's UIS of one target task (random-sample forgetting; DESIGN §5, baselines §3.6 (A)):
 *
 *   UIS_t = ½ (|O_t − U_t| + |O_t − U_f|) / O_t
 *
 * with O_t the reference (original) model's test metric, U_t and U_f the unlearned model's test and
 * forget metrics (a higher-is-better metric). Lower is better; 0 = test performance unchanged and
 * forget performance equal to the reference's test performance. Returned as a fraction (×100 for
 * %). The denominator is |O_t|.
 *
 * @param oTest - Reference model, test split.
 * @param uTest - Unlearned model, test split.
 * @param uForget - Unlearned model, forget split.
 * @returns UIS_t ≥ 0.
 * @throws {ConfigError} When `oTest` is 0 or any value is not finite.
 *
 * @example
 * ```ts
 * uisTarget(0.4, 0.38, 0.45); // ½ (0.02 + 0.05) / 0.4 = 0.0875 (baselines §7.4)
 * ```
 */
export function uisTarget(oTest: number, uTest: number, uForget: number): number {
  const ot = reference('oTest', oTest);
  checkFinite('uTest', uTest);
  checkFinite('uForget', uForget);
  return (0.5 * (Math.abs(oTest - uTest) + Math.abs(oTest - uForget))) / ot;
}

/**
 * UIS of one non-target task in partial-task unlearning (its forget labels were kept, so its
 * forget performance should be preserved; DESIGN §5, baselines §3.6 (A)):
 *
 *   UIS_t = ½ (|O_t − U_t| / O_t + |O_f − U_f| / O_f)
 *
 * O = reference model (original for UIS, retrained for UIS-R), U = unlearned model, _t = test,
 * _f = forget. A fraction; denominators |O_t|, |O_f|.
 *
 * @param oTest - Reference model, test split.
 * @param uTest - Unlearned model, test split.
 * @param oForget - Reference model, forget split.
 * @param uForget - Unlearned model, forget split.
 * @returns UIS_t ≥ 0.
 * @throws {ConfigError} When `oTest` or `oForget` is 0 or any value is not finite.
 *
 * @example
 * ```ts
 * uisNonTarget(0.5, 0.45, 0.6, 0.6); // ½ (0.05/0.5 + 0) = 0.05
 * ```
 */
export function uisNonTarget(
  oTest: number,
  uTest: number,
  oForget: number,
  uForget: number,
): number {
  const ot = reference('oTest', oTest);
  const of = reference('oForget', oForget);
  checkFinite('uTest', uTest);
  checkFinite('uForget', uForget);
  return 0.5 * (Math.abs(oTest - uTest) / ot + Math.abs(oForget - uForget) / of);
}

/** Which UIS a result is: referenced to the original model or to the retrained one. */
export type UisVariant = 'UIS' | 'UIS-R';

/** A forget request's task partition (full-task: `nonTargetTasks` empty). */
export interface UisRequest {
  readonly targetTasks: readonly string[];
  readonly nonTargetTasks: readonly string[];
}

/** Options of {@link unlearningImpactScore}. */
export interface UisOptions {
  /** The metric A of each task (default {@link PRIMARY_METRIC}: accuracy, mIoU, δ1, %<30°). */
  readonly metric?: MetricSelector;
  /**
   * Label of the result (default `'UIS'`): `'UIS'` when `reference` is the original model,
   * `'UIS-R'` when it is the retrained model.
   */
  readonly variant?: UisVariant;
  /**
   * What a target task's forget metric is compared with: `'test'` = the reference's test metric
   * (OrthoGrad's UIS_t, {@link uisTarget}), `'forget'` = the reference's forget metric (the
   * non-target formula, {@link uisNonTarget}; baselines §3.6 (B)). Default: `'test'` for `'UIS'`,
   * `'forget'` for `'UIS-R'`.
   */
  readonly targetReference?: 'test' | 'forget';
}

/** Result of {@link unlearningImpactScore}. */
export interface UisResult {
  /** 100 × the mean of `perTask` over target and non-target tasks (lower is better). */
  readonly value: number;
  /** UIS_t per task, as a fraction. */
  readonly perTask: Readonly<Record<string, number>>;
  readonly variant: UisVariant;
  /** The metric used per task. */
  readonly metric: Readonly<Record<string, string>>;
  /** How target tasks were scored (see {@link UisOptions.targetReference}). */
  readonly targetReference: 'test' | 'forget';
}

/**
 * The Unlearning Impact Score of a forget request (DESIGN §5; baselines §3.6), lower is better:
 *
 *   UIS = 100 × mean_{t ∈ T_f ∪ T_n} UIS_t
 *
 * target tasks t ∈ T_f: UIS_t = ½ (|R_t − U_t| + |R_t − U_f|) / R_t ({@link uisTarget}), or with
 *   `targetReference: 'forget'`: ½ (|R_t − U_t| / R_t + |R_f − U_f| / R_f);
 * non-target tasks t ∈ T_n (partial-task): UIS_t = ½ (|R_t − U_t| / R_t + |R_f − U_f| / R_f)
 *   ({@link uisNonTarget}),
 *
 * where R is `reference` (the original model → UIS; the retrained model → UIS-R) and U the
 * unlearned model, on the task's metric A (default the primary metric) of `splits.test[task]` and
 * `splits.forget[task]`. For UIS-R the default `targetReference` is `'forget'` (baselines §3.6 (B)):
 * the retrained model's own forget performance is the target, so UIS-R = 0 exactly when the
 * unlearned model matches the retrained one. For UIS (OrthoGrad) the target is the original
 * model's test performance, so the original model itself scores its memorisation gap
 * ½|O_t − O_f|/O_t on target tasks.
 *
 * @param reference - The original model (UIS) or the retrained model (UIS-R).
 * @param unlearned - The unlearned model.
 * @param request - Target and non-target tasks (disjoint, not both empty).
 * @param kinds - Task kind per task name.
 * @param options - Metric choice, variant label and target formula.
 * @returns {@link UisResult}.
 * @throws {ConfigError} On a missing task, split or metric (named), a task listed twice, an unknown
 *   kind, or a zero reference metric.
 *
 * @example
 * ```ts
 * const uis = unlearningImpactScore(original, unlearned, { targetTasks: ['seg'], nonTargetTasks: ['depth'] },
 *   { seg: 'segmentation', depth: 'depth' });
 * uis.value; // e.g. 9.1 (%), uis.perTask.seg, uis.metric.seg === 'mIoU'
 * const uisR = unlearningImpactScore(retrained, unlearned, request, kinds, { variant: 'UIS-R' });
 * ```
 */
export function unlearningImpactScore(
  reference: ModelEvaluation,
  unlearned: ModelEvaluation,
  request: UisRequest,
  kinds: Readonly<Record<string, TaskKind>>,
  options: UisOptions = {},
): UisResult {
  const variant = options.variant ?? 'UIS';
  if (variant !== 'UIS' && variant !== 'UIS-R') {
    throw new ConfigError('variant', variant, "must be 'UIS' or 'UIS-R'");
  }
  const targetReference = options.targetReference ?? (variant === 'UIS' ? 'test' : 'forget');
  if (targetReference !== 'test' && targetReference !== 'forget') {
    throw new ConfigError('targetReference', targetReference, "must be 'test' or 'forget'");
  }
  checkTaskList('targetTasks', request.targetTasks);
  checkTaskList('nonTargetTasks', request.nonTargetTasks);
  for (const t of request.nonTargetTasks) {
    if (request.targetTasks.includes(t)) {
      throw new ConfigError(
        'nonTargetTasks',
        request.nonTargetTasks,
        `task '${t}' is also a target task`,
      );
    }
  }
  if (request.targetTasks.length + request.nonTargetTasks.length === 0) {
    throw new ConfigError(
      'request',
      request,
      'no tasks to score (targetTasks and nonTargetTasks are empty)',
    );
  }
  const refName = variant === 'UIS' ? 'reference (original)' : 'reference (retrained)';
  const perTask: Record<string, number> = {};
  const metricOf: Record<string, string> = {};
  const score = (task: string, target: boolean): void => {
    const kind = kindOf(kinds, task);
    const metric = selectMetric(options.metric, kind, task);
    const oT = metricValue(reference, refName, 'test', task, metric);
    const uT = metricValue(unlearned, 'unlearned', 'test', task, metric);
    const uF = metricValue(unlearned, 'unlearned', 'forget', task, metric);
    let v: number;
    try {
      if (target && targetReference === 'test') {
        v = uisTarget(oT, uT, uF);
      } else {
        const oF = metricValue(reference, refName, 'forget', task, metric);
        v = uisNonTarget(oT, uT, oF, uF);
      }
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new ConfigError(
          `${refName} ${task}.${metric}`,
          e.value,
          `UIS of task '${task}': ${e.message}`,
        );
      }
      throw e;
    }
    perTask[task] = v;
    metricOf[task] = metric;
  };
  for (const t of request.targetTasks) score(t, true);
  for (const t of request.nonTargetTasks) score(t, false);
  return {
    value: 100 * mean(Object.values(perTask)),
    perTask,
    variant,
    metric: metricOf,
    targetReference,
  };
}

// ---------------------------------------------------------------------------------------------
// Avg. Gap
// ---------------------------------------------------------------------------------------------

/** An MIA figure of both models for {@link averageGap}, as a fraction in [0, 1] (reported ×100). */
export interface MiaGapInput {
  /** e.g. `'MIA-Efficacy'` or `'MIA-AUC seg'`. */
  readonly name: string;
  readonly unlearned: number;
  readonly retrained: number;
}

/** Options of {@link averageGap}. */
export interface AverageGapOptions {
  /** The metric of each task (default {@link PRIMARY_METRIC}). */
  readonly metric?: MetricSelector;
  /** The tasks (default: every task of `kinds`). */
  readonly tasks?: readonly string[];
  /** The splits (default forget, retain, test). */
  readonly splits?: readonly SplitName[];
  /** MIA figures to add as extra terms (SalUn includes MIA-Efficacy in its Avg. Gap). */
  readonly mia?: readonly MiaGapInput[];
}

/** One term of {@link averageGap}. */
export interface GapTerm {
  /** The task, or `null` for an MIA term. */
  readonly task: string | null;
  /** The split, or `null` for an MIA term. */
  readonly split: SplitName | null;
  /** Metric name, or the MIA term's `name`. */
  readonly metric: string;
  readonly unlearned: number;
  readonly retrained: number;
  /** 100 for fraction metrics and MIA (percentage points), 1 for metrics in native units. */
  readonly scale: number;
  /** scale · |M_u − M_R|. */
  readonly absolute: number;
  /** 100 · |M_u − M_R| / |M_R| (%), 0 when both are 0, `null` when only M_R is 0. */
  readonly relative: number | null;
}

/** Result of {@link averageGap}. */
export interface AverageGap {
  /** Mean of the terms' `absolute` (percentage points for fraction metrics). Lower is better. */
  readonly absolute: number;
  /** Mean of the terms' defined `relative` (%), or `null` when no term has one. */
  readonly relative: number | null;
  readonly terms: readonly GapTerm[];
}

function gapTerm(
  task: string | null,
  split: SplitName | null,
  metric: string,
  u: number,
  r: number,
  scale: number,
): GapTerm {
  const diff = Math.abs(u - r);
  return {
    task,
    split,
    metric,
    unlearned: u,
    retrained: r,
    scale,
    absolute: scale * diff,
    relative: diff === 0 ? 0 : r === 0 ? null : (100 * diff) / Math.abs(r),
  };
}

/**
 * SalUn's Avg. Gap to the retrained model, generalised to dense multi-task metrics (baselines
 * §3.4, dense generalisation):
 *
 *   absolute = mean over (task k, split s ∈ {forget, retain, test}) of c_k · |M_k^U(s) − M_k^R(s)|
 *              [+ the terms 100 · |MIA_U − MIA_R|]
 *   relative = mean over the same terms of 100 · |M^U − M^R| / |M^R|   (%)
 *
 * M_k = the task's primary metric (or `options.metric`); c_k = 100 for fraction metrics (accuracy,
 * mIoU, PixAcc, δ, %-within: percentage points, as SalUn's table of %), 1 for metrics in native
 * units (AbsErr, RelErr, angles in degrees — mixing units makes `absolute` hard to read, hence the
 * unit-free `relative`). Terms whose M^R = 0 ≠ M^U have no relative value and are left out of
 * `relative`. Lower is better; 0 for identical evaluations.
 *
 * @param unlearned - The unlearned model.
 * @param retrained - The retrained model (the gold standard).
 * @param kinds - Task kind per task name.
 * @param options - Metric, tasks, splits and MIA terms.
 * @returns {@link AverageGap}.
 * @throws {ConfigError} On a missing task, split or metric (named), or no terms at all.
 *
 * @example
 * ```ts
 * const gap = averageGap(unlearned, retrained, { seg: 'segmentation', depth: 'depth' }, {
 *   mia: [{ name: 'MIA-Efficacy', unlearned: 0.31, retrained: 0.27 }],
 * });
 * gap.absolute; // mean |Δ| in percentage points over 2 tasks × 3 splits + 1 MIA term
 * ```
 */
export function averageGap(
  unlearned: ModelEvaluation,
  retrained: ModelEvaluation,
  kinds: Readonly<Record<string, TaskKind>>,
  options: AverageGapOptions = {},
): AverageGap {
  const tasks = options.tasks ?? Object.keys(kinds);
  checkTaskList('tasks', tasks);
  const splits = options.splits ?? ALL_SPLITS;
  for (const s of splits) {
    if (!ALL_SPLITS.includes(s)) {
      throw new ConfigError(
        'splits',
        splits,
        `unknown split '${String(s)}' (forget, retain, test)`,
      );
    }
  }
  const terms: GapTerm[] = [];
  for (const task of tasks) {
    const kind = kindOf(kinds, task);
    const metric = selectMetric(options.metric, kind, task);
    const scale = FRACTION_METRICS.has(metric) ? 100 : 1;
    for (const split of splits) {
      const u = metricValue(unlearned, 'unlearned', split, task, metric);
      const r = metricValue(retrained, 'retrained', split, task, metric);
      terms.push(gapTerm(task, split, metric, u, r, scale));
    }
  }
  for (const [i, m] of (options.mia ?? []).entries()) {
    checkFinite(`mia[${i}].unlearned`, m.unlearned);
    checkFinite(`mia[${i}].retrained`, m.retrained);
    terms.push(gapTerm(null, null, m.name, m.unlearned, m.retrained, 100));
  }
  if (terms.length === 0) {
    throw new ConfigError('tasks', tasks, 'averageGap: no terms (no tasks, splits or MIA figures)');
  }
  const rel = terms.flatMap((t) => (t.relative === null ? [] : [t.relative]));
  return {
    absolute: mean(terms.map((t) => t.absolute)),
    relative: rel.length > 0 ? mean(rel) : null,
    terms,
  };
}

// ---------------------------------------------------------------------------------------------
// Δm
// ---------------------------------------------------------------------------------------------

/**
 * `'maninis'`: metric-averaged, positive = worse (Maninis et al. 2019 as implemented by nash-mtl);
 * `'libmtl'`: task-averaged, positive = better (LibMTL's Δp).
 */
export type DeltaMConvention = 'maninis' | 'libmtl';

/** Result of {@link deltaM}. */
export interface DeltaM {
  /** Δm in %. */
  readonly value: number;
  readonly convention: DeltaMConvention;
  /** What a positive `value` means. */
  readonly positiveMeans: 'worse' | 'better';
  /** `'metrics'`: one mean over all metrics; `'tasks'`: mean within each group, then over groups. */
  readonly averaging: 'metrics' | 'tasks';
  /** Per metric key: 100 · the signed relative change, in this convention's sign. */
  readonly terms: Readonly<Record<string, number>>;
  /** Per group: the mean of its terms (empty when no groups were given). */
  readonly perGroup: Readonly<Record<string, number>>;
}

/**
 * Multi-task Δm of `values` relative to `base` (baselines §3.5), in %:
 *
 * - `'maninis'` (Maninis et al., CVPR 2019, Eq. 4, as implemented by nash-mtl `delta_fn`;
 *   recommended by MTAN): averaged over all N metrics, **positive = worse**:
 *     Δm = 100 · (1/N) Σ_i (−1)^{h_i} (a_i − b_i) / b_i,   h_i = 1 for higher-is-better
 *   (so a drop of a higher-better metric or a rise of a lower-better one is positive).
 * - `'libmtl'` (LibMTL `count_improvement`): averaged within each task (`groups`) first, then over
 *   the T tasks, **positive = better**:
 *     Δp = 100 · (1/T) Σ_t (1/M_t) Σ_{m ∈ t} (−1)^{h_m} (b_m − a_m) / b_m.
 *
 * The two differ in sign and in averaging (baselines §7.5: −5.389287 % vs +5.995486 %). Denominators
 * are |b_i|.
 *
 * @param values - Metric values of the evaluated model, by key.
 * @param base - Baseline values, same keys (non-zero).
 * @param directions - `'higher'` / `'lower'` is better, same keys.
 * @param convention - `'maninis'` or `'libmtl'`.
 * @param groups - The task of each key; required for `'libmtl'`, optional (per-group breakdown
 *   only) for `'maninis'`.
 * @returns {@link DeltaM}.
 * @throws {ConfigError} On mismatched or missing keys (named), a zero base, non-finite values, or
 *   `'libmtl'` without a group for every key.
 *
 * @example
 * ```ts
 * const d = deltaM({ miou: 0.4, abs: 0.6 }, { miou: 0.383, abs: 0.6754 },
 *   { miou: 'higher', abs: 'lower' }, 'maninis');
 * d.value; // 100 · ½ (−(0.4 − 0.383)/0.383 + (0.6 − 0.6754)/0.6754) < 0: better than base
 * ```
 */
export function deltaM(
  values: Readonly<Record<string, number>>,
  base: Readonly<Record<string, number>>,
  directions: Readonly<Record<string, Direction>>,
  convention: DeltaMConvention,
  groups?: Readonly<Record<string, string>>,
): DeltaM {
  if (convention !== 'maninis' && convention !== 'libmtl') {
    throw new ConfigError('convention', convention, "must be 'maninis' or 'libmtl'");
  }
  const keys = Object.keys(values);
  if (keys.length === 0) throw new ConfigError('values', values, 'deltaM: no metrics');
  const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
  for (const k of Object.keys(base)) {
    if (!has(values, k))
      throw new ConfigError(
        `values.${k}`,
        undefined,
        `metric '${k}' is in base but missing from values`,
      );
  }
  for (const k of Object.keys(directions)) {
    if (!has(values, k))
      throw new ConfigError(
        `values.${k}`,
        undefined,
        `metric '${k}' has a direction but is missing from values`,
      );
  }
  const terms: Record<string, number> = {};
  for (const k of keys) {
    if (!has(base, k))
      throw new ConfigError(`base.${k}`, undefined, `metric '${k}' is missing from base`);
    const dir = has(directions, k) ? directions[k] : undefined;
    if (dir !== 'higher' && dir !== 'lower') {
      throw new ConfigError(
        `directions.${k}`,
        dir,
        `metric '${k}' needs a direction ('higher' or 'lower')`,
      );
    }
    const a = values[k] as number;
    const b = base[k] as number;
    checkFinite(`values.${k}`, a);
    checkFinite(`base.${k}`, b);
    if (b === 0)
      throw new ConfigError(
        `base.${k}`,
        b,
        `metric '${k}': the base value is 0, so its relative change is undefined`,
      );
    // Maninis / nash-mtl sign: positive = worse.
    const worse = (dir === 'higher' ? b - a : a - b) / Math.abs(b);
    terms[k] = 100 * (convention === 'maninis' ? worse : -worse);
  }
  const perGroup: Record<string, number> = {};
  if (groups !== undefined || convention === 'libmtl') {
    const members = new Map<string, number[]>();
    for (const k of keys) {
      const g = groups !== undefined && has(groups, k) ? groups[k] : undefined;
      if (typeof g !== 'string') {
        throw new ConfigError(
          `groups.${k}`,
          g,
          `metric '${k}' needs a group (its task)${convention === 'libmtl' ? " for the 'libmtl' convention" : ''}`,
        );
      }
      const list = members.get(g) ?? [];
      list.push(terms[k] as number);
      members.set(g, list);
    }
    for (const [g, list] of members) perGroup[g] = mean(list);
  }
  const value =
    convention === 'maninis' ? mean(Object.values(terms)) : mean(Object.values(perGroup));
  return {
    value,
    convention,
    positiveMeans: convention === 'maninis' ? 'worse' : 'better',
    averaging: convention === 'maninis' ? 'metrics' : 'tasks',
    terms,
    perGroup,
  };
}

/** Options of {@link deltaMFromEvaluations}. */
export interface DeltaMFromEvaluationsOptions {
  /** The tasks (default: every task of `kinds`). */
  readonly tasks?: readonly string[];
}

/**
 * {@link deltaM} of `unlearned` relative to `reference` on one split, over every metric of
 * {@link METRICS} of every task (keys `'<task>.<metric>'`, groups = tasks, directions from the
 * metric definitions). For unlearning (baselines §3.5): reference = the retrained model, split =
 * retain or test (utility interference), or forget for non-target tasks.
 *
 * @param unlearned - The evaluated model.
 * @param reference - The baseline model (e.g. retrained).
 * @param split - The split whose metrics are compared.
 * @param kinds - Task kind per task name.
 * @param convention - `'maninis'` (+ = worse, metric-averaged) or `'libmtl'` (+ = better,
 *   task-averaged).
 * @param options - Restrict to some tasks.
 * @returns {@link DeltaM}.
 * @throws {ConfigError} On a missing task or metric (named) or a zero reference value.
 *
 * @example
 * ```ts
 * deltaMFromEvaluations(unlearned, retrained, 'test', { seg: 'segmentation', depth: 'depth' }, 'libmtl').value;
 * ```
 */
export function deltaMFromEvaluations(
  unlearned: ModelEvaluation,
  reference: ModelEvaluation,
  split: SplitName,
  kinds: Readonly<Record<string, TaskKind>>,
  convention: DeltaMConvention,
  options: DeltaMFromEvaluationsOptions = {},
): DeltaM {
  if (!ALL_SPLITS.includes(split)) {
    throw new ConfigError('split', split, 'must be forget, retain or test');
  }
  const tasks = options.tasks ?? Object.keys(kinds);
  checkTaskList('tasks', tasks);
  const values: Record<string, number> = {};
  const base: Record<string, number> = {};
  const directions: Record<string, Direction> = {};
  const groups: Record<string, string> = {};
  for (const task of tasks) {
    const kind = kindOf(kinds, task);
    for (const m of METRICS[kind]) {
      const key = `${task}.${m.name}`;
      values[key] = metricValue(unlearned, 'unlearned', split, task, m.name);
      base[key] = metricValue(reference, 'reference', split, task, m.name);
      directions[key] = m.better;
      groups[key] = task;
    }
  }
  return deltaM(values, base, directions, convention, groups);
}

// ---------------------------------------------------------------------------------------------
// Interference
// ---------------------------------------------------------------------------------------------

/** One (task, split, metric) change of {@link taskInterference} / {@link instanceInterference}. */
export interface InterferenceTerm {
  readonly task: string;
  readonly split: SplitName;
  readonly metric: string;
  /** Whether this is the task's summary metric (primary by default). */
  readonly primary: boolean;
  readonly original: number;
  readonly unlearned: number;
  /** U − O, in the metric's units. */
  readonly change: number;
  /**
   * Direction-aware relative degradation (fraction; positive = worse): (O − U)/|O| for a
   * higher-is-better metric, (U − O)/|O| for a lower-is-better one. 0 when O = U = 0; `null` when
   * only O is 0 (undefined).
   */
  readonly degradation: number | null;
}

/** Result of {@link taskInterference} / {@link instanceInterference}. */
export interface Interference {
  /**
   * 100 × the mean over (task, split) of the summary metric's degradation (% relative; positive =
   * worse). 0 when there are no tasks.
   */
  readonly summary: number;
  readonly terms: readonly InterferenceTerm[];
  readonly tasks: readonly string[];
  readonly splits: readonly SplitName[];
}

/** Options of {@link taskInterference} / {@link instanceInterference}. */
export interface InterferenceOptions {
  /** The summary metric of each task (default {@link PRIMARY_METRIC}). */
  readonly metric?: MetricSelector;
}

function interference(
  original: ModelEvaluation,
  unlearned: ModelEvaluation,
  tasksField: string,
  tasks: readonly string[],
  splits: readonly SplitName[],
  kinds: Readonly<Record<string, TaskKind>>,
  options: InterferenceOptions,
): Interference {
  checkTaskList(tasksField, tasks);
  const terms: InterferenceTerm[] = [];
  const summaryTerms: number[] = [];
  for (const task of tasks) {
    const kind = kindOf(kinds, task);
    const primaryMetric = selectMetric(options.metric, kind, task);
    for (const split of splits) {
      for (const def of METRICS[kind]) {
        const o = metricValue(original, 'original', split, task, def.name);
        const u = metricValue(unlearned, 'unlearned', split, task, def.name);
        const worse = def.better === 'higher' ? o - u : u - o;
        const degradation = worse === 0 ? 0 : o === 0 ? null : worse / Math.abs(o);
        const primary = def.name === primaryMetric;
        terms.push({
          task,
          split,
          metric: def.name,
          primary,
          original: o,
          unlearned: u,
          change: u - o,
          degradation,
        });
        if (primary) {
          if (degradation === null) {
            throw new ConfigError(
              `original.splits.${split}.${task}.values.${def.name}`,
              o,
              `interference: the original model's ${def.name} of task '${task}' on ${split} is 0, so its relative degradation is undefined (choose another summary metric)`,
            );
          }
          summaryTerms.push(degradation);
        }
      }
    }
  }
  return {
    summary: summaryTerms.length === 0 ? 0 : 100 * mean(summaryTerms),
    terms,
    tasks: [...tasks],
    splits: [...splits],
  };
}

/**
 * Task-level interference (DESIGN §5): how the unlearning changed the non-target tasks, on every
 * split (forget — their kept forget labels —, retain, test) and every metric of {@link METRICS}:
 *
 *   change = U − O,   d = (O − U)/|O| (higher-better) or (U − O)/|O| (lower-better), + = worse,
 *   summary = 100 · mean_{t ∈ T_n, s ∈ {forget, retain, test}} d_{t,s}(primary metric of t).
 *
 * Full-task requests (T_n = ∅) have no task-level interference by definition: summary 0, no terms.
 *
 * @param original - The original model.
 * @param unlearned - The unlearned model.
 * @param nonTargetTasks - T_n.
 * @param kinds - Task kind per task name.
 * @param options - The summary metric.
 * @returns {@link Interference}.
 * @throws {ConfigError} On a missing task or metric (named), or an original summary metric of 0
 *   that changed.
 *
 * @example
 * ```ts
 * const ti = taskInterference(original, unlearned, ['depth', 'normals'], kinds);
 * ti.summary; // e.g. 1.8: non-target primary metrics 1.8 % worse on average
 * ```
 */
export function taskInterference(
  original: ModelEvaluation,
  unlearned: ModelEvaluation,
  nonTargetTasks: readonly string[],
  kinds: Readonly<Record<string, TaskKind>>,
  options: InterferenceOptions = {},
): Interference {
  return interference(
    original,
    unlearned,
    'nonTargetTasks',
    nonTargetTasks,
    ALL_SPLITS,
    kinds,
    options,
  );
}

/**
 * Instance-level interference (DESIGN §5): how the unlearning changed the target tasks on the
 * retained instances (retain split), every metric of {@link METRICS}; same `change`, `d` and
 * `summary` (= 100 · mean_{t ∈ T_f} d_{t,retain}(primary)) as {@link taskInterference}.
 *
 * @param original - The original model.
 * @param unlearned - The unlearned model.
 * @param targetTasks - T_f.
 * @param kinds - Task kind per task name.
 * @param options - The summary metric.
 * @returns {@link Interference}.
 * @throws {ConfigError} On a missing task or metric (named), or an original summary metric of 0
 *   that changed.
 *
 * @example
 * ```ts
 * instanceInterference(original, unlearned, ['seg'], kinds).summary; // % drop of retain mIoU
 * ```
 */
export function instanceInterference(
  original: ModelEvaluation,
  unlearned: ModelEvaluation,
  targetTasks: readonly string[],
  kinds: Readonly<Record<string, TaskKind>>,
  options: InterferenceOptions = {},
): Interference {
  return interference(original, unlearned, 'targetTasks', targetTasks, ['retain'], kinds, options);
}
