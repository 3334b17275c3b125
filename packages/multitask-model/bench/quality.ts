/**
 * A quick test-split check of a trained model against the best constant predictor fitted on the
 * train split (majority class, median depth, mean normal), used by the throughput bench and the
 * "the default model learns" tests. The full metrics (mIoU, δ-accuracies, angle thresholds, per
 * split) are `@mtu/metrics`'; this is only a sanity check of training.
 *
 * @module
 */
import { disposeBatch, iterateBatches } from '@mtu/datasets';
import type { Dataset, Task } from '@mtu/datasets';
import type { MultiTaskModel } from '../src/index.js';

/** One task's score for the model and for the constant predictor. */
export interface TaskQuality {
  readonly metric: string;
  readonly model: number;
  readonly constant: number;
  readonly better: 'higher' | 'lower';
}

/** The median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Test-split quality of the model vs the best constant predictor fitted on the train split. */
export function quality(model: MultiTaskModel, ds: Dataset): Record<string, TaskQuality> {
  const out: Record<string, TaskQuality> = {};
  for (const task of ds.tasks) {
    const constant = constantPrediction(ds, task);
    let modelScore = 0;
    let constScore = 0;
    let count = 0;
    const angles: number[] = [];
    const constAngles: number[] = [];
    for (const batch of iterateBatches(ds, ds.test.ids, { batchSize: 32 })) {
      const pred = model.predict(batch.x, [task.name])[task.name]!;
      const p = pred.dataSync();
      const g = batch.labels[task.name]!.dataSync();
      pred.dispose();
      disposeBatch(batch);
      if (task.kind === 'classification' || task.kind === 'segmentation') {
        const c = task.classes;
        for (let i = 0; i < g.length; i++) {
          if (g[i] === task.ignoreIndex) continue;
          let best = 0;
          for (let k = 1; k < c; k++) if (p[i * c + k]! > p[i * c + best]!) best = k;
          modelScore += best === g[i] ? 1 : 0;
          constScore += constant[0] === g[i] ? 1 : 0;
          count++;
        }
      } else if (task.kind === 'depth') {
        for (let i = 0; i < g.length; i++) {
          if (!(g[i]! > 0)) continue;
          modelScore += Math.abs(p[i]! - g[i]!);
          constScore += Math.abs(constant[0]! - g[i]!);
          count++;
        }
      } else {
        for (let i = 0; i < g.length; i += 3) {
          if (g[i] === 0 && g[i + 1] === 0 && g[i + 2] === 0) continue;
          const dot = (v: ArrayLike<number>, o: number) =>
            v[o]! * g[i]! + v[o + 1]! * g[i + 1]! + v[o + 2]! * g[i + 2]!;
          angles.push((Math.acos(Math.min(1, Math.max(-1, dot(p, i)))) * 180) / Math.PI);
          constAngles.push(
            (Math.acos(Math.min(1, Math.max(-1, dot(constant, 0)))) * 180) / Math.PI,
          );
        }
      }
    }
    if (task.kind === 'normals') {
      out[task.name] = {
        metric: 'median angle (°)',
        model: median(angles),
        constant: median(constAngles),
        better: 'lower',
      };
    } else if (task.kind === 'depth') {
      out[task.name] = {
        metric: 'abs err',
        model: modelScore / count,
        constant: constScore / count,
        better: 'lower',
      };
    } else {
      out[task.name] = {
        metric: task.kind === 'classification' ? 'accuracy' : 'pixel accuracy',
        model: modelScore / count,
        constant: constScore / count,
        better: 'higher',
      };
    }
  }
  return out;
}

/** The best constant on the train split: majority class, median depth, normalised mean normal. */
function constantPrediction(ds: Dataset, task: Task): number[] {
  const labels = ds.train.labels[task.name]!;
  if (task.kind === 'classification' || task.kind === 'segmentation') {
    const counts = new Array<number>(task.classes).fill(0);
    for (const v of labels) if (v >= 0 && v < task.classes) counts[v]!++;
    return [counts.indexOf(Math.max(...counts))];
  }
  if (task.kind === 'depth') return [median(Array.from(labels).filter((v) => v > 0))];
  const m = [0, 0, 0];
  for (let i = 0; i < labels.length; i += 3) for (let k = 0; k < 3; k++) m[k]! += labels[i + k]!;
  const n = Math.hypot(m[0]!, m[1]!, m[2]!) || 1;
  return m.map((v) => v / n);
}
