/**
 * Output of `mtu`: plain-text tables and lines on stdout, JSON with `--json`, and number formats.
 * Messages for people (backend, progress, warnings) go to stderr (see `context.ts`).
 *
 * @module
 */

/** Writes a line to stdout. */
export function println(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a value as pretty JSON to stdout (the whole output of a `--json` command). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A plain-text table: a header row, a rule, then the rows; columns padded to their widest cell,
 * every line prefixed with `indent`.
 *
 * @example
 * ```ts
 * table(['id', 'tasks'], [['scenes', 'segmentation, depth, normals']], '  ');
 * ```
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  indent = '',
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
      .replace(/^/, indent);
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A metric value with 4 significant decimals, `–` when absent or not finite. */
export function fmt(value: number | undefined, digits = 4): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

/** Seconds as `12.3 s`. */
export function fmtSeconds(seconds: number): string {
  return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
}

/** A value for a help or listing cell: strings bare, the rest as JSON, `undefined` as `–`. */
export function show(value: unknown): string {
  if (value === undefined) return '–';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** An integer with thousands separators: `1,234,567`. */
export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}
