/**
 * `pnpm --filter @mtu/baselines bench`: every registered method (the baselines and the paper's
 * method) on `scenes`, full-task and partial-task, one seed, from the same original model: per-task
 * forget / retain / test primary metric, MIA AUC, UIS (vs the original), UIS-R (vs the retrained
 * model) and wall time. Prints the Markdown tables of the baselines README.
 *
 * ```sh
 * pnpm --filter @mtu/baselines bench                      # both settings, every method
 * pnpm --filter @mtu/baselines bench --only finetune --only salun --setting partial-task
 * pnpm --filter @mtu/baselines bench --cache /tmp/mtu-cache  # reuse the trained models
 * ```
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
import { createModel, defaultModelSpec, loadModel, saveModel, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { createUnlearnerRegistry, registerInterferenceAware, unlearn } from '@mtu/unlearning';
import { registerBaselines } from '../src/index.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    strict: true,
    options: {
      setting: { type: 'string', multiple: true },
      target: { type: 'string' },
      only: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'train-size': { type: 'string' },
      'train-epochs': { type: 'string' },
      cache: { type: 'string' },
    },
  });
  const seed = Number(values.seed ?? 0);
  const trainSize = Number(values['train-size'] ?? 256);
  const trainEpochs = Number(values['train-epochs'] ?? 40);
  const target = values.target ?? 'segmentation';
  const info = await initBackend();
  const log = (s: string): void => void process.stdout.write(`${s}\n`);
  log(
    `backend ${info.name}, ${info.threads} thread(s); ${cpus()[0]?.model ?? 'CPU'}, ${availableParallelism()} cores`,
  );
  const methods = createUnlearnerRegistry();
  registerBaselines(methods);
  registerInterferenceAware(methods);
  try {
    const registry = createDatasetRegistry();
    registerBuiltinDatasets(registry);
    const ds = await registry.load('scenes', { seed, trainSize });
    const kinds = Object.fromEntries(ds.tasks.map((t) => [t.name, t.kind]));
    const spec = defaultModelSpec(ds);
    const cached = async (
      key: string,
      make: () => Promise<{ model: MultiTaskModel; seconds: number }>,
    ) => {
      const file =
        values.cache === undefined ? undefined : join(values.cache, `${key}.safetensors`);
      if (file !== undefined && existsSync(file)) {
        const loaded = await loadModel(file, { expectSpec: spec });
        return {
          model: loaded.model,
          seconds: Number(loaded.provenance.extra?.['seconds'] ?? NaN),
        };
      }
      const made = await make();
      if (file !== undefined)
        await saveModel(file, made.model, { extra: { seconds: made.seconds } });
      return made;
    };
    const { model: original } = await cached(
      `original-seed${seed}-n${trainSize}-e${trainEpochs}`,
      async () => {
        const model = createModel(spec, { seed });
        const r = await train(model, ds, { seed, epochs: trainEpochs });
        return { model, seconds: r.seconds };
      },
    );
    for (const setting of values.setting ?? ['full-task', 'partial-task']) {
      const request = makeForgetRequest(ds, {
        ratio: 0.1,
        seed,
        tasks: setting === 'full-task' ? 'all' : [target],
      });
      const views = requestViews(ds, request);
      const { model: retrained, seconds: retrainSeconds } = await cached(
        `retrained-seed${seed}-n${trainSize}-e${trainEpochs}-${setting}-${views.targetTasks.join('+')}`,
        async () => {
          const model = createModel(spec, { seed });
          const r = await train(model, ds, {
            seed,
            epochs: trainEpochs,
            supervision: views.supervision,
          });
          return { model, seconds: r.seconds };
        },
      );
      const evalO = evaluate(original, ds, views);
      const evalR = evaluate(retrained, ds, views);
      const tasks = ds.tasks.map((t) => t.name);
      const header = [
        'method',
        ...tasks.map((t) => `${t} ${PRIMARY_METRIC[kinds[t]!]} F / R / T`),
        'MIA AUC',
        'UIS',
        'UIS-R',
        'seconds',
      ];
      const rows: string[] = [];
      const row = (id: string, ev: ModelEvaluation, auc: number, seconds: number): void => {
        const cells = [id];
        for (const t of tasks) {
          const m = PRIMARY_METRIC[kinds[t]!];
          cells.push(
            (['forget', 'retain', 'test'] as const)
              .map((s) => ev.splits[s][t]!.values[m]!.toFixed(3))
              .join(' / '),
          );
        }
        const uis = unlearningImpactScore(evalO, ev, views, kinds, { variant: 'UIS' }).value;
        const uisR = unlearningImpactScore(evalR, ev, views, kinds, { variant: 'UIS-R' }).value;
        cells.push(auc.toFixed(3), uis.toFixed(2), uisR.toFixed(2), seconds.toFixed(1));
        rows.push(`| ${cells.join(' | ')} |`);
      };
      row('original', evalO, membershipInference(original, ds, views).combined.auc, 0);
      row(
        'retrain (reference)',
        evalR,
        membershipInference(retrained, ds, views).combined.auc,
        retrainSeconds,
      );
      for (const method of methods.list()) {
        if (values.only !== undefined && !values.only.includes(method.id)) continue;
        if (!method.settings.includes(views.setting)) continue;
        try {
          // `retrain` retrains with the original model's recipe (its `epochs` are training epochs).
          const config = method.id === 'retrain' ? { epochs: trainEpochs } : {};
          const r = await unlearn(original, ds, views, method, { seed, config });
          row(
            method.id,
            evaluate(r.model, ds, views),
            membershipInference(r.model, ds, views).combined.auc,
            r.seconds,
          );
          r.model.dispose();
        } catch (error) {
          rows.push(`| ${method.id} | ${(error as Error).message.replace(/\|/g, '/')} |`);
        }
        log(`  ${setting}: ${method.id} done`);
      }
      log(
        `\nscenes (${trainSize} train instances, seed ${seed}; original trained ${trainEpochs} epochs), ${views.setting}${views.setting === 'partial-task' ? ` (target ${views.targetTasks.join(', ')})` : ''}, |D_f| = ${views.forget.length}; every method with its defaults; F / R / T = forget / retain / test`,
      );
      log(`| ${header.join(' | ')} |`);
      log(`| ${header.map(() => '---').join(' | ')} |`);
      for (const r of rows) log(r);
      retrained.dispose();
    }
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
