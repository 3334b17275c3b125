/**
 * The units of work of a grid run, executed the same way in the runner's thread or in a worker
 * thread: train an original model, build a reference (retrained model + summaries), run a cell.
 *
 * @module
 */
import type { Dataset } from '@mtu/datasets';
import type { CellEvent, CellResult } from './cell.js';
import { cellKeys, originalModel, referenceEntry, runCell } from './cell.js';
import type { Registries } from './pipeline.js';
import type { CellSpec } from './types.js';

/** One unit of work. */
export interface Task {
  readonly kind: 'original' | 'reference' | 'cell';
  /** The cell this task works for (any cell needing the model, for `original` and `reference`). */
  readonly spec: CellSpec;
  /** A short label for progress lines. */
  readonly label: string;
  readonly cacheDir: string;
  /** The cell directory (`cell` tasks). */
  readonly cellDir?: string;
}

/** How a task ended. `cell` tasks carry the cell's result. */
export interface TaskResult {
  readonly seconds: number;
  readonly cell?: CellResult;
}

/** The state a worker keeps between tasks. */
export interface TaskRuntime {
  readonly registries: Registries;
  readonly datasets: Map<string, Promise<Dataset>>;
}

/** Runs one task (see {@link Task}). */
export async function runTask(
  task: Task,
  runtime: TaskRuntime,
  onEvent?: (event: CellEvent) => void,
  signal?: AbortSignal,
): Promise<TaskResult> {
  const started = performance.now();
  const ctx = {
    registries: runtime.registries,
    cacheDir: task.cacheDir,
    cellDir: task.cellDir ?? task.cacheDir,
    datasets: runtime.datasets,
    ...(onEvent === undefined ? {} : { onEvent }),
    ...(signal === undefined ? {} : { signal }),
  };
  if (task.kind === 'cell') {
    const cell = await runCell(task.spec, ctx);
    return { seconds: (performance.now() - started) / 1000, cell };
  }
  const keys = cellKeys(task.spec, runtime.registries);
  const dataset = await runtime.registries.datasets.load(task.spec.dataset.id, keys.datasetOptions);
  if (task.kind === 'original') {
    const { model } = await originalModel(task.spec, keys, dataset, ctx);
    model.dispose();
  } else {
    await referenceEntry(task.spec, keys, dataset, ctx);
  }
  return { seconds: (performance.now() - started) / 1000 };
}
