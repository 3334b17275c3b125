/**
 * The HTML report: one self-contained file (inline CSS, the tables, Chart.js 4 inlined and the
 * chart data as a JSON blob) that opens from disk with no network access.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ReportMeta } from '../types.js';
import type { ReportGroup, ReportRole, ReportRow, SeedStat } from './aggregate.js';
import {
  DECIMALS,
  REPORT_SPLITS,
  formatDuration,
  groupLabel,
  reductionDetails,
  reductionLine,
  secondsDigits,
  statusText,
  uisReduction,
} from './aggregate.js';

/** Colours of the row roles in tables and charts. */
const ROLE_COLORS: Readonly<Record<ReportRole, string>> = {
  original: '#6b7280',
  reference: '#0f766e',
  baseline: '#2563eb',
  ours: '#dc2626',
  ablation: '#d97706',
};

const ROLE_NAMES: Readonly<Record<ReportRole, string>> = {
  original: 'original model',
  reference: 'retrained reference',
  baseline: 'baseline',
  ours: 'ours',
  ablation: 'ablation',
};

/**
 * Escapes text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * escapeHtml('<b>&x'); // '&lt;b&gt;&amp;x'
 * ```
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Makes text safe inside a `<script>` element (no `</script` can end it early). */
function scriptSafe(text: string): string {
  return text.replace(/<\/script/gi, '<\\/script').replace(/<!--/g, '<\\!--');
}

/** The minified UMD build of Chart.js, read from the installed package. */
function chartJsSource(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('chart.js');
  return readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
}

function statHtml(stat: SeedStat | undefined, digits: number): string {
  if (stat === undefined) return '<span class="na">–</span>';
  const mean = stat.mean.toFixed(digits);
  return stat.std === undefined
    ? mean
    : `${mean}<span class="sd">±${stat.std.toFixed(digits)}</span>`;
}

function tableHtml(group: ReportGroup): string {
  const head = [
    '<th class="name">Method</th>',
    '<th class="num">n</th>',
    ...group.tasks.map((t) => {
      const target = group.setting === 'partial-task' && t.target ? ' (target)' : '';
      const arrow = t.better === 'higher' ? '↑' : '↓';
      return `<th class="num">${escapeHtml(`${t.name}${target}`)}<br><span class="sub">${escapeHtml(
        `${t.label}${arrow}`,
      )} F / R / T</span></th>`;
    }),
    '<th class="num">MIA AUC</th>',
    '<th class="num">UIS↓</th>',
    '<th class="num">UIS-R↓</th>',
    '<th class="num">Time (s)</th>',
  ];
  const width = group.tasks.length + 4;
  const rows = group.rows.map((row) => {
    const name = `<td class="name"><span class="dot" style="background:${ROLE_COLORS[row.role]}"></span>${escapeHtml(
      row.displayName,
    )}${row.reason !== undefined && row.status === 'done' ? `<div class="note">${escapeHtml(row.reason)}</div>` : ''}</td>`;
    const n = `<td class="num">${row.n}</td>`;
    if (row.status !== 'done') {
      return `<tr class="role-${row.role} status-${row.status}">${name}${n}<td class="status" colspan="${width}">${escapeHtml(
        statusText(row),
      )}</td></tr>`;
    }
    const tasks = group.tasks.map(
      (t) =>
        `<td class="num">${REPORT_SPLITS.map((s) =>
          statHtml(row.metrics[t.name]?.[s], DECIMALS.metric),
        ).join('<span class="slash"> / </span>')}</td>`,
    );
    const seconds =
      row.seconds === undefined
        ? statHtml(undefined, 0)
        : statHtml(row.seconds, secondsDigits(row.seconds.mean));
    return `<tr class="role-${row.role}">${name}${n}${tasks.join('')}<td class="num">${statHtml(
      row.mia,
      DECIMALS.mia,
    )}</td><td class="num">${statHtml(row.uis, DECIMALS.uis)}</td><td class="num">${statHtml(
      row.uisR,
      DECIMALS.uis,
    )}</td><td class="num">${seconds}</td></tr>`;
  });
  return `<div class="table-wrap"><table><thead><tr>${head.join('')}</tr></thead><tbody>${rows.join(
    '',
  )}</tbody></table></div>`;
}

/** What the charts read (the JSON blob). */
interface ChartRow {
  readonly name: string;
  readonly role: ReportRole;
  readonly kind: ReportRow['kind'];
  readonly uis: number | null;
  readonly uisR: number | null;
  readonly seconds: number | null;
  /** (row − original) × 100 of each task's primary metric, per split (`null`: not available). */
  readonly deltas: Readonly<Record<string, { test: number | null; forget: number | null }>>;
}

function chartData(groups: readonly ReportGroup[]): unknown {
  return {
    roles: ROLE_COLORS,
    roleNames: ROLE_NAMES,
    groups: groups.map((g) => {
      const original = g.rows.find((r) => r.kind === 'original');
      const delta = (row: ReportRow, task: string, split: 'test' | 'forget'): number | null => {
        const a = row.metrics[task]?.[split]?.mean;
        const b = original?.metrics[task]?.[split]?.mean;
        return a === undefined || b === undefined ? null : (a - b) * 100;
      };
      const rows: ChartRow[] = g.rows
        .filter((r) => r.status === 'done')
        .map((r) => ({
          name: r.displayName,
          role: r.role,
          kind: r.kind,
          uis: r.uis?.mean ?? null,
          uisR: r.uisR?.mean ?? null,
          seconds: r.seconds?.mean ?? null,
          deltas: Object.fromEntries(
            g.tasks.map((t) => [
              t.name,
              { test: delta(r, t.name, 'test'), forget: delta(r, t.name, 'forget') },
            ]),
          ),
        }));
      return {
        label: groupLabel(g),
        tasks: g.tasks.map((t) => ({ name: t.name, label: t.label })),
        hasOriginal: original !== undefined,
        rows,
      };
    }),
  };
}

const CSS = `
:root { color-scheme: light; --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --stripe: #f7f8fa; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: #fff; line-height: 1.45; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7rem; margin: 0 0 12px; }
h2 { font-size: 1.25rem; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 18px 0 6px; color: var(--muted); font-weight: 600; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0 0 16px; font-size: 0.92rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-all; }
.legend { font-size: 0.88rem; color: #374151; background: #f9fafb; border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; }
.legend li { margin: 2px 0; }
.headline { font-size: 1.05rem; font-weight: 600; background: #eff6ff; border-left: 4px solid var(--accent); padding: 10px 14px; border-radius: 4px; }
.details { font-size: 0.9rem; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.88rem; min-width: 60%; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: #f3f4f6; font-weight: 600; border-bottom: 2px solid #d1d5db; }
tbody tr:nth-child(even) { background: var(--stripe); }
tbody tr:hover { background: #eef2ff; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.name { text-align: left; white-space: normal; min-width: 12em; max-width: 20em; }
th .sub { font-weight: 400; color: var(--muted); font-size: 0.82rem; }
.sd { color: var(--muted); font-size: 0.85em; }
.slash { color: #9ca3af; }
.na { color: #9ca3af; }
.status { color: var(--muted); font-style: italic; }
tr.status-failed .status { color: #b91c1c; }
tr.role-ours td { font-weight: 600; }
tr.role-ours .sd, tr.role-ours .note { font-weight: 400; }
.note { font-size: 0.78rem; color: #b45309; white-space: normal; max-width: 28em; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 7px; vertical-align: middle; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 16px; margin-top: 16px; }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: #fff; }
.chart .box { position: relative; height: 300px; }
.chart h3 { margin: 0 0 6px; font-size: 0.9rem; }
.roles { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 0.85rem; color: var(--muted); margin: 8px 0 0; padding: 0; list-style: none; }
footer { margin-top: 40px; font-size: 0.8rem; color: var(--muted); }
`;

/** The charts, drawn in the browser from the JSON blob (plain ES2017, no network). */
const CHART_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') return;
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  var palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#db2777', '#0891b2', '#65a30d'];
  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + a + ')';
  }
  function fmt(v, d) { return v === null || v === undefined ? '–' : Number(v).toFixed(d); }
  data.groups.forEach(function (g, gi) {
    var uisEl = document.getElementById('chart-uis-' + gi);
    var uisRows = g.rows.filter(function (r) { return r.uis !== null || r.uisR !== null; });
    if (uisEl && uisRows.length > 0) {
      new Chart(uisEl, {
        type: 'bar',
        data: {
          labels: uisRows.map(function (r) { return r.name; }),
          datasets: [
            { label: 'UIS (vs original)', data: uisRows.map(function (r) { return r.uis; }),
              backgroundColor: uisRows.map(function (r) { return data.roles[r.role]; }) },
            { label: 'UIS-R (vs retrained)', data: uisRows.map(function (r) { return r.uisR; }),
              backgroundColor: uisRows.map(function (r) { return alpha(data.roles[r.role], 0.35); }),
              borderColor: uisRows.map(function (r) { return data.roles[r.role]; }), borderWidth: 1 }
          ]
        },
        options: {
          plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + fmt(c.raw, 2); } } } },
          scales: { y: { beginAtZero: true, title: { display: true, text: 'UIS (%) — lower is better' } } }
        }
      });
    }
    var scEl = document.getElementById('chart-time-' + gi);
    var timed = g.rows.filter(function (r) { return r.uis !== null && r.seconds !== null && r.seconds > 0; });
    if (scEl && timed.length > 0) {
      var roles = [];
      timed.forEach(function (r) { if (roles.indexOf(r.role) < 0) roles.push(r.role); });
      new Chart(scEl, {
        type: 'scatter',
        data: {
          datasets: roles.map(function (role) {
            return {
              label: data.roleNames[role],
              data: timed.filter(function (r) { return r.role === role; })
                .map(function (r) { return { x: r.seconds, y: r.uis, name: r.name }; }),
              backgroundColor: data.roles[role], borderColor: data.roles[role], pointRadius: 6, pointHoverRadius: 8
            };
          })
        },
        options: {
          plugins: { tooltip: { callbacks: { label: function (c) {
            return c.raw.name + ': UIS ' + fmt(c.raw.y, 2) + ', ' + fmt(c.raw.x, 2) + ' s';
          } } } },
          scales: {
            x: { type: 'logarithmic', title: { display: true, text: 'wall time (s, log scale)' } },
            y: { beginAtZero: true, title: { display: true, text: 'UIS (%) — lower is better' } }
          }
        }
      });
    }
    var dEl = document.getElementById('chart-delta-' + gi);
    var dRows = g.rows.filter(function (r) { return r.kind !== 'original'; });
    if (dEl && g.hasOriginal && dRows.length > 0 && g.tasks.length > 0) {
      var sets = [];
      g.tasks.forEach(function (t, ti) {
        var c = palette[ti % palette.length];
        sets.push({ label: t.name + ' ' + t.label + ' test', data: dRows.map(function (r) { return r.deltas[t.name] ? r.deltas[t.name].test : null; }),
          backgroundColor: c });
        sets.push({ label: t.name + ' ' + t.label + ' forget', data: dRows.map(function (r) { return r.deltas[t.name] ? r.deltas[t.name].forget : null; }),
          backgroundColor: alpha(c, 0.35), borderColor: c, borderWidth: 1 });
      });
      new Chart(dEl, {
        type: 'bar',
        data: { labels: dRows.map(function (r) { return r.name; }), datasets: sets },
        options: {
          plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ': ' + fmt(c.raw, 2) + ' pp'; } } } },
          scales: { y: { title: { display: true, text: 'method − original (percentage points)' } } }
        }
      });
    }
  });
})();
`;

/**
 * The HTML report as one self-contained file: the header (title, grid, creation time, git SHA,
 * backend, machine, total time), a legend, per group the table and three Chart.js charts (UIS
 * and UIS-R per method; UIS vs wall time; per-task deltas of the primary metric vs the original
 * model on the test and forget splits), and the UIS-reduction lines. Chart.js 4 (the installed
 * `chart.js` package's UMD build) is inlined; the data is a JSON blob in
 * `<script type="application/json" id="report-data">`. No network access is needed (a
 * Content-Security-Policy forbids it).
 *
 * @example
 * ```ts
 * await writeFile('report.html', htmlReport(aggregate(outcomes, methods), meta));
 * ```
 */
export function htmlReport(groups: readonly ReportGroup[], meta: ReportMeta): string {
  const summary = uisReduction(groups);
  const metaRows: [string, string][] = [
    ['Grid', meta.grid],
    ['Created', meta.createdAt],
    ['Git SHA', meta.gitSha ?? 'unknown'],
    ['Backend', meta.backend],
    ['Machine', meta.machine],
    ['Total time', formatDuration(meta.seconds)],
  ];
  const roles = (Object.keys(ROLE_COLORS) as ReportRole[])
    .map(
      (r) =>
        `<li><span class="dot" style="background:${ROLE_COLORS[r]}"></span>${escapeHtml(ROLE_NAMES[r])}</li>`,
    )
    .join('');
  const sections = groups.map((g, gi) => {
    const targets =
      g.setting === 'full-task'
        ? 'all tasks'
        : `${g.targetTasks.join(', ')}; kept: ${g.nonTargetTasks.join(', ') || '–'}`;
    const seeds = `${g.seeds.length === 1 ? 'seed' : 'seeds'} ${g.seeds.join(', ')}`;
    return `<section>
<h2>${escapeHtml(`${g.dataset} — ${g.setting}`)}</h2>
<h3>${escapeHtml(`forget: ${targets} · ${seeds}`)}</h3>
${tableHtml(g)}
<div class="charts">
<div class="chart"><h3>UIS and UIS-R per method</h3><div class="box"><canvas id="chart-uis-${gi}" aria-label="UIS per method"></canvas></div></div>
<div class="chart"><h3>UIS vs wall time</h3><div class="box"><canvas id="chart-time-${gi}" aria-label="UIS vs wall time"></canvas></div></div>
<div class="chart"><h3>Primary metric: method − original, test and forget splits (pp)</h3><div class="box"><canvas id="chart-delta-${gi}" aria-label="metric deltas vs the original model"></canvas></div></div>
</div>
</section>`;
  });
  const json = JSON.stringify(chartData(groups)).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(meta.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeHtml(meta.title)}</h1>
<dl class="meta">${metaRows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<div class="legend"><ul>
<li>Each cell is the mean over seeds, with the sample standard deviation (±) when n &gt; 1; – = not available.</li>
<li>F / R / T = the forget / retain / test split; each task shows its primary metric (↑ higher is better, ↓ lower is better).</li>
<li>UIS (%, lower is better) is measured vs the original model; UIS-R vs the retrained model. The original row's UIS is its own memorisation gap; the reference row's UIS-R is 0.</li>
<li>MIA AUC: loss-based membership inference on the forget vs the test split (combined over the target tasks); compare with the retrain (reference) row — matching it is ideal.</li>
<li>Time: wall seconds of the unlearning run; for the reference row, the retraining time.</li>
</ul><ul class="roles">${roles}</ul></div>
<h2>UIS reduction</h2>
<p class="headline">${escapeHtml(reductionLine(summary))}</p>
<ul class="details">${reductionDetails(summary)
    .map((d) => `<li>${escapeHtml(d)}</li>`)
    .join('')}</ul>
${sections.join('\n')}
<footer>Generated by mtu-bench. Charts: Chart.js (MIT), inlined.</footer>
</main>
<script type="application/json" id="report-data">${json}</script>
<script>${scriptSafe(chartJsSource())}</script>
<script>${scriptSafe(CHART_SCRIPT)}</script>
</body>
</html>
`;
}
