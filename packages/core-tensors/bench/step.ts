/**
 * `pnpm bench:step`: times the reference training step `ref-step-v1` (see `src/ref-step.ts`).
 *
 * ```sh
 * pnpm bench:step --backend wasm --threads 2          # readable table
 * pnpm -s bench:step --backend wasm --threads 2 --json   # one JSON line on stdout
 * pnpm bench:step --backend wasm --compare-cpu        # 5 losses vs the cpu backend (slow)
 * pnpm bench:step --backend wasm --profile            # time per kernel over a few steps
 * ```
 *
 * The median is over `--steps` (default 30) synchronised steps after `--warmup` (default 5).
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';

import {
  initBackend,
  shutdownBackend,
  type BackendInfo,
  type BackendPreference,
} from '../src/backend.js';
import { MtuError } from '../src/errors.js';
import { createRefStep, REF_STEP_MODEL, refStepFlops, type RefStep } from '../src/ref-step.js';
import { tf } from '../src/tf.js';

const USAGE = `Usage: pnpm bench:step [options]

  --backend <auto|tensorflow|wasm|cpu>  backend to time (default: auto; MTU_BACKEND overrides)
  --threads <n>      wasm threads (default: cores = ${availableParallelism()})
  --steps <n>        timed steps, median reported (default: 30)
  --warmup <n>       untimed steps first (default: 5)
  --batch <n>        batch size (default: 16)
  --size <n>         input height/width, a multiple of 4 (default: 64)
  --seed <n>         seed of weights and data (default: 0)
  --json             print one JSON line instead of a table
  --compare-cpu      also run 5 steps on the cpu backend and compare losses (rel. tol 1e-3);
                     at the default size the cpu backend needs about a minute per step
  --profile          time each kernel over --steps steps and print where the time goes
  --autodiff         use stock tfjs ops and autodiff instead of the hand-written gradients
  --convolutions <xnnpack|mtu>  wasm convolution kernels (default: xnnpack); mtu: MTU's own
                     (Winograd F(4×4, 3×3) for 3×3 stride 1, packing-free filter gradients)
  --help             this text`;

interface Args {
  backend: BackendPreference;
  threads: number | undefined;
  steps: number;
  warmup: number;
  batch: number;
  size: number;
  seed: number;
  json: boolean;
  compareCpu: boolean;
  profile: boolean;
  autodiff: boolean;
  convolutions: 'xnnpack' | 'mtu';
}

class UsageError extends Error {}

function parse(argv: string[]): Args | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv[0] === '--' ? argv.slice(1) : argv,
      strict: true,
      allowPositionals: false,
      options: {
        backend: { type: 'string' },
        threads: { type: 'string' },
        steps: { type: 'string' },
        warmup: { type: 'string' },
        batch: { type: 'string' },
        size: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
        'compare-cpu': { type: 'boolean' },
        profile: { type: 'boolean' },
        autodiff: { type: 'boolean' },
        convolutions: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help === true) return 'help';
  const backend = values.backend ?? 'auto';
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new UsageError(`--backend must be one of auto, tensorflow, wasm, cpu (got '${backend}')`);
  }
  const int = (name: string, text: string | undefined, fallback: number, min: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new UsageError(`--${name} must be an integer >= ${min} (got '${text}')`);
    }
    return n;
  };
  const size = int('size', values.size, 64, 4);
  if (size % 4 !== 0) throw new UsageError(`--size must be a multiple of 4 (got ${size})`);
  return {
    backend: backend as BackendPreference,
    threads: values.threads === undefined ? undefined : int('threads', values.threads, 1, 1),
    steps: int('steps', values.steps, 30, 1),
    warmup: int('warmup', values.warmup, 5, 0),
    batch: int('batch', values.batch, 16, 1),
    size,
    seed: int('seed', values.seed, 0, 0),
    json: values.json === true,
    compareCpu: values['compare-cpu'] === true,
    profile: values.profile === true,
    autodiff: values.autodiff === true,
    convolutions: convolutionsArg(values.convolutions),
  };
}

function convolutionsArg(value: string | undefined): 'xnnpack' | 'mtu' {
  if (value === undefined || value === 'xnnpack' || value === 'mtu') return value ?? 'xnnpack';
  throw new UsageError(`--convolutions must be xnnpack or mtu (got '${value}')`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

function modelName(args: Args): string {
  const base =
    args.batch === 16 && args.size === 64
      ? REF_STEP_MODEL
      : `${REF_STEP_MODEL}/batch${args.batch}x${args.size}`;
  return args.autodiff ? `${base}/autodiff` : base;
}

function refStep(args: Args): RefStep {
  return createRefStep({
    batch: args.batch,
    size: args.size,
    seed: args.seed,
    autodiff: args.autodiff,
  });
}

async function init(args: Args): Promise<BackendInfo> {
  return initBackend(
    args.threads === undefined
      ? { prefer: args.backend, convolutions: args.convolutions }
      : { prefer: args.backend, threads: args.threads, convolutions: args.convolutions },
  );
}

function runLosses(args: Args, steps: number): number[] {
  const ref = refStep(args);
  try {
    return Array.from({ length: steps }, () => ref.step());
  } finally {
    ref.dispose();
  }
}

async function time(args: Args): Promise<void> {
  const info = await init(args);
  const ref = refStep(args);
  for (let i = 0; i < args.warmup; i++) ref.step();
  const ms: number[] = [];
  let loss = NaN;
  for (let i = 0; i < args.steps; i++) {
    const t0 = performance.now();
    loss = ref.step();
    ms.push(performance.now() - t0);
  }
  ref.dispose();
  const msMedian = median(ms);
  const gflops = ref.flops / 1e9 / (msMedian / 1000);
  const result = {
    backend: info.name,
    threads: info.threads,
    model: modelName(args),
    msPerStepMedian: round(msMedian, 2),
    gflops: round(gflops, 2),
    steps: args.steps,
    ...(args.convolutions === 'mtu' ? { convolutions: 'mtu' } : {}),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const rows: [string, string][] = [
    ['model', result.model],
    ['backend', `${info.name}${info.gpu ? ' (gpu)' : ''}`],
    ['threads', String(info.threads)],
    ['convolution kernels', args.convolutions],
    ['GFLOP per step', (ref.flops / 1e9).toFixed(3)],
    ['steps (after warm-up)', `${args.steps} (${args.warmup})`],
    ['ms/step median', msMedian.toFixed(1)],
    [
      'ms/step min .. max',
      `${(sorted[0] ?? NaN).toFixed(1)} .. ${(sorted.at(-1) ?? NaN).toFixed(1)}`,
    ],
    ['GFLOP/s (median)', gflops.toFixed(2)],
    ['last loss', loss.toFixed(5)],
  ];
  printTable(rows);
}

async function compareCpu(args: Args): Promise<boolean> {
  const steps = 5;
  const info = await init(args);
  const t0 = performance.now();
  const target = runLosses(args, steps);
  const targetMs = performance.now() - t0;
  shutdownBackend();
  await initBackend({ prefer: 'cpu' });
  const t1 = performance.now();
  const cpu = runLosses(args, steps);
  const cpuMs = performance.now() - t1;
  const rel = target.map((l, i) => Math.abs(l - (cpu[i] ?? NaN)) / Math.abs(cpu[i] ?? NaN));
  const worst = Math.max(...rel);
  const ok = worst <= 1e-3;
  const result = {
    model: modelName(args),
    backend: info.name,
    threads: info.threads,
    losses: target,
    cpuLosses: cpu,
    maxRelDiff: worst,
    ok,
    msPerStep: round(targetMs / steps, 1),
    cpuMsPerStep: round(cpuMs / steps, 1),
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    printTable([
      ['model', result.model],
      ['step', `${info.name} loss | cpu loss | rel. diff`],
      ...target.map((l, i): [string, string] => [
        String(i + 1),
        `${l.toFixed(6)} | ${(cpu[i] ?? NaN).toFixed(6)} | ${(rel[i] ?? NaN).toExponential(2)}`,
      ]),
      ['max rel. diff', `${worst.toExponential(2)} (${ok ? 'ok' : 'FAIL'}, tolerance 1e-3)`],
      ['ms/step', `${info.name} ${result.msPerStep}, cpu ${result.cpuMsPerStep}`],
    ]);
  }
  return ok;
}

async function profile(args: Args): Promise<void> {
  const info = await init(args);
  const ref = refStep(args);
  for (let i = 0; i < Math.max(args.warmup, 1); i++) ref.step();
  // tf.profile reads every kernel's output back to check it for NaN; that would skew the timings.
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  let wallMs = 0;
  for (let i = 0; i < args.steps; i++) {
    const t0 = performance.now();
    const p = await tf.profile(() => {
      ref.step();
    });
    wallMs += performance.now() - t0;
    for (const k of p.kernels) {
      const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
      entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      entry.calls += 1;
      byKernel.set(k.name, entry);
    }
  }
  ref.dispose();
  // Op-level wrappers (customGrad's 'forward', tfjs' `*__op`) contain other kernels' time.
  const isWrapper = (name: string): boolean => name === 'forward' || name.endsWith('__op');
  const total = [...byKernel.entries()]
    .filter(([name]) => !isWrapper(name))
    .reduce((a, [, e]) => a + e.ms, 0);
  const rows = [...byKernel.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([name, e]) => ({
      kernel: isWrapper(name) ? `(${name}, includes the above)` : name,
      msPerStep: round(e.ms / args.steps, 2),
      callsPerStep: e.calls / args.steps,
      share: isWrapper(name) ? 0 : round(e.ms / total, 4),
    }));
  const summary = {
    backend: info.name,
    threads: info.threads,
    model: modelName(args),
    steps: args.steps,
    wallMsPerStep: round(wallMs / args.steps, 2),
    kernelMsPerStep: round(total / args.steps, 2),
    kernels: rows,
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  printTable([
    ['model', summary.model],
    ['backend / threads', `${info.name} / ${info.threads}`],
    ['wall ms/step (profiled)', summary.wallMsPerStep.toFixed(1)],
    ['kernel ms/step (sum)', summary.kernelMsPerStep.toFixed(1)],
    [
      'outside kernels',
      `${(summary.wallMsPerStep - summary.kernelMsPerStep).toFixed(1)} ms/step (JS, tape, sync)`,
    ],
  ]);
  console.log('');
  console.log(
    `${'kernel'.padEnd(28)} ${'ms/step'.padStart(9)} ${'calls'.padStart(6)} ${'share'.padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.kernel.padEnd(28)} ${r.msPerStep.toFixed(2).padStart(9)} ${String(r.callsPerStep).padStart(6)} ${(100 * r.share).toFixed(1).padStart(6)}%`,
    );
  }
}

function printTable(rows: readonly (readonly [string, string])[]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function main(): Promise<number> {
  let args: Args | 'help';
  try {
    args = parse(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench:step: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (args === 'help') {
    console.log(USAGE);
    return 0;
  }
  // Validates the sizes early, with the same errors as createRefStep.
  refStepFlops(args.batch, args.size);
  try {
    if (args.compareCpu) return (await compareCpu(args)) ? 0 : 1;
    if (args.profile) await profile(args);
    else await time(args);
    return 0;
  } finally {
    shutdownBackend();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bench:step: ${error instanceof MtuError ? error.message : String(error)}`);
    if (!(error instanceof MtuError) && error instanceof Error && error.stack)
      console.error(error.stack);
    process.exitCode = 1;
  },
);
