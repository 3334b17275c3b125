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
export { createAccumulator } from './accumulators.js';
export type { MetricAccumulator } from './accumulators.js';
export { evaluate, retainSubset, viewsOf } from './evaluate.js';
export type { EvaluateOptions, EvaluateProgress } from './evaluate.js';
export { instanceLossTable, membershipInference } from './membership.js';
export type { InstanceLossTable, MembershipOptions, MiaResult, MiaScore } from './membership.js';
export { LOGISTIC_RIDGE, attackAccuracy, fitAttacker, miaEfficacy, rocAuc } from './mia.js';
export type {
  AttackAccuracy,
  AttackFeatures,
  Attacker,
  AttackerDescription,
  AttackerKind,
  AttackerWeighting,
  FitAttackerOptions,
  LogisticAttackerDescription,
  ThresholdAttackerDescription,
} from './mia.js';
export {
  averageGap,
  deltaM,
  deltaMFromEvaluations,
  instanceInterference,
  taskInterference,
  uisNonTarget,
  uisTarget,
  unlearningImpactScore,
} from './scores.js';
export type {
  AverageGap,
  AverageGapOptions,
  DeltaM,
  DeltaMConvention,
  DeltaMFromEvaluationsOptions,
  GapTerm,
  Interference,
  InterferenceOptions,
  InterferenceTerm,
  MetricSelector,
  MiaGapInput,
  UisOptions,
  UisRequest,
  UisResult,
  UisVariant,
} from './scores.js';
export {
  RESULT_SCHEMA,
  RESULT_VERSION,
  createResultRecord,
  readResultRecord,
  validateResultRecord,
  writeResultRecord,
} from './result.js';
export type { DerivedScores, Provenance, ResultInput, ResultRecord, RunCost } from './result.js';
