/**
 * `mtu train`: trains the original model of a dataset (or, with `--request`, the exact retrained
 * reference without the request's data) and saves it as a checkpoint.
 *
 * @module
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { collectProvenance, createRegistries } from '@mtu/bench';
import type { RequestViews } from '@mtu/datasets';
import type { ModelProvenance, TrainConfig, TrainEvent } from '@mtu/multitask-model';
import {
  createModel,
  defaultModelSpec,
  modelParams,
  resolveTrainConfig,
  saveModel,
  train,
} from '@mtu/multitask-model';
import { optionalNumber, parsePairs, readJsonFile } from '../args.js';
import type { RunContext } from '../context.js';
import { checkOutputPath, ensureParent, loadDataset, resolveRequest } from '../load.js';
import { fmt, fmtInt, fmtSeconds, printJson, println } from '../output.js';
import type { CommandRunner } from '../program.js';

interface TrainFlags {
  readonly dataset: string;
  readonly option?: string[];
  readonly epochs?: string;
  readonly batchSize?: string;
  readonly lr?: string;
  readonly optimizer?: TrainConfig['optimizer'];
  readonly momentum?: string;
  readonly weightDecay?: string;
  readonly seed?: string;
  readonly request?: string;
  readonly out: string;
  readonly json?: boolean;
}

/** Registers `mtu train`. */
export function registerTrain(program: Command, run: CommandRunner): void {
  program
    .command('train')
    .summary('train the original model of a dataset and save a checkpoint')
    .description(
      "Train the default multi-task model (shared backbone + one head per task) of a dataset and save it as a .safetensors checkpoint whose metadata records the training recipe, the dataset and its options, and provenance (seconds, backend, versions, git SHA). With --request, train on the request's retained supervision instead: the exact-unlearning reference for `mtu unlearn --reference`.",
    )
    .requiredOption('--dataset <id>', 'dataset id (see `mtu datasets`)')
    .option(
      '--option <key=value>',
      'a dataset option, repeatable (values are JSON: 24, true, "x")',
      collect,
      [],
    )
    .option('--epochs <n>', 'passes over the train split (default 10)')
    .option('--batch-size <n>', 'instances per step (default 16)')
    .option('--lr <x>', 'learning rate (default 0.002)')
    .addOption(
      new Option('--optimizer <name>', 'optimiser (default adam)').choices([
        'sgd',
        'momentum',
        'adam',
      ]),
    )
    .option('--momentum <x>', "momentum of 'momentum' (default 0.9)")
    .option('--weight-decay <x>', 'L2 weight decay (default 0)')
    .option('--seed <n>', 'seed of the initial weights and the batch order (default 0)')
    .option(
      '--request <file.json>',
      "retrain without this forget request's data (exact unlearning reference)",
    )
    .requiredOption('--out <file.safetensors>', 'checkpoint to write (atomically)')
    .option('--json', 'print the training summary as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu train --dataset scenes --option trainSize=256 --epochs 5 --out original.safetensors
  $ mtu train --dataset multi-mnist --option trainSize=1000 --lr 0.001 --optimizer adam --seed 1 --out mm.safetensors
  $ mtu train --dataset scenes --option trainSize=256 --epochs 5 --request forget.json --out retrained.safetensors`,
    )
    .action(run((ctx, flags: TrainFlags) => trainCommand(ctx, flags)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function trainCommand(ctx: RunContext, flags: TrainFlags): Promise<void> {
  // Everything that can be checked without computing, first.
  const recipe: Partial<Record<keyof TrainConfig, unknown>> = {
    epochs: optionalNumber('--epochs', flags.epochs, { integer: true, min: 0 }),
    batchSize: optionalNumber('--batch-size', flags.batchSize, { integer: true, min: 1 }),
    learningRate: optionalNumber('--lr', flags.lr, { above: 0 }),
    optimizer: flags.optimizer,
    momentum: optionalNumber('--momentum', flags.momentum, { min: 0, below: 1 }),
    weightDecay: optionalNumber('--weight-decay', flags.weightDecay, { min: 0 }),
    seed: optionalNumber('--seed', flags.seed, { integer: true }),
  };
  const config = resolveTrainConfig(
    Object.fromEntries(Object.entries(recipe).filter(([, v]) => v !== undefined)),
  );
  const options = parsePairs('--option', flags.option ?? []);
  await checkOutputPath(flags.out, '--out');
  const registries = createRegistries();
  registries.datasets.get(flags.dataset);
  const requestJson =
    flags.request === undefined ? undefined : await readJsonFile(flags.request, 'request');

  await ctx.backend();
  const dataset = await loadDataset(ctx, registries, flags.dataset, options);
  let views: RequestViews | undefined;
  if (flags.request !== undefined) {
    views = resolveRequest(
      dataset,
      { kind: 'file', file: flags.request, json: requestJson },
      undefined,
      flags.out,
    );
  }
  const spec = defaultModelSpec(dataset);
  await ctx.announceBackend();
  const model = createModel(spec, { seed: config.seed });
  try {
    const onEvent = trainProgress(ctx);
    const result = await train(model, dataset, {
      ...config,
      onEvent,
      signal: ctx.signal,
      ...(views === undefined ? {} : { supervision: views.supervision }),
    });
    ctx.progress.stop();
    ctx.signal.throwIfAborted();
    const provenance = collectProvenance(config.seed);
    const modelProvenance: ModelProvenance = {
      training: result.config,
      dataset: { id: dataset.id, options: dataset.options },
      ...(views === undefined
        ? {}
        : { request: { instances: views.request.instances, tasks: views.request.tasks } }),
      extra: {
        seconds: result.seconds,
        steps: result.steps,
        instances: result.instances,
        backend: provenance.backend,
        threads: provenance.threads,
        versions: provenance.versions,
        ...(provenance.gitSha === undefined ? {} : { gitSha: provenance.gitSha }),
        node: provenance.node,
        platform: provenance.platform,
        createdAt: provenance.createdAt,
      },
    };
    await ensureParent(flags.out);
    await saveModel(flags.out, model, modelProvenance);
    const parameters = modelParams(spec).reduce(
      (n, p) => n + p.shape.reduce((a, b) => a * b, 1),
      0,
    );
    const last = result.history.at(-1);
    if (ctx.json) {
      printJson({
        out: flags.out,
        dataset: { id: dataset.id, options: dataset.options },
        ...(views === undefined ? {} : { request: views.request, setting: views.setting }),
        training: result.config,
        history: result.history,
        steps: result.steps,
        instances: result.instances,
        seconds: result.seconds,
        parameters,
        backend: { name: provenance.backend, threads: provenance.threads },
      });
      return;
    }
    println(
      `trained ${dataset.id} (${result.instances} train instances${views === undefined ? '' : `, without the ${views.request.instances.length} forgotten (${views.setting})`}): ${result.config.epochs} epoch(s), ${result.steps} steps in ${fmtSeconds(result.seconds)}`,
    );
    if (last !== undefined) {
      println(
        `final loss ${fmt(last.loss)} (${Object.entries(last.taskLosses)
          .map(([t, l]) => `${t} ${fmt(l)}`)
          .join(', ')})`,
      );
    }
    println(`saved ${flags.out} (${fmtInt(parameters)} parameters)`);
  } finally {
    ctx.progress.stop();
    model.dispose();
  }
}

/** Bar over all steps of all epochs; one line per epoch above it. */
function trainProgress(ctx: RunContext): (event: TrainEvent) => void {
  let stepsPerEpoch = 0;
  return (event) => {
    switch (event.type) {
      case 'start':
        stepsPerEpoch = event.stepsPerEpoch;
        ctx.progress.start('train', event.epochs * event.stepsPerEpoch);
        break;
      case 'step':
        ctx.progress.update(
          event.epoch * stepsPerEpoch + event.step,
          `epoch ${event.epoch + 1} loss ${fmt(event.loss)}`,
        );
        break;
      case 'epoch':
        ctx.note(
          `epoch ${event.epoch + 1}/${event.epochs}: loss ${fmt(event.loss)} (${fmtSeconds(event.seconds)})`,
        );
        break;
      case 'end':
        ctx.progress.stop();
        break;
    }
  };
}
