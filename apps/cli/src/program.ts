/**
 * The `mtu` program: commander wiring, global options, error reporting and exit codes.
 *
 * Exit codes: 0 success; 1 bad input or a failed run (one `mtu: <message>` line on stderr);
 * 2 a command-line usage error (unknown command or option, missing option); 130 interrupted
 * (Ctrl-C), with nothing written.
 *
 * @module
 */
import { Command, CommanderError, Option } from 'commander';
import { shutdownBackend } from '@mtu/core-tensors';
import { UsageError } from './args.js';
import type { GlobalOptions, RunContext } from './context.js';
import { createContext } from './context.js';
import { registerDatasets } from './commands/datasets.js';
import { registerEval } from './commands/eval.js';
import { registerInspect } from './commands/inspect.js';
import { registerMethods } from './commands/methods.js';
import { registerTrain } from './commands/train.js';
import { registerUnlearn } from './commands/unlearn.js';

/** Exit codes of `mtu`. */
export const EXIT = Object.freeze({ ok: 0, error: 1, usage: 2, interrupted: 130 });

/**
 * Wraps a command's implementation as a commander action: builds its {@link RunContext} from the
 * global options and `--json`, and passes the command's flags and positional arguments.
 */
export type CommandRunner = <F extends { readonly json?: boolean }>(
  fn: (ctx: RunContext, flags: F, args: readonly string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

/** Raised on Ctrl-C / SIGTERM as the abort reason. */
class Interrupted extends Error {
  constructor(signal: string) {
    super(`interrupted (${signal}); nothing was written`);
    this.name = 'Interrupted';
  }
}

/** Builds the program; `signal` aborts running commands. */
export function buildProgram(signal: AbortSignal): Command {
  const run: CommandRunner =
    (fn) =>
    async (...args) => {
      const cmd = args.at(-1) as Command;
      const flags = cmd.opts<{ json?: boolean }>();
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const ctx = createContext(globals, flags.json === true, signal);
      try {
        await fn(ctx, flags as never, cmd.processedArgs as string[]);
      } finally {
        ctx.progress.stop();
      }
    };
  const program = new Command('mtu')
    .description(
      'Multi-task machine unlearning: train a multi-task model, send a forget request, unlearn it with any registered method, evaluate, inspect checkpoints.',
    )
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend (MTU_BACKEND overrides)')
        .choices(['auto', 'wasm', 'cpu', 'tensorflow'])
        .default(undefined, 'auto'),
    )
    .option('--threads <n>', 'threads of the wasm backend (default: the number of cores)')
    .option('--quiet', 'print nothing on stderr but errors')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      // Errors are reported by main() as one `mtu: ...` line.
      outputError: () => undefined,
    })
    .addHelpText(
      'after',
      `
Examples:
  $ mtu datasets
  $ mtu train --dataset scenes --option trainSize=256 --epochs 5 --out original.safetensors
  $ mtu unlearn --model original.safetensors --method salun --ratio 0.1 --tasks segmentation --out unlearned.safetensors --result result.json
  $ mtu eval --model unlearned.safetensors --original original.safetensors
  $ mtu inspect unlearned.safetensors

Exit codes: 0 ok, 1 bad input or failed run, 2 usage error, 130 interrupted.
Set MTU_DEBUG=1 to print stack traces.`,
    );
  registerDatasets(program);
  registerMethods(program);
  registerTrain(program, run);
  registerUnlearn(program, run);
  registerEval(program, run);
  registerInspect(program, run);
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput({ outputError: () => undefined });
  }
  return program;
}

/** One line for an error: commander's text without its `error: ` prefix, or our message. */
function errorLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/^error: /, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}

/**
 * Runs `mtu` with `argv` (user arguments, without `node` and the script) and returns the exit code.
 * Installs SIGINT / SIGTERM handlers for the duration: the first aborts the running command
 * (nothing is written; exit 130), a second one exits at once.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new Interrupted(name));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await buildProgram(controller.signal).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.ok; // --help, --version
      if (error.code === 'commander.help' || error.code === 'commander.helpDisplayed') {
        return error.exitCode;
      }
      report(error);
      return EXIT.usage;
    }
    if (controller.signal.aborted) {
      report(controller.signal.reason);
      return EXIT.interrupted;
    }
    report(error);
    return error instanceof UsageError ? EXIT.usage : EXIT.error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    shutdownBackend();
  }
}

function report(error: unknown): void {
  process.stderr.write(`mtu: ${errorLine(error)}\n`);
  if (process.env['MTU_DEBUG'] === '1' && error instanceof Error && error.stack !== undefined) {
    process.stderr.write(`${error.stack}\n`);
  }
}
