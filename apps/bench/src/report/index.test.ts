import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportMeta } from '../types.js';
import { SAMPLE_METHODS, sampleOutcomes } from './__fixtures__/outcomes.js';
import { aggregate, csvReport, htmlReport, markdownReport, writeReports } from './index.js';

const META: ReportMeta = {
  title: 'MTU benchmark',
  grid: 'smoke',
  createdAt: '2026-01-02T03:04:05.000Z',
  gitSha: 'abc1234-dirty',
  backend: 'wasm',
  machine: 'Linux x64',
};

let root = '';
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mtu-report-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeReports', () => {
  it('writes report.md, results.csv and report.html into a new directory', async () => {
    const dir = join(root, 'runs', 'smoke');
    const outcomes = sampleOutcomes();
    const { markdown, files } = await writeReports(dir, outcomes, SAMPLE_METHODS, META);
    expect(files).toEqual({
      markdown: join(dir, 'report.md'),
      csv: join(dir, 'results.csv'),
      html: join(dir, 'report.html'),
    });
    expect((await readdir(dir)).sort()).toEqual(['report.html', 'report.md', 'results.csv']);
    const groups = aggregate(outcomes, SAMPLE_METHODS);
    expect(markdown).toBe(markdownReport(groups, META));
    expect(await readFile(files.markdown, 'utf8')).toBe(markdown);
    expect(await readFile(files.csv, 'utf8')).toBe(csvReport(groups));
    expect(await readFile(files.html, 'utf8')).toBe(htmlReport(groups, META));
    // overwrites in place
    await writeReports(dir, outcomes.slice(0, 2), SAMPLE_METHODS, META);
    expect(await readFile(files.markdown, 'utf8')).not.toBe(markdown);
    expect((await readdir(dir)).sort()).toEqual(['report.html', 'report.md', 'results.csv']);
  });
});
