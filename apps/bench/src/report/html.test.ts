import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReportMeta } from '../types.js';
import { SAMPLE_METHODS, sampleOutcomes } from './__fixtures__/outcomes.js';
import { aggregate } from './aggregate.js';
import { escapeHtml, htmlReport } from './html.js';

const META: ReportMeta = {
  title: 'Bench <run> & "co"',
  grid: 'smoke',
  createdAt: '2026-01-02T03:04:05.000Z',
  backend: 'wasm',
  machine: 'Linux x64',
  seconds: 42,
};

const groups = aggregate(sampleOutcomes(), SAMPLE_METHODS);
const html = htmlReport(groups, META);

function scripts(text: string): { attrs: string; body: string }[] {
  return [...text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({
    attrs: m[1]!,
    body: m[2]!,
  }));
}

interface ChartRowBlob {
  readonly name: string;
  readonly uis: number | null;
  readonly deltas: Record<string, { test: number | null; forget: number | null }>;
}
interface ChartDataBlob {
  readonly groups: readonly { readonly label: string; readonly rows: readonly ChartRowBlob[] }[];
}
interface StubConfig {
  readonly type: string;
  readonly data: { readonly labels?: readonly string[]; readonly datasets: { label: string }[] };
  readonly options: { readonly scales: { readonly x?: { readonly type?: string } } };
}

function chartData(text: string): ChartDataBlob {
  const blob = scripts(text).find((s) => s.attrs.includes('application/json'));
  return JSON.parse(blob!.body) as ChartDataBlob;
}

describe('escapeHtml', () => {
  it('escapes the five special characters', () => {
    expect(escapeHtml(`<b>&x"'`)).toBe('&lt;b&gt;&amp;x&quot;&#39;');
  });
});

describe('htmlReport', () => {
  it('is self-contained: no external script, stylesheet or URL reference', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]*\ssrc\s*=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(https?:)?\/\//i);
    expect(html).toContain("default-src 'none'");
  });

  it('inlines Chart.js 4', () => {
    const require = createRequire(import.meta.url);
    const source = readFileSync(
      join(dirname(require.resolve('chart.js')), 'chart.umd.min.js'),
      'utf8',
    );
    expect(source).toMatch(/Chart\.js v4\./);
    const inlined = scripts(html).find((s) => s.body.includes('Chart.js v4.'));
    expect(inlined?.body.length).toBeGreaterThan(100_000);
    expect(inlined?.body).toBe(
      source.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--'),
    );
  });

  it('carries the chart data as JSON that parses back', () => {
    const json = scripts(html).find((s) => s.attrs.includes('application/json'))!.body;
    expect(json).not.toContain('<');
    const data = chartData(html);
    expect(data.groups).toHaveLength(groups.length);
    expect(data.groups[0]?.label).toBe('scenes full-task');
    const names = data.groups[0]!.rows.map((r) => r.name);
    expect(names).toContain('<b>&x | y');
    expect(names).not.toContain('SalUn'); // no numbers to chart
    const pgu = data.groups[0]!.rows.find((r) => r.name === 'PGU')!;
    expect(pgu.uis).toBeCloseTo(groups[0]!.rows.find((r) => r.id === 'pgu')!.uis!.mean, 12);
    // test-split delta vs the original: mean 0.4575 − 0.5, in percentage points
    expect(pgu.deltas['segmentation']?.test).toBeCloseTo(-4.25, 10);
    expect(pgu.deltas['segmentation']?.forget).toBeCloseTo(-36.5, 10);
  });

  it('escapes interpolated text', () => {
    expect(html).toContain('&lt;b&gt;&amp;x | y');
    expect(html).not.toContain('<b>&x');
    expect(html).toContain('<title>Bench &lt;run&gt; &amp; &quot;co&quot;</title>');
  });

  it('has the tables, the meta header and the reduction lines', () => {
    expect((html.match(/<table>/g) ?? []).length).toBe(groups.length);
    expect(html).toContain('<dt>Total time</dt><dd>42.0 s</dd>');
    expect(html).toContain('<dt>Git SHA</dt><dd>unknown</dd>');
    expect(html).toContain(
      'UIS reduction of interference-aware vs the strongest baseline: full-task ',
    );
    expect(html).toContain('n/a: needs a classifier');
    expect(html).toContain('failed: bad value &quot;lr&quot;, got 1e9 (2 seeds)');
    expect(html).toContain('0.435<span class="sd">±0.007</span>');
  });

  it('draws three charts per group (chart script run against a stub Chart)', () => {
    const own = scripts(html).filter((s) => s.attrs === '' && !s.body.includes('Chart.js v4.'));
    expect(own).toHaveLength(1);
    const json = scripts(html).find((s) => s.attrs.includes('application/json'))!.body;
    const made: { id: string; config: StubConfig }[] = [];
    class StubChart {
      static defaults = { font: {} as Record<string, unknown> };
      constructor(el: { id: string }, config: StubConfig) {
        made.push({ id: el.id, config });
      }
    }
    const ids = new Set([...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]));
    const document = {
      getElementById: (id: string) =>
        id === 'report-data' ? { textContent: json } : ids.has(id) ? { id } : null,
    };
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const run = new Function('document', 'Chart', own[0]!.body) as (d: unknown, c: unknown) => void;
    run(document, StubChart);
    expect(made.map((m) => m.id)).toEqual(
      groups.flatMap((_, i) => [`chart-uis-${i}`, `chart-time-${i}`, `chart-delta-${i}`]),
    );
    const uis = made[0]!.config;
    expect(uis.type).toBe('bar');
    expect(uis.data.datasets.map((d) => d.label)).toEqual([
      'UIS (vs original)',
      'UIS-R (vs retrained)',
    ]);
    expect(uis.data.labels?.[0]).toBe('original');
    const scatter = made[1]!.config;
    expect(scatter.options.scales.x?.type).toBe('logarithmic');
    // the original row has no time; the roles with a time each get a dataset
    expect(scatter.data.datasets.map((d) => d.label)).toEqual([
      'retrained reference',
      'baseline',
      'ours',
      'ablation',
    ]);
    const delta = made[2]!.config;
    expect(delta.data.labels).not.toContain('original');
    expect(delta.data.datasets).toHaveLength(2 * groups[0]!.tasks.length);
  });
});
