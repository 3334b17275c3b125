/**
 * The Markdown report: a header with the run's context, a legend, one table per group in the
 * paper's layout (rows = methods; per task one "F / R / T" column of its primary metric; then MIA
 * AUC, UIS, UIS-R and time) and the UIS-reduction lines.
 *
 * @module
 */
import type { ReportMeta } from '../types.js';
import type { ReportGroup, ReportRow, ReportTask } from './aggregate.js';
import {
  DECIMALS,
  REPORT_SPLITS,
  formatDuration,
  formatStat,
  reductionDetails,
  reductionLine,
  secondsDigits,
  statusText,
  uisReduction,
} from './aggregate.js';

/**
 * Escapes text for a Markdown table cell: newlines, pipes, and only what a renderer would take for
 * HTML (a `<` opening a tag, an `&` opening an entity), so `δ<1.25` stays readable in a terminal.
 */
function cell(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/&(?=#?\w+;)/g, '&amp;')
    .replace(/<(?=[A-Za-z/!?])/g, '&lt;')
    .replace(/\|/g, '\\|');
}

function arrow(task: ReportTask): string {
  return task.better === 'higher' ? '↑' : '↓';
}

function taskHeader(group: ReportGroup, task: ReportTask): string {
  const target = group.setting === 'partial-task' && task.target ? ' (target)' : '';
  return cell(`${task.name}${target} ${task.label}${arrow(task)} F / R / T`);
}

function rowName(row: ReportRow): string {
  const name = cell(row.displayName);
  return row.role === 'ours' ? `**${name}**` : name;
}

function rowCells(group: ReportGroup, row: ReportRow): string[] {
  const name = rowName(row);
  const width = group.tasks.length + 4;
  if (row.status !== 'done') {
    const rest = Array.from({ length: width }, (_, i) => (i === 0 ? cell(statusText(row)) : ''));
    return [name, String(row.n), ...rest];
  }
  const tasks = group.tasks.map((t) =>
    REPORT_SPLITS.map((s) => formatStat(row.metrics[t.name]?.[s], DECIMALS.metric)).join(' / '),
  );
  const seconds =
    row.seconds === undefined ? '–' : formatStat(row.seconds, secondsDigits(row.seconds.mean));
  return [
    name,
    String(row.n),
    ...tasks,
    formatStat(row.mia, DECIMALS.mia),
    formatStat(row.uis, DECIMALS.uis),
    formatStat(row.uisR, DECIMALS.uis),
    seconds,
  ];
}

function line(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/**
 * The Markdown table of one group (header, alignment row, one row per report row), without a
 * heading.
 *
 * @example
 * ```ts
 * markdownTable(aggregate(outcomes, methods)[0]!).split('\n')[0];
 * // '| Method | n | segmentation mIoU↑ F / R / T | … | MIA AUC | UIS↓ | UIS-R↓ | Time (s) |'
 * ```
 */
export function markdownTable(group: ReportGroup): string {
  const header = [
    'Method',
    'n',
    ...group.tasks.map((t) => taskHeader(group, t)),
    'MIA AUC',
    'UIS↓',
    'UIS-R↓',
    'Time (s)',
  ];
  const align = header.map((_, i) => (i === 0 ? ':---' : '---:'));
  return [line(header), line(align), ...group.rows.map((r) => line(rowCells(group, r)))].join('\n');
}

function groupHeading(group: ReportGroup): string {
  const targets =
    group.setting === 'full-task'
      ? 'all tasks'
      : `${group.targetTasks.join(', ')}; kept: ${group.nonTargetTasks.join(', ') || '–'}`;
  const seeds = group.seeds.length === 1 ? 'seed' : 'seeds';
  return cell(
    `${group.dataset} — ${group.setting} (forget: ${targets}; ${seeds} ${group.seeds.join(', ')})`,
  );
}

/**
 * The whole Markdown report: header (title, grid, creation time, git SHA, backend, machine, total
 * time), legend, one table per group with notes on partially failed methods, and the UIS
 * reduction of our method vs the strongest baseline (headline and per group).
 *
 * @example
 * ```ts
 * const md = markdownReport(aggregate(outcomes, methods), {
 *   title: 'MTU benchmark', grid: 'smoke', createdAt: new Date().toISOString(),
 *   backend: 'wasm', machine: 'Linux x64, Node v20', seconds: 812.5,
 * });
 * ```
 */
export function markdownReport(groups: readonly ReportGroup[], meta: ReportMeta): string {
  const out: string[] = [];
  out.push(`# ${cell(meta.title)}`, '');
  out.push(
    `- Grid: ${cell(meta.grid)}`,
    `- Created: ${cell(meta.createdAt)}`,
    `- Git SHA: ${meta.gitSha === undefined ? 'unknown' : `\`${meta.gitSha.replace(/`/g, '')}\``}`,
    `- Backend: ${cell(meta.backend)}`,
    `- Machine: ${cell(meta.machine)}`,
    `- Total time: ${formatDuration(meta.seconds)}`,
    '',
  );

  const metricNames = new Map<string, string>();
  for (const g of groups) {
    for (const t of g.tasks) {
      metricNames.set(`${t.label}${t.better === 'higher' ? '↑' : '↓'}`, t.kind);
    }
  }
  const metrics = [...metricNames].map(([label, kind]) => `${label} (${kind})`).join(', ');
  out.push(
    '## Legend',
    '',
    '- Each cell is the mean over seeds, `mean±std` (sample standard deviation) when n > 1; `–` = not available.',
    '- F / R / T = the forget / retain / test split; each task shows its primary metric' +
      (metrics === '' ? '.' : `: ${metrics}.`) +
      ' ↑ = higher is better, ↓ = lower is better.',
    '- UIS (%, lower is better) is measured vs the original model; UIS-R vs the retrained model. ' +
      "The original row's UIS is its own memorisation gap; the reference row's UIS-R is 0.",
    '- MIA AUC: loss-based membership inference on the forget vs the test split (combined over ' +
      'the target tasks); compare with the retrain (reference) row — matching it is ideal.',
    '- Time: wall seconds of the unlearning run; for the reference row, the retraining time.',
    '- **Bold**: our method.',
    '',
  );

  for (const group of groups) {
    out.push(`## ${groupHeading(group)}`, '', markdownTable(group), '');
    const notes = group.rows.filter((r) => r.status === 'done' && r.reason !== undefined);
    if (notes.length > 0) {
      for (const r of notes) out.push(`- ${cell(r.displayName)}: ${cell(r.reason ?? '')}`);
      out.push('');
    }
  }

  const summary = uisReduction(groups);
  out.push('## UIS reduction', '', cell(reductionLine(summary)), '');
  for (const d of reductionDetails(summary)) out.push(`- ${cell(d)}`);
  out.push('');
  return out.join('\n');
}
