/**
 * What every command gets: the global options, the backend (started on demand, announced once on
 * stderr), progress bars, the abort signal of Ctrl-C, and a way to talk to the user on stderr.
 *
 * @module
 */
import { activeBackend, initBackend } from '@mtu/core-tensors';
import type { BackendInfo, BackendPreference } from '@mtu/core-tensors';
import { createProgress } from '@mtu/bench';
import type { Progress } from '@mtu/bench';
import { parseNumber } from './args.js';

/** The options of `mtu` itself, valid before or after the command. */
export interface GlobalOptions {
  readonly backend?: BackendPreference;
  readonly threads?: string;
  readonly quiet?: boolean;
}

/** The run-time context of one command. */
export interface RunContext {
  /** `--json`: stdout holds one JSON document; no bars, no chatter. */
  readonly json: boolean;
  /** `--quiet`: nothing on stderr but errors. */
  readonly quiet: boolean;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  readonly signal: AbortSignal;
  /** Progress bars on stderr (drawn only on a terminal, never with `--json` or `--quiet`). */
  readonly progress: Progress;
  /** Starts the backend (once) without announcing it. */
  backend(): Promise<BackendInfo>;
  /** Starts the backend if needed and prints it on stderr, once (not with `--quiet`). */
  announceBackend(): Promise<BackendInfo>;
  /** A line for people on stderr (not with `--quiet` or `--json`); keeps a running bar intact. */
  note(line: string): void;
  /** A warning on stderr (not with `--quiet`). */
  warn(line: string): void;
}

/** Builds the context of a command from the global options and its `--json` flag. */
export function createContext(
  globals: GlobalOptions,
  json: boolean,
  signal: AbortSignal,
): RunContext {
  const quiet = globals.quiet === true;
  const threads =
    globals.threads === undefined
      ? undefined
      : parseNumber('--threads', globals.threads, { integer: true, min: 1 });
  const progress = createProgress({ enabled: process.stderr.isTTY === true && !json && !quiet });
  let started: Promise<BackendInfo> | undefined;
  let announced = false;
  const backend = (): Promise<BackendInfo> => {
    started ??= initBackend({
      ...(globals.backend === undefined ? {} : { prefer: globals.backend }),
      ...(threads === undefined ? {} : { threads }),
    });
    return started;
  };
  return {
    json,
    quiet,
    signal,
    progress,
    backend,
    async announceBackend() {
      const info = await backend();
      if (!announced && !quiet) {
        announced = true;
        const b = activeBackend() ?? info;
        progress.log(
          `backend: ${b.name} (${b.threads} thread${b.threads === 1 ? '' : 's'}${b.gpu ? ', GPU' : ''})`,
        );
      }
      return info;
    },
    note(line) {
      if (!quiet && !json) progress.log(line);
    },
    warn(line) {
      if (!quiet) progress.log(`warning: ${line}`);
    },
  };
}
