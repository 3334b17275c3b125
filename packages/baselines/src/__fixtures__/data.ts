/**
 * Test helpers shared by the baseline tests.
 */
import type { Dataset } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import type { MultiTaskModel } from '@mtu/multitask-model';

/** The model's weights as one float32 array (layout order). */
export function weightsOf(model: MultiTaskModel): Float32Array {
  const w = model.flatWeights();
  const v = Float32Array.from(w.dataSync());
  w.dispose();
  return v;
}

/** A copy of `ds` whose train labels of `tasks` are changed (to other valid values) for `ids`. */
export function withChangedLabels(
  ds: Dataset,
  tasks: readonly string[],
  ids: readonly number[],
): Dataset {
  const labels = { ...ds.train.labels };
  for (const task of tasks) {
    const t = getTask(ds, task);
    const a = ds.train.labels[task]!.slice();
    for (const id of ids) {
      for (let k = id * t.labelSize; k < (id + 1) * t.labelSize; k++) {
        a[k] = t.dtype === 'int32' ? (a[k]! + 1) % t.classes : a[k]! * 2 + 0.5;
      }
    }
    labels[task] = a;
  }
  return { ...ds, train: { ...ds.train, labels } };
}
