/**
 * The short text summary of a result record, shared by `mtu unlearn` and `mtu eval`: per task the
 * primary metric on forget / retain / test, then MIA AUC, UIS, UIS-R and the time.
 *
 * @module
 */
import type { ResultRecord } from '@mtu/metrics';
import { PRIMARY_METRIC } from '@mtu/metrics';
import { fmt, fmtSeconds, println, table } from './output.js';

/** Prints the summary of `record` on stdout; `label` names the evaluated model. */
export function printSummary(
  record: ResultRecord,
  label: string,
  extra: { readonly seconds?: number; readonly steps?: number } = {},
): void {
  const { request, setting, targetTasks, nonTargetTasks } = record;
  const ev = record.evaluations.unlearned;
  println(
    `${label} on ${record.dataset.id}, ${setting}: ${request.instances.length} forget / ${ev.sizes.retain} retain / ${ev.sizes.test} test instances; target ${targetTasks.join(', ')}${nonTargetTasks.length > 0 ? `; non-target ${nonTargetTasks.join(', ')}` : ''}`,
  );
  const hasOriginal = record.evaluations.original !== undefined;
  const rows = Object.entries(record.kinds).map(([task, kind]) => {
    const metric = PRIMARY_METRIC[kind];
    const cell = (split: 'forget' | 'retain' | 'test'): string => {
      const u = ev.splits[split][task]?.values[metric];
      const o = record.evaluations.original?.splits[split][task]?.values[metric];
      return hasOriginal ? `${fmt(u)} (${fmt(o)})` : fmt(u);
    };
    return [
      task,
      targetTasks.includes(task) ? 'target' : 'non-target',
      metric,
      cell('forget'),
      cell('retain'),
      cell('test'),
    ];
  });
  println(table(['task', 'role', 'metric', 'forget', 'retain', 'test'], rows));
  if (hasOriginal) println('(in parentheses: the original model)');
  const parts = [`MIA AUC ${fmt(record.mia.unlearned?.combined.auc)}`];
  if (record.scores.uis !== undefined) parts.push(`UIS ${record.scores.uis.value.toFixed(2)}`);
  if (record.scores.uisR !== undefined) parts.push(`UIS-R ${record.scores.uisR.value.toFixed(2)}`);
  if (extra.seconds !== undefined) {
    parts.push(
      `${fmtSeconds(extra.seconds)}${extra.steps === undefined ? '' : ` (${extra.steps} steps)`}`,
    );
  }
  println(parts.join('  ·  '));
}
