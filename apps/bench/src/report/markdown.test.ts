import { describe, expect, it } from 'vitest';
import type { ReportMeta } from '../types.js';
import { SAMPLE_METHODS, sampleOutcomes } from './__fixtures__/outcomes.js';
import { aggregate } from './aggregate.js';
import { markdownReport, markdownTable } from './markdown.js';

const META: ReportMeta = {
  title: 'MTU benchmark (test)',
  grid: 'smoke',
  createdAt: '2026-01-02T03:04:05.000Z',
  gitSha: 'abc1234',
  backend: 'wasm (2 threads)',
  machine: 'Linux x64, Node v20',
  seconds: 3725.4,
};

/** Cells of a Markdown table line, splitting on unescaped pipes. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

describe('markdownReport', () => {
  const groups = aggregate(sampleOutcomes(), SAMPLE_METHODS);
  const md = markdownReport(groups, META);

  it('has the header and the legend', () => {
    expect(md.startsWith('# MTU benchmark (test)\n')).toBe(true);
    expect(md).toContain('- Grid: smoke');
    expect(md).toContain('- Created: 2026-01-02T03:04:05.000Z');
    expect(md).toContain('- Git SHA: `abc1234`');
    expect(md).toContain('- Backend: wasm (2 threads)');
    expect(md).toContain('- Machine: Linux x64, Node v20');
    expect(md).toContain('- Total time: 3725.4 s (1 h 02 min)');
    expect(md).toContain('F / R / T = the forget / retain / test split');
    expect(md).toContain('mIoU↑ (segmentation)');
    expect(md).toContain('δ<1.25↑ (depth)');
    expect(md).toContain('UIS-R vs the retrained model');
  });

  it('has one table per group, every row with the header’s number of columns', () => {
    const tables = md.split('\n\n').filter((block) => block.startsWith('| Method'));
    expect(tables).toHaveLength(groups.length);
    for (const [i, table] of tables.entries()) {
      const lines = table.split('\n');
      const width = cells(lines[0]!).length;
      expect(width).toBe(2 + groups[i]!.tasks.length + 4);
      expect(lines).toHaveLength(2 + groups[i]!.rows.length);
      for (const l of lines) expect(cells(l)).toHaveLength(width);
    }
  });

  it('formats cells as F / R / T with mean±std, and marks n/a and failed rows', () => {
    const table = markdownTable(groups[0]!);
    const lines = table.split('\n');
    expect(cells(lines[0]!)).toEqual([
      'Method',
      'n',
      'segmentation mIoU↑ F / R / T',
      'depth δ<1.25↑ F / R / T',
      'MIA AUC',
      'UIS↓',
      'UIS-R↓',
      'Time (s)',
    ]);
    const original = cells(lines[2]!);
    expect(original[0]).toBe('original');
    expect(original[1]).toBe('2');
    expect(original[2]).toBe('0.800±0.000 / 0.700±0.000 / 0.500±0.000');
    expect(original[7]).toBe('–');
    const pgu = cells(lines.find((l) => l.startsWith('| PGU'))!);
    // forget 0.44, 0.43; retain 0.66, 0.655; test 0.46, 0.455 (means 0.435, 0.6575, 0.4575 in
    // binary floating point: toFixed rounds them to 0.657 and 0.458)
    expect(pgu[2]).toBe('0.435±0.007 / 0.657±0.004 / 0.458±0.004');
    expect(pgu[7]).toBe('3.50±0.71');
    const ours = lines.find((l) => l.includes('Interference-aware'))!;
    expect(ours.startsWith('| **Interference-aware** |')).toBe(true);
    expect(cells(lines.find((l) => l.startsWith('| SalUn'))!)[2]).toBe('n/a: needs a classifier');
    expect(cells(lines.find((l) => l.startsWith('| Fine-tune'))!)[2]).toBe(
      'failed: bad value "lr", got 1e9 (2 seeds)',
    );
    // the display name is escaped (HTML and the pipe)
    expect(table).toContain('| &lt;b>&x \\| y |');
  });

  it('ends with the reduction lines', () => {
    expect(md).toContain(
      '\nUIS reduction of interference-aware vs the strongest baseline: full-task ',
    );
    expect(md).toMatch(
      /- scenes full-task: interference-aware \d+\.\d\d vs pgu \d+\.\d\d → \d+\.\d%/,
    );
    expect(md).toContain('- multi-mnist full-task: interference-aware');
  });
});
