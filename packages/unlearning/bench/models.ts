/**
 * The trained models of the unlearning benches (`compare.ts`, `cost.ts`): the original model and
 * the retrained one, optionally kept in a folder (`--cache DIR`) under a key of what determines
 * them, so that both benches reuse the same files.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, RequestViews } from '@mtu/datasets';
import { createModel, defaultModelSpec, loadModel, saveModel, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';

/** What determines a bench model. */
export interface BenchModelOptions {
  readonly dataset: Dataset;
  readonly views: RequestViews;
  readonly seed: number;
  readonly trainSize: number;
  readonly trainEpochs: number;
  /** The folder of `--cache`, or undefined (train every time). */
  readonly cache: string | undefined;
}

/**
 * The `'original'` model (trained on everything) or the `'retrained'` one (on the retained
 * supervision: exact unlearning), from the cache folder when it has it, else trained (and saved
 * there). `seconds` is the training time (recorded in the file's provenance when cached).
 */
export async function benchModel(
  name: 'original' | 'retrained',
  options: BenchModelOptions,
): Promise<{ model: MultiTaskModel; seconds: number }> {
  const { dataset, views, seed, trainSize, trainEpochs, cache } = options;
  const spec = defaultModelSpec(dataset);
  const key = `${name}-seed${seed}-n${trainSize}-e${trainEpochs}-${views.setting}-${views.targetTasks.join('+')}.safetensors`;
  const file = cache === undefined ? undefined : join(cache, key);
  if (file !== undefined && existsSync(file)) {
    const loaded = await loadModel(file, { expectSpec: spec });
    return { model: loaded.model, seconds: Number(loaded.provenance.extra?.['seconds'] ?? NaN) };
  }
  const model = createModel(spec, { seed });
  const r = await train(model, dataset, {
    seed,
    epochs: trainEpochs,
    ...(name === 'retrained' ? { supervision: views.supervision } : {}),
  });
  if (file !== undefined)
    await saveModel(file, model, { training: r.config, extra: { seconds: r.seconds } });
  return { model, seconds: r.seconds };
}
