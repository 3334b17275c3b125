/**
 * The shapes the benchmark passes around: a cell's configuration, its outcome, and what the
 * reports need to know about each method.
 *
 * @module
 */
import type { ResultRecord } from '@mtu/metrics';

/**
 * Everything that determines one cell of a grid. A cell is a pure function of this (plus the cached
 * models it names), so cells can be spread over processes or machines unchanged.
 */
export interface CellSpec {
  /** Dataset id and raw options (resolved by the dataset's schema). */
  readonly dataset: { readonly id: string; readonly options: Readonly<Record<string, unknown>> };
  /** Training recipe of the original model and of the retrained reference (a partial TrainConfig). */
  readonly training: Readonly<Record<string, unknown>>;
  /** The forget request drawn for this cell: a ratio of the train split and the target tasks. */
  readonly request: { readonly ratio: number; readonly tasks: 'all' | readonly string[] };
  /** The unlearning method and its config (merged over the method's defaults). */
  readonly method: { readonly id: string; readonly config: Readonly<Record<string, unknown>> };
  /** Seed of the original model, the request, the retrained reference and the method. */
  readonly seed: number;
  /** Evaluation options: at most `retainSample` retain instances are evaluated (default all). */
  readonly evaluation: { readonly retainSample?: number };
}

/** Which part of the comparison a method plays. */
export type MethodRole = 'reference' | 'baseline' | 'ours' | 'ablation';

/** What the reports need to know about a method. */
export interface MethodInfo {
  readonly id: string;
  readonly displayName: string;
  readonly role: MethodRole;
}

/** How a cell ended. */
export type CellStatus = 'done' | 'not-applicable' | 'failed';

/** One cell's outcome, as the reports read it. */
export interface CellOutcome {
  /** The cell's directory name under the run directory (unique within a grid). */
  readonly id: string;
  readonly dataset: string;
  readonly setting: 'full-task' | 'partial-task';
  /** Target tasks (every task in full-task). */
  readonly targetTasks: readonly string[];
  readonly method: string;
  readonly seed: number;
  readonly status: CellStatus;
  /** The result record (status `'done'`), with the original's and the retrained reference's evaluations and MIA. */
  readonly record?: ResultRecord;
  /** Why the method does not apply, or the error (other statuses). */
  readonly reason?: string;
}

/** Context printed in the reports' headers. */
export interface ReportMeta {
  readonly title: string;
  /** Preset name or grid file. */
  readonly grid: string;
  readonly createdAt: string;
  readonly gitSha?: string;
  readonly backend: string;
  /** e.g. "2 × Intel Xeon …, Linux x64, Node v20.20.2". */
  readonly machine: string;
  /** Total wall time of the grid run in seconds, when known. */
  readonly seconds?: number;
}
