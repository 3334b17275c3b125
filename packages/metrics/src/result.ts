/**
 * The result record: everything one unlearning run produced, as versioned JSON, so the apps can
 * store, reload and compare results without re-deriving keys.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { CheckpointError, ConfigError, writeFileAtomic } from '@mtu/core-tensors';
import type { TaskKind } from '@mtu/datasets';
import type { ModelEvaluation } from './definitions.js';
import type { MiaResult } from './membership.js';
import type { AverageGap, DeltaM, Interference, UisResult } from './scores.js';
import {
  averageGap,
  deltaMFromEvaluations,
  instanceInterference,
  taskInterference,
  unlearningImpactScore,
} from './scores.js';

/** The schema marker of result files. */
export const RESULT_SCHEMA = 'mtu-result';
/** The result version this build writes and reads. */
export const RESULT_VERSION = 1;

/** The cost of a run. */
export interface RunCost {
  /** Wall time of the unlearning run itself (s). */
  readonly seconds: number;
  /** Forward+backward passes, counted in instances (a batch of 16 counts 16). */
  readonly gradientEvaluations: number;
  /** Peak backend memory (bytes) when the backend reports it, else the process RSS peak. */
  readonly peakBytes?: number;
  /** Wall time of retraining from scratch on the same data (s), when known. */
  readonly retrainSeconds?: number;
  /** `seconds / retrainSeconds`, when known. */
  readonly ratioToRetrain?: number;
}

/** Where and how a result was produced. */
export interface Provenance {
  readonly backend: string;
  readonly threads: number;
  readonly seed: number;
  /** Package versions, e.g. `{ '@mtu/metrics': '0.1.0', '@tensorflow/tfjs': '4.22.0' }`. */
  readonly versions: Readonly<Record<string, string>>;
  readonly gitSha?: string;
  readonly node: string;
  readonly platform: string;
  /** ISO 8601 time the record was made. */
  readonly createdAt: string;
}

/** The scores derived from the evaluations (see `scores.ts` for every formula). */
export interface DerivedScores {
  /** OrthoGrad UIS against the original model (lower is better). */
  readonly uis?: UisResult;
  /** UIS against the retrained model (UIS-R). */
  readonly uisR?: UisResult;
  /** Average gap to the retrained model (forget / retain / test, primary metrics, MIA AUC). */
  readonly avgGap?: AverageGap;
  /** Δm of the unlearned vs the retrained model on the test split, in both conventions. */
  readonly deltaM?: { readonly maninis: DeltaM; readonly libmtl: DeltaM };
  /** Task-level (non-target tasks, all splits) and instance-level (target tasks, retain) interference vs the original. */
  readonly interference?: { readonly task: Interference; readonly instance: Interference };
}

/** One unlearning run's result (JSON-serialisable). */
export interface ResultRecord {
  readonly schema: typeof RESULT_SCHEMA;
  readonly version: typeof RESULT_VERSION;
  readonly dataset: { readonly id: string; readonly options: Readonly<Record<string, unknown>> };
  /** The normalised request. */
  readonly request: { readonly instances: readonly number[]; readonly tasks: readonly string[] };
  readonly setting: 'full-task' | 'partial-task';
  readonly targetTasks: readonly string[];
  readonly nonTargetTasks: readonly string[];
  /** Task kinds by name (so scores can be recomputed from the record alone). */
  readonly kinds: Readonly<Record<string, TaskKind>>;
  readonly method: { readonly id: string; readonly config: Readonly<Record<string, unknown>> };
  /** Metrics of each model on the request's splits; `unlearned` always, the others when run. */
  readonly evaluations: {
    readonly unlearned: ModelEvaluation;
    readonly original?: ModelEvaluation;
    readonly retrained?: ModelEvaluation;
  };
  readonly mia: {
    readonly unlearned?: MiaResult;
    readonly original?: MiaResult;
    readonly retrained?: MiaResult;
  };
  readonly scores: DerivedScores;
  readonly cost: RunCost;
  readonly provenance: Provenance;
}

/** Everything {@link createResultRecord} needs; the scores are derived. */
export type ResultInput = Omit<ResultRecord, 'schema' | 'version' | 'scores'>;

/**
 * Builds a result record and derives every score the available evaluations allow: UIS (needs the
 * original), UIS-R, Avg. Gap and Δm (need the retrained model), interference (needs the original).
 *
 * @example
 * ```ts
 * const record = createResultRecord({ dataset, request, setting, targetTasks, nonTargetTasks, kinds,
 *   method: { id: 'interference-aware', config }, evaluations: { unlearned, original, retrained },
 *   mia: { unlearned: miaU, retrained: miaR }, cost, provenance });
 * record.scores.uis?.value; // e.g. 9.1
 * ```
 */
export function createResultRecord(input: ResultInput): ResultRecord {
  const { evaluations, kinds } = input;
  const request = { targetTasks: input.targetTasks, nonTargetTasks: input.nonTargetTasks };
  const scores: {
    -readonly [K in keyof DerivedScores]: DerivedScores[K];
  } = {};
  if (evaluations.original !== undefined) {
    scores.uis = unlearningImpactScore(
      evaluations.original,
      evaluations.unlearned,
      request,
      kinds,
      {
        variant: 'UIS',
      },
    );
    scores.interference = {
      task: taskInterference(
        evaluations.original,
        evaluations.unlearned,
        input.nonTargetTasks,
        kinds,
      ),
      instance: instanceInterference(
        evaluations.original,
        evaluations.unlearned,
        input.targetTasks,
        kinds,
      ),
    };
  }
  if (evaluations.retrained !== undefined) {
    scores.uisR = unlearningImpactScore(
      evaluations.retrained,
      evaluations.unlearned,
      request,
      kinds,
      {
        variant: 'UIS-R',
      },
    );
    const mia =
      input.mia.unlearned !== undefined && input.mia.retrained !== undefined
        ? [
            {
              name: 'MIA AUC',
              unlearned: input.mia.unlearned.combined.auc,
              retrained: input.mia.retrained.combined.auc,
            },
          ]
        : undefined;
    scores.avgGap = averageGap(
      evaluations.unlearned,
      evaluations.retrained,
      kinds,
      mia === undefined ? {} : { mia },
    );
    scores.deltaM = {
      maninis: deltaMFromEvaluations(
        evaluations.unlearned,
        evaluations.retrained,
        'test',
        kinds,
        'maninis',
      ),
      libmtl: deltaMFromEvaluations(
        evaluations.unlearned,
        evaluations.retrained,
        'test',
        kinds,
        'libmtl',
      ),
    };
  }
  return { schema: RESULT_SCHEMA, version: RESULT_VERSION, ...input, scores };
}

/**
 * Checks a parsed JSON value is a result record of this version (schema marker, version, and the
 * fields every consumer reads). Throws a {@link ConfigError} naming the field.
 */
export function validateResultRecord(value: unknown): ResultRecord {
  if (typeof value !== 'object' || value === null)
    throw new ConfigError('result', value, 'must be an object');
  const r = value as Record<string, unknown>;
  if (r['schema'] !== RESULT_SCHEMA)
    throw new ConfigError('result.schema', r['schema'], `must be '${RESULT_SCHEMA}'`);
  if (r['version'] !== RESULT_VERSION) {
    throw new ConfigError(
      'result.version',
      r['version'],
      `this build reads version ${RESULT_VERSION}`,
    );
  }
  for (const field of [
    'dataset',
    'request',
    'kinds',
    'method',
    'evaluations',
    'mia',
    'scores',
    'cost',
    'provenance',
  ]) {
    if (typeof r[field] !== 'object' || r[field] === null) {
      throw new ConfigError(`result.${field}`, r[field], 'is missing');
    }
  }
  const ev = r['evaluations'] as Record<string, unknown>;
  if (typeof ev['unlearned'] !== 'object' || ev['unlearned'] === null) {
    throw new ConfigError('result.evaluations.unlearned', ev['unlearned'], 'is missing');
  }
  return value as ResultRecord;
}

/**
 * Writes a record as pretty JSON, atomically (a crash leaves the previous file intact).
 *
 * @example
 * ```ts
 * await writeResultRecord('runs/cell-01/result.json', record);
 * ```
 */
export async function writeResultRecord(path: string, record: ResultRecord): Promise<void> {
  validateResultRecord(record);
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}

/**
 * Reads and validates a record. A missing or unparsable file is a {@link CheckpointError} naming
 * the file; a record of another schema or version is refused.
 *
 * @example
 * ```ts
 * const record = await readResultRecord('runs/cell-01/result.json');
 * ```
 */
export async function readResultRecord(path: string): Promise<ResultRecord> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CheckpointError(path, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(path, `not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    return validateResultRecord(json);
  } catch (error) {
    throw new CheckpointError(path, (error as Error).message, { cause: error });
  }
}
