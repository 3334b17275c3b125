/**
 * The pieces both apps compose: the registries with every built-in dataset and method, provenance
 * (backend, versions, git SHA), model summaries (per-task metrics + membership inference on a
 * request's splits) and result records built from them.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { activeBackend, tf } from '@mtu/core-tensors';
import { registerBaselines } from '@mtu/baselines';
import type { Dataset, DatasetRegistry, RequestViews } from '@mtu/datasets';
import { createDatasetRegistry, registerBuiltinDatasets } from '@mtu/datasets';
import type { MiaResult, ModelEvaluation, Provenance, ResultRecord, RunCost } from '@mtu/metrics';
import { createResultRecord, evaluate, membershipInference } from '@mtu/metrics';
import type { MultiTaskModel } from '@mtu/multitask-model';
import type { UnlearnerRegistry } from '@mtu/unlearning';
import { createUnlearnerRegistry, registerInterferenceAware } from '@mtu/unlearning';

/** A dataset registry and a method registry. */
export interface Registries {
  readonly datasets: DatasetRegistry;
  readonly methods: UnlearnerRegistry;
}

/**
 * New registries holding every built-in dataset (`scenes`, `multi-mnist`, `nyuv2`, `cityscapes`)
 * and every built-in method (the baselines, then `interference-aware` and its ablations).
 *
 * @example
 * ```ts
 * const { datasets, methods } = createRegistries();
 * const ds = await datasets.load('scenes', { trainSize: 64 });
 * methods.get('salun').settings; // ['full-task', 'partial-task']
 * ```
 */
export function createRegistries(): Registries {
  const datasets = createDatasetRegistry();
  registerBuiltinDatasets(datasets);
  const methods = createUnlearnerRegistry();
  registerBaselines(methods);
  registerInterferenceAware(methods);
  return { datasets, methods };
}

const VERSIONED = [
  '@mtu/core-tensors',
  '@mtu/datasets',
  '@mtu/multitask-model',
  '@mtu/metrics',
  '@mtu/unlearning',
  '@mtu/baselines',
] as const;

/**
 * Versions of the MTU packages this app runs on and of TensorFlow.js, e.g.
 * `{ '@mtu/metrics': '0.1.0', '@tensorflow/tfjs-core': '4.22.0' }`.
 */
export function packageVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const versions: Record<string, string> = {};
  for (const name of VERSIONED) {
    const pkg = require(`${name}/package.json`) as { version: string };
    versions[name] = pkg.version;
  }
  versions['@tensorflow/tfjs-core'] = tf.version_core;
  return versions;
}

/**
 * A 16-hex-digit SHA-256 of the source files under `dir` (`*.ts` / `*.js`, tests and fixtures
 * excluded), paths included: it changes whenever the code in the directory does.
 *
 * @example
 * ```ts
 * sourceFingerprint('packages/metrics/src'); // e.g. '3f9c0a1b2d4e5f60'
 * ```
 */
export function sourceFingerprint(dir: string): string {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__fixtures__' && entry.name !== 'node_modules') walk(path);
      } else if (/\.(ts|js)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) {
        files.push(path);
      }
    }
  };
  walk(dir);
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    hash.update(`${relative(dir, file)}\0`);
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

let fingerprints: Record<string, string> | undefined;

/**
 * {@link sourceFingerprint} of the `src` directory of each MTU library package the benchmark runs
 * (computed once per process): cache keys include them, so a code change that alters training,
 * unlearning or evaluation invalidates cached models and finished cells even while the version
 * numbers stay the same. (The app's own code is not included: a report change reruns nothing.)
 */
export function codeFingerprints(): Readonly<Record<string, string>> {
  if (fingerprints !== undefined) return fingerprints;
  const require = createRequire(import.meta.url);
  const result: Record<string, string> = {};
  for (const name of VERSIONED) {
    result[name] = sourceFingerprint(join(dirname(require.resolve(`${name}/package.json`)), 'src'));
  }
  fingerprints = result;
  return result;
}

/**
 * The git commit of the working tree at `cwd` (with `-dirty` when it has uncommitted changes), or
 * `undefined` outside a repository or without git.
 */
export function gitSha(cwd: string = process.cwd()): string | undefined {
  const git = (args: string[]): string =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
  try {
    const sha = git(['rev-parse', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return undefined;
  }
}

/**
 * Where and how a result is being produced: the active backend (call after `initBackend`), the
 * seed, package versions, git SHA, Node version and platform.
 *
 * @example
 * ```ts
 * await initBackend();
 * const provenance = collectProvenance(0); // { backend: 'wasm', threads: 2, seed: 0, ... }
 * ```
 */
export function collectProvenance(
  seed: number,
  options: { readonly cwd?: string; readonly gitSha?: string } = {},
): Provenance {
  const backend = activeBackend();
  const sha = options.gitSha ?? gitSha(options.cwd);
  return {
    backend: backend?.name ?? 'none',
    threads: backend?.threads ?? 0,
    seed,
    versions: packageVersions(),
    ...(sha === undefined ? {} : { gitSha: sha }),
    node: process.version,
    platform: `${platform()}-${arch()}`,
    createdAt: new Date().toISOString(),
  };
}

/** One model's metrics and membership inference on a request's splits. */
export interface ModelSummary {
  readonly evaluation: ModelEvaluation;
  readonly mia: MiaResult;
}

/** Options of {@link summarizeModel}. */
export interface SummaryOptions {
  /** Evaluate at most this many retain instances (seeded subsample; default: all). */
  readonly retainSample?: number;
  /** Seed of the retain subsample and the attacker's splits (default 0). */
  readonly seed?: number;
}

/**
 * Per-task metrics on forget / retain / test and loss-based membership inference of `model` for
 * the request behind `views`.
 *
 * @example
 * ```ts
 * const s = summarizeModel(model, ds, requestViews(ds, request), { retainSample: 256 });
 * s.evaluation.splits.forget.segmentation.values.mIoU; s.mia.combined.auc;
 * ```
 */
export function summarizeModel(
  model: MultiTaskModel,
  dataset: Dataset,
  views: RequestViews,
  options: SummaryOptions = {},
): ModelSummary {
  const o = {
    seed: options.seed ?? 0,
    ...(options.retainSample === undefined ? {} : { retainSample: options.retainSample }),
  };
  return {
    evaluation: evaluate(model, dataset, views, o),
    mia: membershipInference(model, dataset, views, o),
  };
}

/** What {@link buildRecord} needs. */
export interface RecordInput {
  readonly dataset: Dataset;
  readonly views: RequestViews;
  readonly method: { readonly id: string; readonly config: Readonly<Record<string, unknown>> };
  readonly unlearned: ModelSummary;
  /** The original model's summary: gives UIS and interference. */
  readonly original?: ModelSummary;
  /** The retrained reference's summary: gives UIS-R, Avg. Gap and Δm. */
  readonly retrained?: ModelSummary;
  readonly cost: RunCost;
  readonly provenance: Provenance;
}

/**
 * A result record (schema `mtu-result` v1) with every score the given summaries allow.
 *
 * @example
 * ```ts
 * const record = buildRecord({ dataset: ds, views, method: { id: r.method, config: r.config },
 *   unlearned, original, retrained, cost: { seconds: r.seconds, gradientEvaluations: r.gradientEvaluations },
 *   provenance: collectProvenance(seed) });
 * record.scores.uis?.value;
 * ```
 */
export function buildRecord(input: RecordInput): ResultRecord {
  const { dataset, views } = input;
  return createResultRecord({
    dataset: { id: dataset.id, options: dataset.options },
    request: views.request,
    setting: views.setting,
    targetTasks: views.targetTasks,
    nonTargetTasks: views.nonTargetTasks,
    kinds: Object.fromEntries(dataset.tasks.map((t) => [t.name, t.kind])),
    method: input.method,
    evaluations: {
      unlearned: input.unlearned.evaluation,
      ...(input.original === undefined ? {} : { original: input.original.evaluation }),
      ...(input.retrained === undefined ? {} : { retrained: input.retrained.evaluation }),
    },
    mia: {
      unlearned: input.unlearned.mia,
      ...(input.original === undefined ? {} : { original: input.original.mia }),
      ...(input.retrained === undefined ? {} : { retrained: input.retrained.mia }),
    },
    cost: input.cost,
    provenance: input.provenance,
  });
}
