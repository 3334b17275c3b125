/**
 * The `mtu-bench` command line (parsed with commander), as a function for tests: returns the exit
 * code; writes progress to stderr and the tables to stdout.
 *
 * @module
 */
import { cpus, availableParallelism, platform, arch } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { BackendPreference } from '@mtu/core-tensors';
import { shutdownBackend } from '@mtu/core-tensors';
import type { Grid } from './grid.js';
import { expandGrid, parseGrid, readGrid } from './grid.js';
import { createRegistries, gitSha } from './pipeline.js';
import { PRESETS } from './presets.js';
import { createProgress } from './progress.js';
import { writeReports } from './report/index.js';
import type { RunEvent } from './runner.js';
import { runPlan } from './runner.js';
import type { ReportMeta } from './types.js';

function positiveInt(name: string, zero = false) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < (zero ? 0 : 1)) {
      throw new InvalidArgumentError(
        `${name} must be a ${zero ? 'non-negative' : 'positive'} integer, got '${value}'`,
      );
    }
    return n;
  };
}

const PHASE = {
  original: 'original models',
  reference: 'references  ',
  cell: 'cells       ',
} as const;

interface Options {
  grid?: string;
  out?: string;
  cache: string;
  workers?: number;
  threads?: number;
  backend?: BackendPreference;
  methods?: string;
  json?: boolean;
  reportOnly?: boolean;
  quiet?: boolean;
}

function describe(event: RunEvent, log: (line: string) => void): void {
  switch (event.type) {
    case 'plan':
      log(
        `${event.cells} cells (${event.skipped} already done), ${event.originals} original model(s) and ${event.references} reference(s) to build or load; ${event.workers} worker(s) × ${event.threadsPerWorker} thread(s)`,
      );
      break;
    case 'backend':
      log(`backend: ${event.name}, ${event.threads} thread(s) per worker`);
      break;
    case 'task-end': {
      const o = event.outcome;
      let what = `${event.seconds.toFixed(1)} s`;
      if (o !== undefined) {
        if (o.status === 'done') {
          const uis = o.record?.scores.uis?.value;
          what = `UIS ${uis === undefined ? 'n/a' : uis.toFixed(2)}, ${(o.record?.cost.seconds ?? 0).toFixed(1)} s unlearning (${event.seconds.toFixed(1)} s in all)`;
        } else what = `${o.status}: ${o.reason ?? ''}`;
      }
      log(`[${event.kind} ${event.done}/${event.total}] ${event.label}: ${what}`);
      break;
    }
    default:
      break;
  }
}

/**
 * Runs `mtu-bench` with the given arguments (without `node` and the script) and returns the exit
 * code: 0 when every cell finished (done or not applicable), 1 on bad input or a failed cell.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['quick', '--out', 'runs/quick']);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('mtu-bench')
    .description(
      "Run an MTU benchmark grid — datasets × settings × methods × seeds — and write the paper's tables (Markdown, CSV) and an HTML report.",
    )
    .argument('[preset]', `a named grid: ${Object.keys(PRESETS).join(', ')}`, 'quick')
    .option('--grid <file>', 'run a JSON grid file instead of a preset')
    .option('--out <dir>', 'run directory (default: runs/<grid name>)')
    .option(
      '--cache <dir>',
      'cache of original and retrained models, shared between runs',
      join('runs', 'cache'),
    )
    .option(
      '--workers <n>',
      'worker threads (default: the cores; 0 = this thread)',
      positiveInt('--workers', true),
    )
    .option(
      '--threads <n>',
      'backend threads per worker (default: cores / workers)',
      positiveInt('--threads'),
    )
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend').choices([
        'auto',
        'wasm',
        'cpu',
        'tensorflow',
      ]),
    )
    .option('--methods <ids>', 'only these methods (comma-separated ids)')
    .option('--report-only', 'rebuild the reports from the finished cells without running anything')
    .option('--json', 'print the outcomes as JSON on stdout instead of the tables')
    .option('--quiet', 'no progress lines')
    .addHelpText(
      'after',
      `
Examples:
  mtu-bench                       # the quick preset (the project's main job)
  mtu-bench standard --workers 2  # three seeds, every partial-task target
  mtu-bench --grid my-grid.json --out runs/mine
  mtu-bench quick --methods salun,interference-aware

Killing a run and starting it again resumes it: finished cells are not redone.`,
    )
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      writeOut: (s) => process.stdout.write(s),
    });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const opts = program.opts<Options>();
  const presetName = program.args[0] ?? 'quick';
  let grid: Grid;
  if (opts.grid !== undefined) grid = await readGrid(opts.grid);
  else {
    const preset = PRESETS[presetName];
    if (preset === undefined) {
      throw new InvalidArgumentError(
        `unknown preset '${presetName}' (presets: ${Object.keys(PRESETS).join(', ')}; or --grid <file>)`,
      );
    }
    grid = parseGrid(preset, `preset ${presetName}`);
  }
  if (opts.methods !== undefined) {
    const only = opts.methods
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    grid = parseGrid({ ...grid, methods: only }, '--methods');
  }
  const outDir = resolve(opts.out ?? join('runs', grid.name));
  const cacheDir = resolve(opts.cache);
  const progress = createProgress({
    enabled: process.stderr.isTTY === true && opts.quiet !== true && opts.json !== true,
  });
  const log = opts.quiet === true ? () => undefined : (line: string) => progress.log(line);
  let barKind: string | undefined;
  const registries = createRegistries();
  const started = performance.now();
  log(`mtu-bench ${opts.grid ?? presetName}: run directory ${outDir}, cache ${cacheDir}`);
  const plan = await expandGrid(grid, registries);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  let backend = 'not run';
  let counts = { originals: 0, references: 0, cells: 0 };
  let outcomes;
  try {
    outcomes = await runPlan(plan, registries, {
      outDir,
      cacheDir,
      ...(opts.workers === undefined ? {} : { workers: opts.workers }),
      ...(opts.threads === undefined ? {} : { threads: opts.threads }),
      ...(opts.backend === undefined ? {} : { backend: opts.backend }),
      ...(opts.reportOnly === true ? { dryRun: true } : {}),
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'backend')
          backend = `${event.name} (${event.threads} thread(s) per worker)`;
        if (event.type === 'task-start' && event.kind !== barKind) {
          barKind = event.kind;
          const total =
            event.kind === 'original'
              ? counts.originals
              : event.kind === 'reference'
                ? counts.references
                : counts.cells;
          progress.start(PHASE[event.kind], total);
        }
        if (event.type === 'plan') {
          counts = {
            originals: event.originals,
            references: event.references,
            cells: event.cells - event.skipped,
          };
        }
        describe(event, log);
        if (event.type === 'task-end') progress.update(event.done, event.label);
      },
    });
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    progress.stop();
    process.stderr.write(
      'mtu-bench: interrupted; finished cells are kept — run the same command again to resume\n',
    );
    return 130;
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    shutdownBackend();
  }
  const seconds = (performance.now() - started) / 1000;
  const sha = gitSha();
  if (backend === 'not run') {
    // nothing ran in this invocation: the backend the stored results were computed on
    const p = outcomes.find((o) => o.record !== undefined)?.record?.provenance;
    if (p !== undefined) backend = `${p.backend} (${p.threads} thread(s) per worker)`;
  }
  const meta: ReportMeta = {
    title: `MTU benchmark — ${grid.name}`,
    grid: opts.grid ?? `preset ${presetName}`,
    createdAt: new Date().toISOString(),
    ...(sha === undefined ? {} : { gitSha: sha }),
    backend,
    machine: `${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${platform()} ${arch()}, Node ${process.version}`,
    ...(opts.reportOnly === true ? {} : { seconds }),
  };
  const report = await writeReports(join(outDir, 'report'), outcomes, plan.methods, meta);
  if (opts.json === true) {
    process.stdout.write(
      `${JSON.stringify({ outDir, report: report.files, seconds, outcomes: outcomes.map(({ record: _r, ...o }) => ({ ...o, uis: _r?.scores.uis?.value, uisR: _r?.scores.uisR?.value, seconds: _r?.cost.seconds })) }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(`${report.markdown}\n`);
    log(`reports: ${report.files.markdown}, ${report.files.csv}, ${report.files.html}`);
  }
  log(`finished in ${(seconds / 60).toFixed(1)} min`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length > 0) {
    process.stderr.write(
      `mtu-bench: ${failed.length} cell(s) failed: ${failed.map((o) => `${o.id} (${o.reason ?? ''})`).join('; ')}\n`,
    );
    return 1;
  }
  return 0;
}
