/**
 * The conformance kit: the checks every registered unlearning method must pass.
 *
 * @module
 */
import { ConfigError, MtuError, tf } from '@mtu/core-tensors';
import type { Dataset, ForgetRequest } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import type { MultiTaskModel } from '@mtu/multitask-model';
import { resolveConfig } from '../config.js';
import type { LoopConfig, Unlearner } from '../contract.js';
import { unlearn } from '../loop.js';

/** A conformance check failed; the message says what the method did wrong. */
export class ConformanceError extends MtuError {
  constructor(method: string, check: string, message: string) {
    super('E_CONFORMANCE', `${method}: ${check}: ${message}`);
  }
}

/** A small trained model and two requests to run methods against. */
export interface ConformanceFixture {
  readonly dataset: Dataset;
  /** The original model (never to be modified by a method). */
  readonly model: MultiTaskModel;
  readonly requests: {
    readonly 'full-task': ForgetRequest;
    readonly 'partial-task': ForgetRequest;
  };
  dispose(): void;
}

/**
 * A toy dataset (classification, segmentation, depth; 24 train / 8 test instances of 8×8) and a
 * tiny model trained on it for 3 epochs, with a full-task and a partial-task request. Needs an
 * initialised backend.
 *
 * @example
 * ```ts
 * const fixture = await createConformanceFixture();
 * // ... run checks ...
 * fixture.dispose();
 * ```
 */
export async function createConformanceFixture(): Promise<ConformanceFixture> {
  const dataset = createToyDataset({
    seed: 5,
    trainSize: 24,
    testSize: 8,
    size: 8,
    kinds: ['classification', 'segmentation', 'depth'],
  });
  const model = createModel(
    defaultModelSpec(dataset, { backbone: { width: 4, stages: 1 }, hidden: 8 }),
    { seed: 0 },
  );
  await train(model, dataset, { epochs: 3, batchSize: 8 });
  return {
    dataset,
    model,
    requests: {
      'full-task': { instances: [1, 5, 9, 13], tasks: 'all' },
      'partial-task': { instances: [2, 6, 10, 14], tasks: ['segmentation'] },
    },
    dispose: () => model.dispose(),
  };
}

/** One check: `run` resolves, or rejects with a {@link ConformanceError}. */
export interface ConformanceCheck {
  readonly name: string;
  run(fixture: ConformanceFixture): Promise<void>;
}

/** Options of {@link conformanceChecks}. */
export interface ConformanceOptions {
  /** A small-budget config for the runs (merged over the defaults), e.g. `{ epochs: 1 }`. */
  readonly config?: Readonly<Record<string, unknown>>;
}

function weightsOf(model: MultiTaskModel): Float32Array {
  const w = model.flatWeights();
  const v = Float32Array.from(w.dataSync());
  w.dispose();
  return v;
}

function sameArrays(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * The checks of the Unlearner contract, to wrap in your test runner:
 *
 * - same seed → same weights; no tensor leaks; defaults parse and round-trip, unknown options are
 *   rejected naming `<id>.<option>`; abort honoured within one step (and before the first);
 *   a zero budget leaves the model unchanged; unsupported request kinds rejected with a clear
 *   error; the original model is never mutated; every approximate method names its reference; a
 *   run with a budget changes the weights in every supported setting.
 *
 * @example
 * ```ts
 * let fixture: ConformanceFixture;
 * beforeAll(async () => { await initBackend({ prefer: 'wasm', threads: 1 }); fixture = await createConformanceFixture(); });
 * for (const check of conformanceChecks(myMethod, { config: { epochs: 1 } })) {
 *   it(check.name, () => check.run(fixture));
 * }
 * ```
 */
export function conformanceChecks<C extends LoopConfig, S>(
  unlearner: Unlearner<C, S>,
  options: ConformanceOptions = {},
): ConformanceCheck[] {
  const u = unlearner as unknown as Unlearner<LoopConfig, unknown>;
  const id = unlearner.id;
  const config = { ...options.config };
  const fail = (check: string, message: string): never => {
    throw new ConformanceError(id, check, message);
  };
  const setting = unlearner.settings[0] ?? fail('settings', 'supports no setting');
  const run = (
    fixture: ConformanceFixture,
    extra: Record<string, unknown> = {},
    seed = 0,
    which = setting,
  ) =>
    unlearn(fixture.model, fixture.dataset, fixture.requests[which], u, {
      config: { ...config, ...extra },
      seed,
    });

  return [
    {
      name: 'same seed gives the same weights',
      async run(fixture) {
        const a = await run(fixture, {}, 3);
        const b = await run(fixture, {}, 3);
        const [wa, wb] = [weightsOf(a.model), weightsOf(b.model)];
        a.model.dispose();
        b.model.dispose();
        if (!sameArrays(wa, wb)) fail('determinism', 'two runs with seed 3 gave different weights');
      },
    },
    {
      name: 'no tensor leaks',
      async run(fixture) {
        for (const s of unlearner.settings) {
          await run(fixture, {}, 0, s).then((r) => r.model.dispose()); // warm-up (kernels, caches)
          const before = tf.memory().numTensors;
          const r = await run(fixture, {}, 0, s);
          r.model.dispose();
          const after = tf.memory().numTensors;
          if (after !== before)
            fail('tensor hygiene', `${after - before} tensor(s) leaked by one ${s} run`);
        }
      },
    },
    {
      name: 'defaults parse and round-trip; unknown options are rejected',
      run() {
        const resolved = resolveConfig(u, {});
        if (JSON.stringify(resolved) !== JSON.stringify(unlearner.defaults)) {
          fail('defaults', 'the schema changes the defaults');
        }
        const again = resolveConfig(
          u,
          JSON.parse(JSON.stringify(resolved)) as Record<string, unknown>,
        );
        if (JSON.stringify(again) !== JSON.stringify(resolved))
          fail('defaults', 'a JSON round trip changes the config');
        try {
          resolveConfig(u, { __notAnOption: 1 });
        } catch (error) {
          if (error instanceof ConfigError && error.field === `${id}.__notAnOption`)
            return Promise.resolve();
          fail('config', `an unknown option gave ${String(error)}`);
        }
        return fail('config', 'an unknown option was accepted');
      },
    },
    {
      name: 'abort is honoured before the first step and within one step',
      async run(fixture) {
        const pre = new AbortController();
        pre.abort(new Error('stop-before'));
        const rejected = await unlearn(
          fixture.model,
          fixture.dataset,
          fixture.requests[setting],
          u,
          {
            config,
            signal: pre.signal,
          },
        ).then(
          (r) => (r.model.dispose(), false),
          () => true,
        );
        if (!rejected) fail('abort', 'a run with an aborted signal completed');
        const controller = new AbortController();
        let steps = 0;
        let afterAbort = 0;
        const outcome = await unlearn(
          fixture.model,
          fixture.dataset,
          fixture.requests[setting],
          u,
          {
            config: { ...config, epochs: Math.max(2, Number(config['epochs'] ?? 2)) },
            signal: controller.signal,
            onEvent: (e) => {
              if (e.type !== 'step') return;
              if (controller.signal.aborted) afterAbort++;
              if (++steps === 1) controller.abort(new Error('stop'));
            },
          },
        ).then(
          (r) => (r.model.dispose(), 'completed'),
          (e: unknown) => (e instanceof Error && e.message === 'stop' ? 'aborted' : String(e)),
        );
        if (steps > 0 && outcome !== 'aborted')
          fail('abort', `aborting after the first step gave: ${outcome}`);
        if (afterAbort > 0) fail('abort', `${afterAbort} step(s) ran after the abort`);
      },
    },
    {
      name: 'a zero budget leaves the model unchanged',
      async run(fixture) {
        const r = await run(fixture, { epochs: 0 });
        const [w0, w1] = [weightsOf(fixture.model), weightsOf(r.model)];
        r.model.dispose();
        if (!sameArrays(w0, w1)) fail('budget', 'epochs: 0 changed the weights');
      },
    },
    {
      name: 'unsupported request kinds are rejected with a clear error',
      async run(fixture) {
        for (const s of ['full-task', 'partial-task'] as const) {
          if (unlearner.settings.includes(s)) continue;
          const err = await run(fixture, {}, 0, s).then(
            (r) => (r.model.dispose(), undefined),
            (e: unknown) => e,
          );
          if (!(err instanceof ConfigError) || !err.message.includes('does not support')) {
            fail('settings', `a ${s} request was not rejected with a ConfigError (${String(err)})`);
          }
        }
        const bad = await unlearn(
          fixture.model,
          fixture.dataset,
          { instances: [], tasks: 'all' },
          u,
          { config },
        ).then(
          (r) => (r.model.dispose(), undefined),
          (e: unknown) => e,
        );
        if (!(bad instanceof ConfigError))
          fail('request', 'an empty request was not rejected with a ConfigError');
      },
    },
    {
      name: 'the original model is never mutated',
      async run(fixture) {
        const before = weightsOf(fixture.model);
        for (const s of unlearner.settings) {
          const r = await run(fixture, {}, 1, s);
          r.model.dispose();
        }
        if (!sameArrays(before, weightsOf(fixture.model)))
          fail('original', 'the original weights changed');
      },
    },
    {
      name: 'an approximate method names its reference',
      run() {
        const ref = unlearner.reference;
        if (
          unlearner.approximate &&
          (ref.title === '' || !/^https?:\/\//.test(ref.url) || ref.authors === '')
        ) {
          fail('reference', 'an approximate method needs a title, authors and a URL');
        }
        return Promise.resolve();
      },
    },
    {
      name: 'a run with a budget changes the weights in every supported setting',
      async run(fixture) {
        const w0 = weightsOf(fixture.model);
        for (const s of unlearner.settings) {
          const r = await run(fixture, { earlyStop: false }, 0, s);
          const w = weightsOf(r.model);
          r.model.dispose();
          if (sameArrays(w0, w)) fail('effect', `a ${s} run left the weights unchanged`);
        }
      },
    },
  ];
}
