/**
 * The benchmark's reports: aggregation over seeds, Markdown, CSV and self-contained HTML.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@mtu/core-tensors';
import type { CellOutcome, MethodInfo, ReportMeta } from '../types.js';
import { aggregate } from './aggregate.js';
import { csvReport } from './csv.js';
import { htmlReport } from './html.js';
import { markdownReport } from './markdown.js';

export {
  REPORT_SPLITS,
  aggregate,
  formatDuration,
  formatStat,
  groupLabel,
  reductionDetails,
  reductionLine,
  seedStat,
  uisReduction,
} from './aggregate.js';
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
} from './aggregate.js';
export { csvField, csvReport } from './csv.js';
export { escapeHtml, htmlReport } from './html.js';
export { markdownReport, markdownTable } from './markdown.js';

/**
 * What {@link writeReports} wrote.
 *
 * @example
 * ```ts
 * const { files } = await writeReports(dir, outcomes, methods, meta);
 * files.csv; // `${dir}/results.csv`
 * ```
 */
export interface WrittenReports {
  /** The Markdown report's text (for printing). */
  readonly markdown: string;
  /** The paths of the three files. */
  readonly files: { readonly markdown: string; readonly csv: string; readonly html: string };
}

/**
 * Aggregates `outcomes` and writes `report.md`, `results.csv` and `report.html` into `dir`
 * (created when missing), each atomically.
 *
 * @example
 * ```ts
 * const { markdown, files } = await writeReports('runs/smoke', outcomes, methods, meta);
 * files.html; // 'runs/smoke/report.html'
 * ```
 */
export async function writeReports(
  dir: string,
  outcomes: readonly CellOutcome[],
  methods: readonly MethodInfo[],
  meta: ReportMeta,
): Promise<WrittenReports> {
  const groups = aggregate(outcomes, methods);
  const markdown = markdownReport(groups, meta);
  const csv = csvReport(groups);
  const html = htmlReport(groups, meta);
  await mkdir(dir, { recursive: true });
  const files = {
    markdown: join(dir, 'report.md'),
    csv: join(dir, 'results.csv'),
    html: join(dir, 'report.html'),
  };
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.csv, csv);
  await writeFileAtomic(files.html, html);
  return { markdown, files };
}
