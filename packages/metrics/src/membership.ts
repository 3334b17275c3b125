/**
 * Membership inference against a model: per-instance task losses as the membership score, ROC-AUC
 * of forget vs test, and MIA-efficacy of an attacker fitted on retain (members) vs test
 * (non-members) and applied to the forget set.
 *
 * @module
 */
import { ConfigError, createRng, tf } from '@mtu/core-tensors';
import type { Dataset, ForgetRequest, RequestViews } from '@mtu/datasets';
import { disposeBatch, getTask, iterateBatches } from '@mtu/datasets';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { instanceLosses } from '@mtu/multitask-model';
import { retainSubset, viewsOf } from './evaluate.js';
import { attackAccuracy, fitAttacker, miaEfficacy, rocAuc } from './mia.js';

/** Per-instance losses of one task (`NaN` where the instance has no valid label for the task). */
export type InstanceLossTable = Readonly<Record<string, Float64Array>>;

/**
 * Each instance's loss per task (the mean over its valid pixels, as in training), `NaN` where the
 * instance has no valid label. Shapes: one `Float64Array` of length `ids.length` per task.
 *
 * @example
 * ```ts
 * const losses = instanceLossTable(model, ds, views.forget, ['depth']);
 * losses.depth[0]; // L1 of the first forget instance
 * ```
 */
export function instanceLossTable(
  model: MultiTaskModel,
  dataset: Dataset,
  ids: Int32Array,
  tasks: readonly string[],
  batchSize = 32,
): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const t of tasks) out[t] = new Float64Array(ids.length);
  let offset = 0;
  for (const batch of iterateBatches(dataset, ids, { batchSize })) {
    try {
      const pred = model.predict(batch.x, tasks);
      try {
        for (const t of tasks) {
          const { loss, count } = instanceLosses(getTask(dataset, t), pred[t]!, batch.labels[t]!);
          const l = loss.dataSync();
          const c = count.dataSync();
          tf.dispose([loss, count]);
          for (let i = 0; i < l.length; i++) out[t]![offset + i] = c[i]! > 0 ? l[i]! : NaN;
        }
      } finally {
        tf.dispose(pred);
      }
      offset += batch.ids.length;
    } finally {
      disposeBatch(batch);
    }
  }
  return out;
}

/** One attack's outcome. */
export interface MiaScore {
  /**
   * ROC-AUC of forget (positives) vs test (negatives) with score −loss: ≈ 1 when the forget
   * instances still look like training members, ≈ 0.5 when they look like unseen data.
   */
  readonly auc: number;
  /** Fraction of forget instances the attacker calls non-members (SalUn's MIA-efficacy). */
  readonly efficacy: number;
  /** The attacker's balanced accuracy on its fitting data (retain vs test). */
  readonly attackerAccuracy: number;
}

/** What {@link membershipInference} returns. */
export interface MiaResult {
  /** Per task (target tasks, and in partial-task the non-target ones): score = that task's loss. */
  readonly perTask: Readonly<Record<string, MiaScore>>;
  /**
   * All target tasks at once: score = Σ_t ℓ_t / mean test loss of t (each task's loss normalised by
   * its mean on the test split), attacker features = the normalised per-task losses.
   */
  readonly combined: MiaScore;
  readonly attacker: 'threshold' | 'logistic';
  /** Instances used: forget, retain (members for the attacker), test. */
  readonly sizes: { readonly forget: number; readonly retain: number; readonly test: number };
}

/** Options of {@link membershipInference}. */
export interface MembershipOptions {
  /** The attacker (default `'logistic'`; `'threshold'` is a 1-D best-threshold rule). */
  readonly attacker?: 'threshold' | 'logistic';
  /** At most this many retain instances (seeded subsample, the same as `evaluate`'s). */
  readonly retainSample?: number;
  /** Seed of the subsample and of class balancing (default 0). */
  readonly seed?: number;
  readonly batchSize?: number;
}

function finite(values: Float64Array): number[] {
  return Array.from(values).filter((v) => Number.isFinite(v));
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Loss-based membership inference on a forget request (DESIGN §5, baselines §3.3): ROC-AUC of
 * forget vs test and MIA-efficacy of an attacker fitted on retain (members) vs test (non-members)
 * and applied to forget, per task and combined. Compare every number with the retrained model's:
 * an exact unlearner is not at 0.5 / 100%, it is where retraining is.
 *
 * @example
 * ```ts
 * const mia = membershipInference(model, ds, request, { retainSample: 512 });
 * mia.combined.auc; // e.g. 0.83 for the original model, lower after unlearning
 * ```
 */
export function membershipInference(
  model: MultiTaskModel,
  dataset: Dataset,
  request: ForgetRequest | RequestViews,
  options: MembershipOptions = {},
): MiaResult {
  const views = viewsOf(dataset, request);
  const kind = options.attacker ?? 'logistic';
  const seed = options.seed ?? 0;
  const tasks = [...views.targetTasks, ...views.nonTargetTasks].filter((t) =>
    model.tasks.includes(t),
  );
  const retain = retainSubset(views.retain, options.retainSample, seed);
  const forgetL = instanceLossTable(model, dataset, views.forget, tasks, options.batchSize);
  const retainL = instanceLossTable(model, dataset, retain, tasks, options.batchSize);
  const testL = instanceLossTable(model, dataset, views.test, tasks, options.batchSize);
  const rng = createRng(seed).fork('mia');

  const score = (f: number[], r: number[], t: number[]): MiaScore => {
    const neg = (xs: number[]): number[] => xs.map((x) => -x);
    const attacker = fitAttacker(neg(r), neg(t), { kind, rng: rng.fork(`attacker-${kind}`) });
    return {
      auc: rocAuc(neg(f), neg(t)),
      efficacy: miaEfficacy(attacker, neg(f)),
      attackerAccuracy: attackAccuracy(attacker, neg(r), neg(t)).balancedAccuracy,
    };
  };

  const perTask: Record<string, MiaScore> = {};
  for (const t of tasks) {
    const f = finite(forgetL[t]!);
    const r = finite(retainL[t]!);
    const te = finite(testL[t]!);
    if (f.length === 0 || r.length === 0 || te.length === 0) {
      throw new ConfigError('task', t, 'has no valid label on the forget, retain or test split');
    }
    perTask[t] = score(f, r, te);
  }

  // Combined: target tasks' losses, each normalised by its mean test loss.
  const target = views.targetTasks.filter((t) => model.tasks.includes(t));
  const norms = target.map((t) => mean(finite(testL[t]!)) || 1);
  const rows = (table: Record<string, Float64Array>, n: number): number[][] => {
    const out: number[][] = [];
    for (let i = 0; i < n; i++) {
      const row = target.map((t, k) => table[t]![i]! / norms[k]!);
      if (row.every(Number.isFinite)) out.push(row);
    }
    return out;
  };
  const fRows = rows(forgetL, views.forget.length);
  const rRows = rows(retainL, retain.length);
  const tRows = rows(testL, views.test.length);
  const sum = (rs: number[][]): number[] => rs.map((r) => -r.reduce((a, b) => a + b, 0));
  const neg = (rs: number[][]): number[][] => rs.map((r) => r.map((x) => -x));
  const features =
    kind === 'threshold'
      ? { f: sum(fRows), r: sum(rRows), t: sum(tRows) }
      : { f: neg(fRows), r: neg(rRows), t: neg(tRows) };
  const attacker = fitAttacker(features.r, features.t, { kind, rng: rng.fork('combined') });
  const combined: MiaScore = {
    auc: rocAuc(sum(fRows), sum(tRows)),
    efficacy: miaEfficacy(attacker, features.f),
    attackerAccuracy: attackAccuracy(attacker, features.r, features.t).balancedAccuracy,
  };
  return {
    perTask,
    combined,
    attacker: kind,
    sizes: { forget: views.forget.length, retain: retain.length, test: views.test.length },
  };
}
