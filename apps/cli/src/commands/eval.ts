/**
 * `mtu eval`: metrics of a checkpoint on a forget request's forget / retain / test splits,
 * membership inference, and UIS / UIS-R against an original / a retrained reference.
 *
 * @module
 */
import type { Command } from 'commander';
import { buildRecord, collectProvenance, createRegistries, summarizeModel } from '@mtu/bench';
import type { ModelSummary } from '@mtu/bench';
import type { LoadedModel } from '@mtu/multitask-model';
import { optionalNumber, parsePairs } from '../args.js';
import type { RunContext } from '../context.js';
import type { RequestFlags } from '../load.js';
import { datasetFor, readCheckpoint, requestSource, resolveRequest } from '../load.js';
import { printJson } from '../output.js';
import type { CommandRunner } from '../program.js';
import { printSummary } from '../summary.js';
import { addRequestOptions } from './unlearn.js';

interface EvalFlags extends RequestFlags {
  readonly model: string;
  readonly original?: string;
  readonly reference?: string;
  readonly dataset?: string;
  readonly option?: string[];
  readonly seed?: string;
  readonly retainSample?: string;
  readonly json?: boolean;
}

/** Registers `mtu eval`. */
export function registerEval(program: Command, run: CommandRunner): void {
  const cmd = program
    .command('eval')
    .summary('evaluate a checkpoint on a forget request (metrics, MIA, UIS)')
    .description(
      'Evaluate a model on the forget / retain / test splits of a forget request: per-task metrics (primary: accuracy, mIoU, delta1, within30) and loss-based membership inference (MIA AUC). With --original: UIS (and interference) against the original model; with --reference: UIS-R, Avg. Gap and Δm against the retrained model. The request comes from --request, is drawn (--ratio / --count), or defaults to the one recorded in the checkpoint (as `mtu unlearn` records it). --json prints a result record whose `evaluations.unlearned` is the evaluated model.',
    )
    .requiredOption('--model <ckpt>', 'the checkpoint to evaluate');
  addRequestOptions(cmd)
    .option('--original <ckpt>', 'the original model: gives UIS')
    .option('--reference <ckpt>', 'the retrained reference: gives UIS-R')
    .option('--seed <n>', 'seed of the retain subsample and the attacker (default 0)')
    .option('--retain-sample <n>', 'evaluate at most this many retain instances (default all)')
    .option('--json', 'print the result record as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu eval --model unlearned.safetensors --original original.safetensors
  $ mtu eval --model original.safetensors --request forget.json
  $ mtu eval --model unlearned.safetensors --original original.safetensors --reference retrained.safetensors --json`,
    )
    .action(run((ctx, flags: EvalFlags) => evalCommand(ctx, flags)));
}

async function evalCommand(ctx: RunContext, flags: EvalFlags): Promise<void> {
  const seed = optionalNumber('--seed', flags.seed, { integer: true }) ?? 0;
  const retainSample = optionalNumber('--retain-sample', flags.retainSample, {
    integer: true,
    min: 1,
  });
  const registries = createRegistries();
  parsePairs('--option', flags.option ?? []);
  if (flags.dataset !== undefined) registries.datasets.get(flags.dataset);
  const source = await requestSource(flags, seed, true);

  const loaded = await readCheckpoint(ctx, flags.model);
  const others: LoadedModel[] = [];
  try {
    const dataset = await datasetFor(ctx, registries, flags, { file: flags.model, loaded });
    const views = resolveRequest(dataset, source, loaded.provenance.request, flags.model);
    const original =
      flags.original === undefined
        ? undefined
        : await readCheckpoint(ctx, flags.original, loaded.model.spec);
    if (original !== undefined) others.push(original);
    const reference =
      flags.reference === undefined
        ? undefined
        : await readCheckpoint(ctx, flags.reference, loaded.model.spec);
    if (reference !== undefined) others.push(reference);
    await ctx.announceBackend();

    const options = { seed, ...(retainSample === undefined ? {} : { retainSample }) };
    ctx.note(`evaluating ${flags.model}…`);
    const summary = summarizeModel(loaded.model, dataset, views, options);
    let originalSummary: ModelSummary | undefined;
    if (original !== undefined) {
      ctx.note(`evaluating ${flags.original ?? ''}…`);
      originalSummary = summarizeModel(original.model, dataset, views, options);
    }
    let retrained: ModelSummary | undefined;
    if (reference !== undefined) {
      ctx.note(`evaluating ${flags.reference ?? ''}…`);
      retrained = summarizeModel(reference.model, dataset, views, options);
    }
    const extra = loaded.provenance.extra ?? {};
    const methodId = typeof extra['method'] === 'string' ? extra['method'] : 'none';
    const methodConfig =
      typeof extra['config'] === 'object' && extra['config'] !== null
        ? (extra['config'] as Record<string, unknown>)
        : {};
    const seconds = typeof extra['seconds'] === 'number' ? extra['seconds'] : 0;
    const gradientEvaluations =
      typeof extra['gradientEvaluations'] === 'number' ? extra['gradientEvaluations'] : 0;
    const record = buildRecord({
      dataset,
      views,
      method: { id: methodId, config: methodConfig },
      unlearned: summary,
      ...(originalSummary === undefined ? {} : { original: originalSummary }),
      ...(retrained === undefined ? {} : { retrained }),
      cost: { seconds, gradientEvaluations },
      provenance: collectProvenance(seed),
    });
    if (ctx.json) {
      printJson(record);
      return;
    }
    printSummary(record, flags.model);
  } finally {
    loaded.model.dispose();
    for (const o of others) o.model.dispose();
  }
}
