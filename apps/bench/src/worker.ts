/**
 * The worker-thread entry of the runner: initialises its own backend with the thread count the
 * runner gave it, then runs the tasks it is sent, one at a time, posting progress and results.
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendPreference } from '@mtu/core-tensors';
import { initBackend, shutdownBackend } from '@mtu/core-tensors';
import type { Dataset } from '@mtu/datasets';
import type { CellEvent } from './cell.js';
import { createRegistries } from './pipeline.js';
import type { Task, TaskResult } from './tasks.js';
import { runTask } from './tasks.js';

/** Messages a worker receives. */
export type ToWorker = { readonly type: 'task'; readonly task: Task } | { readonly type: 'exit' };

/** Messages a worker posts. */
export type FromWorker =
  | { readonly type: 'ready'; readonly backend: string; readonly threads: number }
  | { readonly type: 'event'; readonly event: CellEvent }
  | { readonly type: 'result'; readonly result: TaskResult }
  | { readonly type: 'error'; readonly message: string };

/** What the runner passes as `workerData`. */
export interface WorkerConfig {
  readonly backend?: BackendPreference;
  readonly threads: number;
}

/** Step events are forwarded at most this often (ms); every other event always. */
const STEP_INTERVAL_MS = 250;

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.js must run as a worker thread');
  const config = workerData as WorkerConfig;
  const info = await initBackend({
    ...(config.backend === undefined ? {} : { prefer: config.backend }),
    threads: config.threads,
  });
  const runtime = { registries: createRegistries(), datasets: new Map<string, Promise<Dataset>>() };
  const post = (m: FromWorker): void => port.postMessage(m);
  let lastStep = 0;
  const forward = (event: CellEvent): void => {
    const isStep =
      (event.type === 'train' || event.type === 'unlearn') && event.event.type === 'step';
    if (isStep) {
      const now = performance.now();
      if (now - lastStep < STEP_INTERVAL_MS) return;
      lastStep = now;
    }
    post({ type: 'event', event });
  };
  port.on('message', (message: ToWorker) => {
    if (message.type === 'exit') {
      shutdownBackend();
      port.close();
      return;
    }
    runTask(message.task, runtime, forward).then(
      (result) => post({ type: 'result', result }),
      (error: unknown) =>
        post({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    );
  });
  post({ type: 'ready', backend: info.name, threads: info.threads });
}

main().catch((error: unknown) => {
  parentPort?.postMessage({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
  } satisfies FromWorker);
});
