/**
 * `mtu unlearn`: applies an unlearning method to a trained checkpoint for a forget request, saves
 * the unlearned checkpoint and (optionally) the result record.
 *
 * @module
 */
import type { Command } from 'commander';
import { buildRecord, collectProvenance, createRegistries, summarizeModel } from '@mtu/bench';
import type { ModelSummary } from '@mtu/bench';
import { writeFileAtomic } from '@mtu/core-tensors';
import type { RequestViews } from '@mtu/datasets';
import { writeResultRecord } from '@mtu/metrics';
import type { LoadedModel, ModelProvenance } from '@mtu/multitask-model';
import { saveModel } from '@mtu/multitask-model';
import type { UnlearnEvent } from '@mtu/unlearning';
import { checkSupported, resolveConfig, unlearn } from '@mtu/unlearning';
import { optionalNumber, parsePairs, readConfigOption } from '../args.js';
import type { RunContext } from '../context.js';
import type { RequestFlags } from '../load.js';
import {
  checkOutputPath,
  datasetFor,
  ensureParent,
  readCheckpoint,
  requestSource,
  resolveRequest,
} from '../load.js';
import { fmt, printJson, println } from '../output.js';
import type { CommandRunner } from '../program.js';
import { printSummary } from '../summary.js';

interface UnlearnFlags extends RequestFlags {
  readonly model: string;
  readonly method: string;
  readonly dataset?: string;
  readonly option?: string[];
  readonly config?: string;
  readonly set?: string[];
  readonly seed?: string;
  readonly retainSample?: string;
  readonly out: string;
  readonly result?: string;
  readonly reference?: string;
  readonly saveRequest?: string;
  readonly json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds the request options shared by `unlearn` and `eval`. */
export function addRequestOptions(cmd: Command): Command {
  return cmd
    .option(
      '--request <file.json>',
      'the forget request: { "instances": [ids], "tasks": "all" | [names] }',
    )
    .option('--ratio <x>', 'draw a request: this fraction of the train split, in (0, 1)')
    .option('--count <n>', 'draw a request: this many train instances')
    .option('--tasks <all|a,b>', "target tasks of a drawn request (default 'all': full-task)")
    .option('--request-seed <n>', 'seed of the drawn request (default: --seed, else 0)')
    .option('--dataset <id>', 'dataset (default: the one recorded in the checkpoint)')
    .option(
      '--option <key=value>',
      'a dataset option, repeatable (overrides the recorded ones)',
      collect,
      [],
    );
}

/** Registers `mtu unlearn`. */
export function registerUnlearn(program: Command, run: CommandRunner): void {
  const cmd = program
    .command('unlearn')
    .summary('unlearn a forget request from a trained checkpoint with any method')
    .description(
      "Unlearn a forget request from a trained model with a registered method (see `mtu methods`). The dataset comes from the checkpoint's provenance (or --dataset / --option); the request from a JSON file (--request) or is drawn (--ratio / --count, --tasks, --request-seed) and is validated against the dataset. Writes the unlearned checkpoint (--out) and, with --result, the result record (metrics of the unlearned and original models on forget / retain / test, MIA, UIS, and UIS-R with --reference). Files are written atomically and only once everything succeeded.",
    )
    .requiredOption('--model <ckpt>', 'the trained (original) checkpoint')
    .requiredOption('--method <id>', 'unlearning method (see `mtu methods`)');
  addRequestOptions(cmd)
    .option('--config <json|file>', 'method config: inline JSON (\'{"epochs":3}\') or a JSON file')
    .option(
      '--set <key=value>',
      'one method config value, repeatable; overrides --config',
      collect,
      [],
    )
    .option('--seed <n>', 'seed of the run (default 0)')
    .option('--retain-sample <n>', 'evaluate at most this many retain instances (default all)')
    .requiredOption('--out <ckpt>', 'unlearned checkpoint to write')
    .option('--result <result.json>', 'write the result record here')
    .option(
      '--reference <ckpt>',
      'the retrained reference (gives UIS-R; see `mtu train --request`)',
    )
    .option('--save-request <file.json>', 'write the (normalised) request here')
    .option('--json', 'print the result record as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu unlearn --model original.safetensors --method salun --ratio 0.1 --tasks segmentation --out unlearned.safetensors
  $ mtu unlearn --model original.safetensors --method interference-aware --request forget.json --set epochs=3 --out u.safetensors --result result.json
  $ mtu unlearn --model original.safetensors --method gradient-ascent --config '{"epochs":2,"learningRate":0.001}' --count 20 --request-seed 7 --save-request forget.json --out u.safetensors
  $ mtu unlearn --model original.safetensors --method finetune --request forget.json --reference retrained.safetensors --out u.safetensors --json`,
    )
    .action(run((ctx, flags: UnlearnFlags) => unlearnCommand(ctx, flags)));
}

async function unlearnCommand(ctx: RunContext, flags: UnlearnFlags): Promise<void> {
  // Cheap checks first: nothing is loaded or computed before the command line is sound.
  const seed = optionalNumber('--seed', flags.seed, { integer: true }) ?? 0;
  const retainSample = optionalNumber('--retain-sample', flags.retainSample, {
    integer: true,
    min: 1,
  });
  const registries = createRegistries();
  const method = registries.methods.get(flags.method);
  const rawConfig = {
    ...(flags.config === undefined ? {} : await readConfigOption(flags.config)),
    ...parsePairs('--set', flags.set ?? []),
  };
  parsePairs('--option', flags.option ?? []);
  if (flags.dataset !== undefined) registries.datasets.get(flags.dataset);
  const source = await requestSource(flags, seed, false);
  await checkOutputPath(flags.out, '--out');
  if (flags.result !== undefined) await checkOutputPath(flags.result, '--result');
  if (flags.saveRequest !== undefined) await checkOutputPath(flags.saveRequest, '--save-request');

  const original = await readCheckpoint(ctx, flags.model);
  let reference: LoadedModel | undefined;
  try {
    const dataset = await datasetFor(ctx, registries, flags, {
      file: flags.model,
      loaded: original,
    });
    const views = resolveRequest(dataset, source, original.provenance.request, flags.model);
    const config = resolveConfig(method, rawConfig, dataset.id);
    checkSupported(method, views, dataset);
    if (flags.reference !== undefined) {
      reference = await readCheckpoint(ctx, flags.reference, original.model.spec);
      checkReference(ctx, flags.reference, reference.provenance, views);
    }
    await ctx.announceBackend();

    const result = await unlearn(original.model, dataset, views, method, {
      config: rawConfig,
      seed,
      signal: ctx.signal,
      onEvent: unlearnProgress(ctx, config.maxSteps),
    });
    try {
      ctx.progress.stop();
      ctx.signal.throwIfAborted();
      ctx.note('evaluating the unlearned model…');
      const options = { seed, ...(retainSample === undefined ? {} : { retainSample }) };
      const unlearned = summarizeModel(result.model, dataset, views, options);
      ctx.note('evaluating the original model…');
      const originalSummary = summarizeModel(original.model, dataset, views, options);
      let retrained: ModelSummary | undefined;
      if (reference !== undefined) {
        ctx.note('evaluating the reference…');
        retrained = summarizeModel(reference.model, dataset, views, options);
      }
      const provenance = collectProvenance(seed);
      const record = buildRecord({
        dataset,
        views,
        method: { id: result.method, config: result.config as unknown as Record<string, unknown> },
        unlearned,
        original: originalSummary,
        ...(retrained === undefined ? {} : { retrained }),
        cost: { seconds: result.seconds, gradientEvaluations: result.gradientEvaluations },
        provenance,
      });
      ctx.signal.throwIfAborted();

      // Everything succeeded: write the outputs (each atomically).
      const modelProvenance: ModelProvenance = {
        ...(original.provenance.training === undefined
          ? {}
          : { training: original.provenance.training }),
        dataset: { id: dataset.id, options: dataset.options },
        request: { instances: views.request.instances, tasks: views.request.tasks },
        extra: {
          method: result.method,
          config: result.config,
          seconds: result.seconds,
          steps: result.steps,
          epochs: result.epochs,
          gradientEvaluations: result.gradientEvaluations,
          stoppedEarly: result.stoppedEarly,
          seed,
          original: flags.model,
          backend: provenance.backend,
          threads: provenance.threads,
          versions: provenance.versions,
          ...(provenance.gitSha === undefined ? {} : { gitSha: provenance.gitSha }),
          createdAt: provenance.createdAt,
        },
      };
      await ensureParent(flags.out);
      await saveModel(flags.out, result.model, modelProvenance);
      if (flags.result !== undefined) {
        await ensureParent(flags.result);
        await writeResultRecord(flags.result, record);
      }
      if (flags.saveRequest !== undefined) {
        await ensureParent(flags.saveRequest);
        await writeFileAtomic(
          flags.saveRequest,
          `${JSON.stringify({ instances: views.request.instances, tasks: views.request.tasks })}\n`,
        );
      }
      if (ctx.json) {
        printJson(record);
        return;
      }
      printSummary(record, result.method, { seconds: result.seconds, steps: result.steps });
      println(
        `saved ${flags.out}${flags.result === undefined ? '' : `, ${flags.result}`}${flags.saveRequest === undefined ? '' : `, ${flags.saveRequest}`}`,
      );
    } finally {
      result.model.dispose();
    }
  } finally {
    original.model.dispose();
    reference?.model.dispose();
  }
}

/** Warns when the reference was retrained for another request than this one. */
function checkReference(
  ctx: RunContext,
  file: string,
  provenance: ModelProvenance,
  views: RequestViews,
): void {
  const r = provenance.request;
  if (r === undefined) {
    ctx.warn(`${file} records no forget request; UIS-R assumes it was retrained without this one`);
    return;
  }
  const same =
    JSON.stringify([...r.instances].sort((a, b) => a - b)) ===
      JSON.stringify(views.request.instances) &&
    (r.tasks === 'all'
      ? views.setting === 'full-task'
      : JSON.stringify([...r.tasks].sort()) === JSON.stringify([...views.request.tasks].sort()));
  if (!same) {
    ctx.warn(`${file} was retrained for another forget request; UIS-R compares against it anyway`);
  }
}

/** Bar over the run's steps; one line per epoch above it. */
export function unlearnProgress(ctx: RunContext, maxSteps: number): (event: UnlearnEvent) => void {
  let stepsPerEpoch = 0;
  let done = 0;
  return (event) => {
    switch (event.type) {
      case 'start': {
        stepsPerEpoch = event.stepsPerEpoch;
        const total = event.epochs * event.stepsPerEpoch;
        ctx.progress.start(
          `unlearn ${event.method}`,
          maxSteps > 0 ? Math.min(total, maxSteps) : total,
        );
        break;
      }
      case 'step':
        done = event.epoch * stepsPerEpoch + event.step;
        ctx.progress.update(
          done,
          `epoch ${event.epoch + 1}${event.loss === undefined ? '' : ` loss ${fmt(event.loss)}`}`,
        );
        break;
      case 'epoch': {
        const metric =
          event.forgetMetric === undefined
            ? ''
            : `; forget ${Object.entries(event.forgetMetric)
                .map(([t, v]) => `${t} ${fmt(v)}`)
                .join(', ')}`;
        ctx.note(
          `epoch ${event.epoch + 1}/${event.epochs} (${event.seconds.toFixed(2)} s)${metric}`,
        );
        break;
      }
      case 'end':
        ctx.progress.stop();
        if (event.stoppedEarly) ctx.note(`stopped early after ${event.steps} steps`);
        break;
      default:
        break;
    }
  };
}
