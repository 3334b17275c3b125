/**
 * The CSV report (RFC 4180): one row per (group, method), the union of every group's columns.
 *
 * @module
 */
import type { ReportGroup, ReportRow, SeedStat } from './aggregate.js';
import { REPORT_SPLITS } from './aggregate.js';

/**
 * Quotes a CSV field when it contains a comma, a double quote, CR or LF (quotes doubled).
 *
 * @example
 * ```ts
 * csvField('a,"b"'); // '"a,""b"""'
 * ```
 */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function num(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '' : String(v);
}

function stat(s: SeedStat | undefined): [string, string] {
  return [num(s?.mean), num(s?.std)];
}

/** A task-metric column family, e.g. `segmentation.mIoU`. */
interface TaskColumn {
  readonly task: string;
  readonly metric: string;
}

/**
 * The CSV report: a header, then one row per (group, row) with dataset, setting, targets
 * (`;`-separated), method, role, n, per task and split `<task>.<metric>.<split>.mean` / `.std`,
 * `mia_auc`, `uis`, `uis_r`, `seconds` (each `.mean` / `.std`), status and reason. Groups of
 * different datasets share one header (the union of their task columns; blank where a task does
 * not apply). Lines end with CRLF, as RFC 4180 specifies.
 *
 * @example
 * ```ts
 * await writeFile('results.csv', csvReport(aggregate(outcomes, methods)));
 * ```
 */
export function csvReport(groups: readonly ReportGroup[]): string {
  const columns: TaskColumn[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    for (const t of g.tasks) {
      const key = `${t.name}\u0000${t.metric}`;
      if (seen.has(key)) continue;
      seen.add(key);
      columns.push({ task: t.name, metric: t.metric });
    }
  }
  const header = ['dataset', 'setting', 'targets', 'method', 'role', 'n'];
  for (const c of columns) {
    for (const split of REPORT_SPLITS) {
      header.push(`${c.task}.${c.metric}.${split}.mean`, `${c.task}.${c.metric}.${split}.std`);
    }
  }
  for (const k of ['mia_auc', 'uis', 'uis_r', 'seconds']) header.push(`${k}.mean`, `${k}.std`);
  header.push('status', 'reason');

  const lines = [header.map(csvField).join(',')];
  for (const g of groups) {
    const has = new Set(g.tasks.map((t) => `${t.name}\u0000${t.metric}`));
    for (const row of g.rows) lines.push(csvRow(g, row, columns, has));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvRow(
  g: ReportGroup,
  row: ReportRow,
  columns: readonly TaskColumn[],
  has: ReadonlySet<string>,
): string {
  const fields = [g.dataset, g.setting, g.targetTasks.join(';'), row.id, row.role, String(row.n)];
  for (const c of columns) {
    const applies = has.has(`${c.task}\u0000${c.metric}`);
    for (const split of REPORT_SPLITS) {
      fields.push(...stat(applies ? row.metrics[c.task]?.[split] : undefined));
    }
  }
  fields.push(...stat(row.mia), ...stat(row.uis), ...stat(row.uisR), ...stat(row.seconds));
  fields.push(row.status, row.reason ?? '');
  return fields.map(csvField).join(',');
}
