/**
 * `@mtu/bench`: the library behind `mtu-bench` (and the pieces `mtu` shares with it): registries
 * with every built-in dataset and method, provenance, model summaries and result records, grids and
 * presets, the content-hashed model cache, cells, the resumable runner, and the reports.
 *
 * @packageDocumentation
 */
export {
  buildRecord,
  codeFingerprints,
  collectProvenance,
  createRegistries,
  gitSha,
  packageVersions,
  sourceFingerprint,
  summarizeModel,
} from './pipeline.js';
export type { ModelSummary, RecordInput, Registries, SummaryOptions } from './pipeline.js';
export type {
  CellOutcome,
  CellSpec,
  CellStatus,
  MethodInfo,
  MethodRole,
  ReportMeta,
} from './types.js';
export { expandGrid, gridSchema, methodRole, parseGrid, readGrid } from './grid.js';
export type { Cell, Grid, GridInput, Plan } from './grid.js';
export { PRESETS } from './presets.js';
export {
  CACHE_FORMAT,
  CELL_FILES,
  canonicalJson,
  cellKeys,
  contentHash,
  modelPath,
  referencePath,
  originalModel,
  referenceEntry,
  runCell,
  storedOutcome,
} from './cell.js';
export type {
  CellContext,
  CellEvent,
  CellKeys,
  CellResult,
  OutcomeFile,
  ReferenceEntry,
} from './cell.js';
export { runTask } from './tasks.js';
export type { Task, TaskResult, TaskRuntime } from './tasks.js';
export { createProgress } from './progress.js';
export type { Progress, ProgressOptions } from './progress.js';
export { runPlan } from './runner.js';
export type { RunEvent, RunOptions } from './runner.js';
export { main } from './main.js';
export {
  REPORT_SPLITS,
  aggregate,
  csvField,
  csvReport,
  escapeHtml,
  formatDuration,
  formatStat,
  groupLabel,
  htmlReport,
  markdownReport,
  markdownTable,
  reductionDetails,
  reductionLine,
  seedStat,
  uisReduction,
  writeReports,
} from './report/index.js';
export type {
  GroupReduction,
  ReportGroup,
  ReportRole,
  ReportRow,
  ReportRowKind,
  ReportTask,
  SeedStat,
  TaskSplitStats,
  UisReductionSummary,
  WrittenReports,
} from './report/index.js';
