/**
 * `pnpm --filter @mtu/unlearning bench`: the interference-aware method against its ablations on
 * `scenes`, from the same trained model with the same step budget, plus the cost of a run against
 * retraining from scratch. Prints the Markdown table of the unlearning README (`--json`: one JSON
 * line per method).
 *
 * ```sh
 * pnpm --filter @mtu/unlearning bench                        # partial-task, target segmentation
 * pnpm --filter @mtu/unlearning bench --setting full-task
 * pnpm --filter @mtu/unlearning bench --target depth --epochs 3 --seed 1
 * pnpm --filter @mtu/unlearning bench --cache /tmp/mtu-models  # keep the trained models in a folder
 * pnpm --filter @mtu/unlearning bench --refresh 1 --protection-refresh 0   # constraint caching
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
import { PRIMARY_METRIC, evaluate, membershipInference, unlearningImpactScore } from '@mtu/metrics';
import type { ModelEvaluation } from '@mtu/metrics';
import { INTERFERENCE_AWARE_METHODS, unlearn } from '../src/index.js';
import { benchModel } from './models.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    strict: true,
    options: {
      setting: { type: 'string' },
      target: { type: 'string' },
      epochs: { type: 'string' },
      lr: { type: 'string' },
      'train-size': { type: 'string' },
      'train-epochs': { type: 'string' },
      'lambda-retain': { type: 'string' },
      cache: { type: 'string' },
      'norm-restore': { type: 'string' },
      'lambda-forget': { type: 'string' },
      refresh: { type: 'string' },
      'protection-refresh': { type: 'string' },
      constraints: { type: 'string' },
      only: { type: 'string', multiple: true },
      seed: { type: 'string' },
      ratio: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const seed = Number(values.seed ?? 0);
  const setting = values.setting ?? 'partial-task';
  const target = values.target ?? 'segmentation';
  const log = (s: string): void =>
    void (values.json === true ? process.stderr : process.stdout).write(`${s}\n`);
  const info = await initBackend(
    values.threads === undefined ? {} : { threads: Number(values.threads) },
  );
  log(
    `backend ${info.name}, ${info.threads} thread(s); ${cpus()[0]?.model ?? 'CPU'}, ${availableParallelism()} cores`,
  );
  try {
    const registry = createDatasetRegistry();
    registerBuiltinDatasets(registry);
    const trainSize = Number(values['train-size'] ?? 256);
    const trainEpochs = Number(values['train-epochs'] ?? 40);
    const ds = await registry.load('scenes', { seed, trainSize });
    const kinds = Object.fromEntries(ds.tasks.map((t) => [t.name, t.kind]));
    const request = makeForgetRequest(ds, {
      ratio: Number(values.ratio ?? 0.1),
      seed,
      tasks: setting === 'full-task' ? 'all' : [target],
    });
    const views = requestViews(ds, request);
    // --cache DIR reuses the two trained models between runs (keyed by what determines them).
    const modelOptions = { dataset: ds, views, seed, trainSize, trainEpochs, cache: values.cache };
    const { model: original, seconds: originalSeconds } = await benchModel(
      'original',
      modelOptions,
    );
    const trained = { seconds: originalSeconds };
    log(`original: trained in ${trained.seconds.toFixed(1)} s`);
    const { model: retrained, seconds: retrainSeconds } = await benchModel(
      'retrained',
      modelOptions,
    );
    const retrain = { seconds: retrainSeconds };
    log(`retrained on the retained supervision in ${retrain.seconds.toFixed(1)} s`);
    const evalO = evaluate(original, ds, views);
    const evalR = evaluate(retrained, ds, views);
    const miaR = membershipInference(retrained, ds, views);
    const rows: string[] = [];
    const primary = (ev: ModelEvaluation, split: 'forget' | 'test', task: string): number =>
      ev.splits[split][task]!.values[PRIMARY_METRIC[kinds[task]!]]!;
    const describe = (
      label: string,
      ev: ModelEvaluation,
      auc: number,
      seconds: number,
      steps: number,
    ): void => {
      const cells = [label];
      for (const t of views.targetTasks)
        cells.push(`${primary(ev, 'forget', t).toFixed(3)} / ${primary(ev, 'test', t).toFixed(3)}`);
      for (const t of views.nonTargetTasks) {
        const df = primary(ev, 'forget', t) - primary(evalO, 'forget', t);
        const dt = primary(ev, 'test', t) - primary(evalO, 'test', t);
        cells.push(`${df >= 0 ? '+' : ''}${df.toFixed(3)} / ${dt >= 0 ? '+' : ''}${dt.toFixed(3)}`);
      }
      const uis = unlearningImpactScore(evalO, ev, views, kinds, { variant: 'UIS' }).value;
      const uisR = unlearningImpactScore(evalR, ev, views, kinds, { variant: 'UIS-R' }).value;
      cells.push(
        auc.toFixed(3),
        uis.toFixed(2),
        uisR.toFixed(2),
        seconds.toFixed(1),
        steps === 0 ? '–' : String(steps),
      );
      rows.push(`| ${cells.join(' | ')} |`);
    };
    describe(
      'original',
      evalO,
      membershipInference(original, ds, views).combined.auc,
      trained.seconds,
      0,
    );
    describe('retrain (exact)', evalR, miaR.combined.auc, retrain.seconds, 0);
    const refresh = {
      ...(values.refresh === undefined ? {} : { constraintRefresh: Number(values.refresh) }),
      ...(values['protection-refresh'] === undefined
        ? {}
        : { protectionRefresh: Number(values['protection-refresh']) }),
      ...(values.constraints === undefined ? {} : { constraints: Number(values.constraints) }),
    };
    const config = {
      epochs: Number(values.epochs ?? 5),
      earlyStop: false,
      ...(values.lr === undefined ? {} : { learningRate: Number(values.lr) }),
      ...(values['norm-restore'] === undefined
        ? {}
        : { normRestore: Number(values['norm-restore']) }),
      ...(values['lambda-forget'] === undefined
        ? {}
        : { lambdaForget: Number(values['lambda-forget']) }),
      ...(values['lambda-retain'] === undefined
        ? {}
        : { lambdaRetain: Number(values['lambda-retain']) }),
      ...refresh,
    };
    for (const method of INTERFERENCE_AWARE_METHODS.filter(
      (m) => values.only === undefined || values.only.includes(m.id),
    )) {
      const result = await unlearn(original, ds, views, method, { config, seed });
      const ev = evaluate(result.model, ds, views);
      const mia = membershipInference(result.model, ds, views);
      log(
        `${method.id}: ${result.steps} steps in ${result.seconds.toFixed(1)} s (${((1000 * result.seconds) / Math.max(result.steps, 1)).toFixed(0)} ms/step, ${result.gradientEvaluations} gradient evaluations, ${((100 * result.seconds) / retrain.seconds).toFixed(1)}% of the retrain)`,
      );
      if (values.json === true) {
        process.stdout.write(
          `${JSON.stringify({ method: method.id, setting: views.setting, seconds: result.seconds, steps: result.steps, retrainSeconds: retrain.seconds, gradientEvaluations: result.gradientEvaluations, evaluation: ev, miaAuc: mia.combined.auc })}\n`,
        );
      }
      describe(method.id, ev, mia.combined.auc, result.seconds, result.steps);
      result.model.dispose();
    }
    const metricName = (t: string): string => PRIMARY_METRIC[kinds[t]!];
    const header = [
      'model',
      ...views.targetTasks.map((t) => `${t} ${metricName(t)} forget / test (target)`),
      ...views.nonTargetTasks.map((t) => `Δ ${t} ${metricName(t)} forget / test (non-target)`),
      'MIA AUC',
      'UIS',
      'UIS-R',
      'seconds',
      'steps',
    ];
    log(
      `\nscenes (${trainSize} train instances, the rest default; seed ${seed}; original and retrained models: ${trainEpochs} epochs), ${views.setting}, target ${views.targetTasks.join(', ')}, |D_f| = ${views.forget.length}; ${config.epochs} epochs for every method; Δ = change vs the original model`,
    );
    log(`| ${header.join(' | ')} |`);
    log(`| ${header.map(() => '---').join(' | ')} |`);
    for (const r of rows) log(r);
    // The method with its own defaults (early stop on): the cost of a real run.
    const own = await unlearn(original, ds, views, INTERFERENCE_AWARE_METHODS[0]!, {
      seed,
      config: refresh,
    });
    const ownEval = evaluate(own.model, ds, views);
    log(
      `\ninterference-aware with its defaults (early stop on): ${own.steps} steps, ${own.epochs} epoch(s), ${own.seconds.toFixed(1)} s = ${((100 * own.seconds) / retrain.seconds).toFixed(1)}% of the retrain (${retrain.seconds.toFixed(1)} s); ${((1000 * own.seconds) / Math.max(own.steps, 1)).toFixed(0)} ms/step; ${own.gradientEvaluations} gradient evaluations; stopped early: ${own.stoppedEarly}; target forget ${views.targetTasks.map((t) => `${t} ${primary(ownEval, 'forget', t).toFixed(3)}`).join(', ')}`,
    );
    own.model.dispose();
    original.dispose();
    retrained.dispose();
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
