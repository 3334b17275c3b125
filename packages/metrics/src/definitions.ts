/**
 * The metrics of each task kind, as data: name, direction, whether it is the kind's primary
 * (higher-is-better) metric used by UIS, and a one-line definition.
 *
 * @module
 */
import { MtuError } from '@mtu/core-tensors';
import type { TaskKind } from '@mtu/datasets';

/** Whether a larger value of a metric is better or worse. */
export type Direction = 'higher' | 'lower';

/** One metric of a task kind. */
export interface MetricDefinition {
  /** Stable key in {@link TaskMetrics.values}, e.g. `'mIoU'`. */
  readonly name: string;
  readonly better: Direction;
  /** A short label for tables, e.g. `'mIoU'`, `'δ<1.25'`. */
  readonly label: string;
  /** One line: the formula and its source convention. */
  readonly description: string;
}

/** The metrics of one task on one split. */
export interface TaskMetrics {
  readonly kind: TaskKind;
  /** Number of valid labels the values aggregate: instances (classification) or pixels. */
  readonly count: number;
  /** Metric values by {@link MetricDefinition.name}. */
  readonly values: Readonly<Record<string, number>>;
  /**
   * Segmentation only: IoU per class, `null` for a class absent from both the labels and the
   * predictions of the split (0/0).
   */
  readonly perClassIoU?: readonly (number | null)[];
}

/** The metric definitions of every task kind, in table order. */
export const METRICS: Readonly<Record<TaskKind, readonly MetricDefinition[]>> = Object.freeze({
  classification: [
    {
      name: 'accuracy',
      better: 'higher',
      label: 'Acc',
      description: 'fraction of labelled instances whose arg-max class equals the label',
    },
  ],
  segmentation: [
    {
      name: 'mIoU',
      better: 'higher',
      label: 'mIoU',
      description:
        'mean over classes with a non-zero union of IoU_c = H_cc / (Σ_p H_cp + Σ_g H_gc − H_cc), H the confusion matrix accumulated over all valid pixels of the split (MTAN since Nov 2020)',
    },
    {
      name: 'pixelAccuracy',
      better: 'higher',
      label: 'PixAcc',
      description: 'Σ_c H_cc / Σ H over all valid pixels of the split',
    },
  ],
  depth: [
    {
      name: 'absErr',
      better: 'lower',
      label: 'AbsErr',
      description: 'mean |p − g| over all valid pixels (g > 0) of the split (LibMTL pooling)',
    },
    {
      name: 'relErr',
      better: 'lower',
      label: 'RelErr',
      description: 'mean |p − g| / g over all valid pixels of the split',
    },
    {
      name: 'delta1',
      better: 'higher',
      label: 'δ<1.25',
      description: 'fraction of valid pixels with max(p/g, g/p) < 1.25, p clamped to ≥ 1e-6',
    },
    {
      name: 'delta2',
      better: 'higher',
      label: 'δ<1.25²',
      description: 'fraction of valid pixels with max(p/g, g/p) < 1.25²',
    },
    {
      name: 'delta3',
      better: 'higher',
      label: 'δ<1.25³',
      description: 'fraction of valid pixels with max(p/g, g/p) < 1.25³',
    },
  ],
  normals: [
    {
      name: 'meanAngle',
      better: 'lower',
      label: 'Mean°',
      description:
        'mean over valid pixels (g ≠ 0) of the angle arccos(clamp(⟨p/‖p‖, g⟩, −1, 1)) in degrees, pooled over the split',
    },
    {
      name: 'medianAngle',
      better: 'lower',
      label: 'Median°',
      description: 'median of the same angles (0.001°-bin histogram: within 0.0005° of exact)',
    },
    {
      name: 'within11_25',
      better: 'higher',
      label: '<11.25°',
      description: 'fraction of valid pixels with angle < 11.25°',
    },
    {
      name: 'within22_5',
      better: 'higher',
      label: '<22.5°',
      description: 'fraction of valid pixels with angle < 22.5°',
    },
    {
      name: 'within30',
      better: 'higher',
      label: '<30°',
      description: 'fraction of valid pixels with angle < 30°',
    },
  ],
});

/**
 * The primary higher-is-better metric of each kind (the `A` of UIS): accuracy, mIoU, δ<1.25 and
 * % within 30°.
 */
export const PRIMARY_METRIC: Readonly<Record<TaskKind, string>> = Object.freeze({
  classification: 'accuracy',
  segmentation: 'mIoU',
  depth: 'delta1',
  normals: 'within30',
});

/**
 * The definition of metric `name` of a kind, or `undefined`.
 *
 * @example
 * ```ts
 * metricDefinition('depth', 'absErr')?.better; // 'lower'
 * ```
 */
export function metricDefinition(kind: TaskKind, name: string): MetricDefinition | undefined {
  return METRICS[kind].find((m) => m.name === name);
}

/** The splits a model is evaluated on. */
export type SplitName = 'forget' | 'retain' | 'test';

/** Every split's metrics of one model for one forget request. */
export interface ModelEvaluation {
  /**
   * Metrics per split and task name. `forget` holds every task: the target tasks (the forget
   * signal) and, in partial-task unlearning, the non-target tasks (whose forget labels were kept).
   */
  readonly splits: Readonly<Record<SplitName, Readonly<Record<string, TaskMetrics>>>>;
  /** Instances per split; `retainEvaluated` < `retain` when retain was subsampled. */
  readonly sizes: {
    readonly forget: number;
    readonly retain: number;
    readonly retainEvaluated: number;
    readonly test: number;
  };
}

/** Thrown when a split (or a task within it) has nothing to evaluate. */
export class EmptySplitError extends MtuError {
  /** What was empty, e.g. `'forget split, task depth'`. */
  readonly what: string;
  constructor(what: string) {
    super('E_EMPTY', `${what}: nothing to evaluate (no instance with a valid label)`);
    this.what = what;
  }
}
