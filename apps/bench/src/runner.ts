/**
 * The resumable grid runner: skips finished cells, builds the shared models first (originals, then
 * references), then runs the cells, in parallel across worker threads with the total thread count
 * bounded by the cores.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackendPreference } from '@mtu/core-tensors';
import { ConfigError, initBackend } from '@mtu/core-tensors';
import type { Dataset } from '@mtu/datasets';
import type { CellEvent } from './cell.js';
import { cellKeys, modelPath, referencePath, storedOutcome } from './cell.js';
import type { Cell, Plan } from './grid.js';
import type { Registries } from './pipeline.js';
import type { Task, TaskResult } from './tasks.js';
import { runTask } from './tasks.js';
import type { CellOutcome } from './types.js';
import type { FromWorker, ToWorker, WorkerConfig } from './worker.js';

/** Progress of {@link runPlan}, as events. */
export type RunEvent =
  | {
      readonly type: 'plan';
      readonly cells: number;
      /** Cells already finished by an earlier run (not redone). */
      readonly skipped: number;
      readonly originals: number;
      readonly references: number;
      readonly workers: number;
      readonly threadsPerWorker: number;
    }
  | { readonly type: 'backend'; readonly name: string; readonly threads: number }
  | {
      readonly type: 'task-start';
      readonly kind: Task['kind'];
      readonly label: string;
      readonly worker: number;
    }
  | { readonly type: 'task-event'; readonly label: string; readonly event: CellEvent }
  | {
      readonly type: 'task-end';
      readonly kind: Task['kind'];
      readonly label: string;
      readonly seconds: number;
      readonly outcome?: CellOutcome;
      /** Finished tasks of this kind so far, and how many there are. */
      readonly done: number;
      readonly total: number;
    };

/** Options of {@link runPlan}. */
export interface RunOptions {
  /** Run directory: cells go to `<outDir>/cells/<cell id>/`. */
  readonly outDir: string;
  /** Shared model cache directory. */
  readonly cacheDir: string;
  /**
   * Worker threads (default: the available cores, at most the number of tasks). `0` runs every
   * task in the calling thread (the caller's backend must be initialised, or `backend`/`threads`
   * are used to initialise one).
   */
  readonly workers?: number;
  /** Backend threads per worker (default: cores / workers, at least 1). */
  readonly threads?: number;
  readonly backend?: BackendPreference;
  readonly onEvent?: (event: RunEvent) => void;
  /** Stops the run between tasks (workers are terminated; finished cells stay finished). */
  readonly signal?: AbortSignal;
  /** Run nothing: return the finished cells' outcomes only (for rebuilding reports). */
  readonly dryRun?: boolean;
  /** The worker script (default: `worker.js` next to this module, i.e. the built app). */
  readonly workerScript?: URL;
}

interface Executor {
  run(task: Task, onEvent: (event: CellEvent) => void): Promise<TaskResult>;
  close(): Promise<void>;
}

function inThreadExecutor(registries: Registries, signal?: AbortSignal): Executor {
  const runtime = { registries, datasets: new Map<string, Promise<Dataset>>() };
  return {
    run: (task, onEvent) => runTask(task, runtime, onEvent, signal),
    close: () => Promise.resolve(),
  };
}

class WorkerHandle {
  readonly worker: Worker;
  ready: Promise<{ backend: string; threads: number }>;
  private pending:
    | {
        resolve: (r: TaskResult) => void;
        reject: (e: Error) => void;
        onEvent: (e: CellEvent) => void;
      }
    | undefined;
  private failure: Error | undefined;

  constructor(script: URL, config: WorkerConfig) {
    this.worker = new Worker(script, { workerData: config });
    let readyResolve!: (v: { backend: string; threads: number }) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') readyResolve({ backend: m.backend, threads: m.threads });
      else if (m.type === 'event') this.pending?.onEvent(m.event);
      else if (m.type === 'result') this.settle(undefined, m.result);
      else {
        const error = new Error(m.message);
        readyReject(error);
        this.settle(error);
      }
    });
    const fail = (error: Error): void => {
      this.failure = error;
      readyReject(error);
      this.settle(error);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`worker thread exited with code ${code}`));
    });
  }

  private settle(error: Error | undefined, result?: TaskResult): void {
    const p = this.pending;
    this.pending = undefined;
    if (p === undefined) return;
    if (error !== undefined) p.reject(error);
    else p.resolve(result!);
  }

  run(task: Task, onEvent: (e: CellEvent) => void): Promise<TaskResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, onEvent };
      this.worker.postMessage({ type: 'task', task } satisfies ToWorker);
    });
  }
}

/** Runs tasks on a pool, each task on the first free executor; rejects on the first task error. */
async function runPool(
  tasks: readonly Task[],
  executors: readonly Executor[],
  onStart: (task: Task, worker: number) => void,
  onEnd: (task: Task, result: TaskResult) => void,
  onEvent: (task: Task, event: CellEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  const loop = async (w: number): Promise<void> => {
    const executor = executors[w]!;
    while (next < tasks.length) {
      signal?.throwIfAborted();
      const task = tasks[next++]!;
      onStart(task, w);
      const result = await executor.run(task, (e) => onEvent(task, e));
      onEnd(task, result);
    }
  };
  await Promise.all(executors.map((_, w) => loop(w)));
}

function outcomeOf(
  cell: Cell,
  status: CellOutcome['status'],
  extra: Partial<CellOutcome>,
): CellOutcome {
  return {
    id: cell.id,
    dataset: cell.datasetLabel,
    setting: cell.setting,
    targetTasks: cell.targetTasks,
    method: cell.methodLabel,
    seed: cell.spec.seed,
    status,
    ...extra,
  };
}

/**
 * Runs a plan: every cell whose finished outcome (same configuration hash) is already stored under
 * `outDir` is skipped, so an interrupted run resumes where it stopped. The models cells share are
 * built first (one task per distinct original, then per distinct reference), each exactly once,
 * then the cells. Returns every cell's outcome, in plan order.
 *
 * @example
 * ```ts
 * const plan = await expandGrid(parseGrid(PRESETS.quick), registries);
 * const outcomes = await runPlan(plan, registries, { outDir: 'runs/quick', cacheDir: 'runs/cache' });
 * ```
 */
export async function runPlan(
  plan: Plan,
  registries: Registries,
  options: RunOptions,
): Promise<CellOutcome[]> {
  const cellDir = (cell: Cell): string => join(options.outDir, 'cells', cell.id);
  const outcomes = new Map<string, CellOutcome>();
  const pending: Cell[] = [];
  const keysOf = new Map<string, ReturnType<typeof cellKeys>>();
  for (const cell of plan.cells) {
    const keys = cellKeys(cell.spec, registries);
    keysOf.set(cell.id, keys);
    const stored = await storedOutcome(cellDir(cell), keys.cell);
    if (stored === undefined) pending.push(cell);
    else {
      outcomes.set(
        cell.id,
        outcomeOf(cell, stored.outcome.status, {
          ...(stored.record === undefined ? {} : { record: stored.record }),
          ...(stored.outcome.reason === undefined ? {} : { reason: stored.outcome.reason }),
        }),
      );
    }
  }
  const task = (kind: Task['kind'], cell: Cell, label: string): Task => ({
    kind,
    spec: cell.spec,
    label,
    cacheDir: options.cacheDir,
    ...(kind === 'cell' ? { cellDir: cellDir(cell) } : {}),
  });
  const originals = new Map<string, Task>();
  const references = new Map<string, Task>();
  for (const cell of pending) {
    const keys = keysOf.get(cell.id)!;
    const setting = cell.id.split('__')[1]!;
    if (!originals.has(keys.original) && !existsSync(modelPath(options.cacheDir, keys.original))) {
      originals.set(
        keys.original,
        task('original', cell, `${cell.datasetLabel} original s${cell.spec.seed}`),
      );
    }
    if (
      !references.has(keys.reference) &&
      !existsSync(referencePath(options.cacheDir, keys.reference))
    ) {
      references.set(
        keys.reference,
        task('reference', cell, `${cell.datasetLabel} ${setting} reference s${cell.spec.seed}`),
      );
    }
  }
  const cellTasks = pending.map((cell) => task('cell', cell, cell.id));
  const cores = availableParallelism();
  const requested = options.workers ?? cores;
  if (!Number.isInteger(requested) || requested < 0) {
    throw new ConfigError('workers', requested, 'must be a non-negative integer');
  }
  const workers = Math.min(requested, Math.max(1, cellTasks.length));
  const threadsPerWorker = options.threads ?? Math.max(1, Math.floor(cores / Math.max(1, workers)));
  if (!Number.isInteger(threadsPerWorker) || threadsPerWorker < 1) {
    throw new ConfigError('threads', threadsPerWorker, 'must be a positive integer');
  }
  options.onEvent?.({
    type: 'plan',
    cells: plan.cells.length,
    skipped: plan.cells.length - pending.length,
    originals: originals.size,
    references: references.size,
    workers,
    threadsPerWorker,
  });
  if (pending.length === 0 || options.dryRun === true) {
    return plan.cells.flatMap((c) => outcomes.get(c.id) ?? []);
  }

  let executors: Executor[];
  let handles: WorkerHandle[] = [];
  if (requested === 0) {
    const info = await initBackend({
      ...(options.backend === undefined ? {} : { prefer: options.backend }),
      threads: threadsPerWorker,
    });
    options.onEvent?.({ type: 'backend', name: info.name, threads: info.threads });
    executors = [inThreadExecutor(registries, options.signal)];
  } else {
    const script = options.workerScript ?? new URL('./worker.js', import.meta.url);
    const config: WorkerConfig = {
      threads: threadsPerWorker,
      ...(options.backend === undefined ? {} : { backend: options.backend }),
    };
    handles = Array.from({ length: workers }, () => new WorkerHandle(script, config));
    const infos = await Promise.all(handles.map((h) => h.ready));
    options.onEvent?.({ type: 'backend', name: infos[0]!.backend, threads: infos[0]!.threads });
    executors = handles.map((h) => ({
      run: (t, onEvent) => h.run(t, onEvent),
      close: async () => {
        h.worker.postMessage({ type: 'exit' } satisfies ToWorker);
        await h.worker.terminate();
      },
    }));
  }
  const abort = (): void => {
    for (const h of handles) void h.worker.terminate();
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const byId = new Map(pending.map((c) => [c.id, c]));
    for (const [kind, tasks] of [
      ['original', [...originals.values()]],
      ['reference', [...references.values()]],
      ['cell', cellTasks],
    ] as const) {
      let done = 0;
      await runPool(
        tasks,
        executors,
        (t, worker) =>
          options.onEvent?.({ type: 'task-start', kind: t.kind, label: t.label, worker }),
        (t, result) => {
          done++;
          let outcome: CellOutcome | undefined;
          if (t.kind === 'cell' && result.cell !== undefined) {
            const cell = byId.get(t.label)!;
            const r = result.cell;
            outcome = outcomeOf(cell, r.status, {
              ...(r.record === undefined ? {} : { record: r.record }),
              ...(r.reason === undefined ? {} : { reason: r.reason }),
            });
            outcomes.set(cell.id, outcome);
          }
          options.onEvent?.({
            type: 'task-end',
            kind,
            label: t.label,
            seconds: result.seconds,
            ...(outcome === undefined ? {} : { outcome }),
            done,
            total: tasks.length,
          });
        },
        (t, event) => options.onEvent?.({ type: 'task-event', label: t.label, event }),
        options.signal,
      );
    }
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await Promise.all(executors.map((e) => e.close()));
  }
  return plan.cells.map((c) => outcomes.get(c.id)!);
}
