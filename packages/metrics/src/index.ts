/**
 * `@mtu/metrics`: evaluation of multi-task unlearning.
 *
 * @packageDocumentation
 */
export { EmptySplitError, METRICS, PRIMARY_METRIC, metricDefinition } from './definitions.js';
export type {
  Direction,
  MetricDefinition,
  ModelEvaluation,
  SplitName,
  TaskMetrics,
} from './definitions.js';
