/**
 * `pnpm --filter @mtu/multitask-model bench`: training and per-instance-gradient throughput of each
 * dataset's default model, and (with `--quality`) what the default recipe reaches on the test split
 * against the best constant predictor.
 *
 * ```sh
 * pnpm --filter @mtu/multitask-model bench                       # throughput, scenes + multi-mnist
 * pnpm --filter @mtu/multitask-model bench --quality             # + train with the defaults, evaluate
 * pnpm --filter @mtu/multitask-model bench --dataset scenes --json
 * ```
 *
 * @module
 */
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, shutdownBackend, tf } from '@mtu/core-tensors';
import type { BackendPreference, NamedTensorMap } from '@mtu/core-tensors';
import {
  createDatasetRegistry,
  disposeBatch,
  readBatch,
  registerBuiltinDatasets,
} from '@mtu/datasets';
import type { Dataset } from '@mtu/datasets';
import {
  DEFAULT_TRAIN_CONFIG,
  createModel,
  defaultModelSpec,
  forEachInstanceGradient,
  lossAndGradients,
  train,
} from '../src/index.js';
import type { MultiTaskModel } from '../src/index.js';
import { median, quality } from './quality.js';
import type { TaskQuality } from './quality.js';

const USAGE = `Usage: pnpm --filter @mtu/multitask-model bench [options]

  --dataset <id>     scenes | multi-mnist (repeatable; default: both)
  --backend <name>   auto | tensorflow | wasm | cpu (default: auto)
  --threads <n>      wasm threads (default: cores = ${availableParallelism()})
  --steps <n>        timed training steps (default: 20)
  --instances <n>    timed per-instance gradients (default: 32)
  --quality          also train with the package defaults and evaluate on the test split
  --json             one JSON line per dataset
  --help             this text`;

interface Row {
  dataset: string;
  backend: string;
  threads: number;
  parameters: number;
  batchSize: number;
  trainInstancesPerSecond: number;
  perInstanceGradientsPerSecond: { shared: number; all: number };
  quality?: Record<string, TaskQuality>;
  trainSeconds?: number;
}

function trainThroughput(
  model: MultiTaskModel,
  ds: Dataset,
  steps: number,
  batchSize: number,
): number {
  const optimizer: tf.Optimizer = tf.train.adam(1e-3);
  const ids = ds.train.ids.subarray(0, batchSize);
  const times: number[] = [];
  try {
    for (let i = 0; i < steps + 3; i++) {
      const batch = readBatch(ds, ids);
      const t0 = performance.now();
      const { grads } = lossAndGradients(model, ds, batch);
      const named: NamedTensorMap = {};
      for (const [n, g] of Object.entries(grads)) named[model.variables[n]!.name] = g;
      optimizer.applyGradients(named);
      tf.dispose(grads);
      disposeBatch(batch);
      if (i >= 3) times.push(performance.now() - t0);
    }
  } finally {
    optimizer.dispose();
  }
  return (batchSize * 1000) / median(times);
}

function gradientThroughput(
  model: MultiTaskModel,
  ds: Dataset,
  n: number,
  groups?: string[],
): number {
  const ids = ds.train.ids.subarray(0, n);
  const task = ds.tasks[0]!.name;
  const opts = { tasks: [task], ...(groups === undefined ? {} : { groups }) };
  forEachInstanceGradient(model, ds, ids.subarray(0, 2), opts, () => undefined);
  const t0 = performance.now();
  forEachInstanceGradient(model, ds, ids, opts, (_id, g) => void g.dataSync());
  return (n * 1000) / (performance.now() - t0);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    strict: true,
    options: {
      dataset: { type: 'string', multiple: true },
      backend: { type: 'string' },
      threads: { type: 'string' },
      steps: { type: 'string' },
      instances: { type: 'string' },
      quality: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const info = await initBackend({
    prefer: (values.backend ?? 'auto') as BackendPreference,
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
  });
  const registry = createDatasetRegistry();
  registerBuiltinDatasets(registry);
  const steps = Number(values.steps ?? 20);
  const instances = Number(values.instances ?? 32);
  const log = (line: string): void =>
    void (values.json === true ? process.stderr : process.stdout).write(`${line}\n`);
  log(
    `backend ${info.name}, ${info.threads} thread(s); ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores`,
  );
  try {
    for (const id of values.dataset ?? ['scenes', 'multi-mnist']) {
      const ds = await registry.load(id, {});
      const spec = defaultModelSpec(ds);
      const model = createModel(spec, { seed: 0 });
      try {
        const row: Row = {
          dataset: id,
          backend: info.name,
          threads: info.threads,
          parameters: model.layout.size,
          batchSize: DEFAULT_TRAIN_CONFIG.batchSize,
          trainInstancesPerSecond: trainThroughput(
            model,
            ds,
            steps,
            DEFAULT_TRAIN_CONFIG.batchSize,
          ),
          perInstanceGradientsPerSecond: {
            shared: gradientThroughput(model, ds, instances, ['shared']),
            all: gradientThroughput(model, ds, instances),
          },
        };
        if (values.quality === true) {
          const fresh = createModel(spec, { seed: 0 });
          try {
            const result = await train(fresh, ds, {
              onEvent: (e) => {
                if (e.type === 'epoch') {
                  const parts = Object.entries(e.taskLosses).map(
                    ([t, l]) => `${t} ${l.toFixed(3)}`,
                  );
                  log(
                    `  ${id} epoch ${e.epoch + 1}/${e.epochs}: loss ${e.loss.toFixed(3)} (${parts.join(', ')}) ${e.seconds.toFixed(1)} s`,
                  );
                }
              },
            });
            row.trainSeconds = result.seconds;
            row.quality = quality(fresh, ds);
          } finally {
            fresh.dispose();
          }
        }
        if (values.json === true) {
          process.stdout.write(`${JSON.stringify(row)}\n`);
        } else {
          log(
            `\n${id}: ${row.parameters} parameters, train split ${ds.train.size}, test split ${ds.test.size}, input ${ds.inputShape.join('×')}`,
          );
          log(
            `  training:               ${row.trainInstancesPerSecond.toFixed(1)} instances/s (batch ${row.batchSize})`,
          );
          log(
            `  per-instance gradients: ${row.perInstanceGradientsPerSecond.shared.toFixed(1)} /s (shared), ${row.perInstanceGradientsPerSecond.all.toFixed(1)} /s (all groups)`,
          );
          if (row.quality !== undefined) {
            log(
              `  default recipe (${DEFAULT_TRAIN_CONFIG.epochs} epochs) trained in ${row.trainSeconds!.toFixed(0)} s; test split:`,
            );
            for (const [task, q] of Object.entries(row.quality)) {
              log(
                `    ${task.padEnd(14)} ${q.metric.padEnd(18)} model ${q.model.toFixed(3)}  constant ${q.constant.toFixed(3)}  (${q.better} is better)`,
              );
            }
          }
        }
      } finally {
        model.dispose();
      }
    }
  } finally {
    shutdownBackend();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
