/**
 * `pnpm --filter @mtu/unlearning bench:cost`: the cost of one `interference-aware` run with its
 * defaults against retraining from scratch on the same data, measured interleaved on the same
 * machine (round r: retrain, then unlearn), so that both sides see the same machine state. Same
 * benchmark as `bench` (`scenes`, 256 train instances, 40-epoch recipe, a 10% partial-task
 * request on segmentation). Prints one line per round and the median ratio (`--json`: one JSON
 * line per round on stdout).
 *
 * ```sh
 * pnpm --filter @mtu/unlearning bench:cost                          # 3 rounds, seed 0
 * pnpm --filter @mtu/unlearning bench:cost --rounds 5 --seed 1
 * pnpm --filter @mtu/unlearning bench:cost --cache /tmp/mtu-models  # reuse the original model
 * pnpm --filter @mtu/unlearning bench:cost --config '{}' --config '{"constraintRefresh":1}'  # several
 * ```
 *
 * @module
 */
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, shutdownBackend } from '@mtu/core-tensors';
import {
  createDatasetRegistry,
  makeForgetRequest,
  registerBuiltinDatasets,
  requestViews,
} from '@mtu/datasets';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import { interferenceAware, unlearn } from '../src/index.js';
import { benchModel } from './models.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    strict: true,
    options: {
      rounds: { type: 'string' },
      seed: { type: 'string' },
      target: { type: 'string' },
      'train-size': { type: 'string' },
      'train-epochs': { type: 'string' },
      config: { type: 'string', multiple: true },
      cache: { type: 'string' },
      threads: { type: 'string' },
      convolutions: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const rounds = Number(values.rounds ?? 3);
  const seed = Number(values.seed ?? 0);
  const trainSize = Number(values['train-size'] ?? 256);
  const trainEpochs = Number(values['train-epochs'] ?? 40);
  const target = values.target ?? 'segmentation';
  // One run per --config (JSON) and round; none given: the method's defaults.
  const configs = (values.config ?? ['{}']).map((text) => {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`--config ${text}: not JSON (${(error as Error).message})`, { cause: error });
    }
  });
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds: ${values.rounds} is not a positive integer`);
  const log = (s: string): void =>
    void (values.json === true ? process.stderr : process.stdout).write(`${s}\n`);
  const convolutions = values.convolutions ?? 'xnnpack';
  if (convolutions !== 'xnnpack' && convolutions !== 'mtu')
    throw new Error(`--convolutions: ${convolutions} is not 'xnnpack' or 'mtu'`);
  const info = await initBackend({
    ...(values.threads === undefined ? {} : { threads: Number(values.threads) }),
    convolutions,
  });
  log(
    `backend ${info.name}, ${info.threads} thread(s), ${convolutions} convolutions; ${cpus()[0]?.model ?? 'CPU'}, ${availableParallelism()} cores; Node ${process.version}`,
  );
  try {
    const registry = createDatasetRegistry();
    registerBuiltinDatasets(registry);
    const ds = await registry.load('scenes', { seed, trainSize });
    const views = requestViews(ds, makeForgetRequest(ds, { ratio: 0.1, seed, tasks: [target] }));
    const spec = defaultModelSpec(ds);
    // The original model (shared with `bench` through --cache).
    const { model: original } = await benchModel('original', {
      dataset: ds,
      views,
      seed,
      trainSize,
      trainEpochs,
      cache: values.cache,
    });
    const ratios: number[][] = configs.map(() => []);
    for (let round = 0; round < rounds; round++) {
      // Alternate the order (retrain first in odd rounds, the runs first in even ones), so that
      // neither side always runs on a machine just warmed (or tired) by the other.
      const retrainFirst = round % 2 === 0;
      let retrainSeconds = NaN;
      const retrainOnce = async (): Promise<void> => {
        const retrained = createModel(spec, { seed });
        const r = await train(retrained, ds, {
          seed,
          epochs: trainEpochs,
          supervision: views.supervision,
        });
        retrained.dispose();
        retrainSeconds = r.seconds;
      };
      if (retrainFirst) await retrainOnce();
      const runs = [];
      for (const config of configs) {
        const run = await unlearn(original, ds, views, interferenceAware, { seed, config });
        run.model.dispose();
        runs.push(run);
      }
      if (!retrainFirst) await retrainOnce();
      runs.forEach((run, i) => {
        const ratio = run.seconds / retrainSeconds;
        ratios[i]!.push(ratio);
        log(
          `round ${round + 1}: retrain ${retrainSeconds.toFixed(1)} s; interference-aware ${JSON.stringify(configs[i])} ${run.seconds.toFixed(2)} s (${run.steps} steps, ${run.epochs} epochs, ${run.gradientEvaluations} gradient evaluations, stopped early: ${run.stoppedEarly}) = ${(100 * ratio).toFixed(2)}% of the retrain`,
        );
        if (values.json === true) {
          process.stdout.write(
            `${JSON.stringify({ round: round + 1, seed, config: configs[i], retrainSeconds, seconds: run.seconds, steps: run.steps, epochs: run.epochs, gradientEvaluations: run.gradientEvaluations, stoppedEarly: run.stoppedEarly, ratio })}\n`,
          );
        }
      });
    }
    configs.forEach((config, i) => {
      const sorted = [...ratios[i]!].sort((a, b) => a - b);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      log(
        `${JSON.stringify(config)}: median over ${rounds} round(s) ${(100 * median).toFixed(2)}% of a retrain (range ${(100 * sorted[0]!).toFixed(2)}–${(100 * sorted.at(-1)!).toFixed(2)}%)`,
      );
    });
    original.dispose();
  } finally {
    shutdownBackend();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
