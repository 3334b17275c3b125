/**
 * Progress bars for the apps (`mtu` and `mtu-bench`), on `cli-progress`: one bar at a time on a
 * stream (stderr by default), drawn only when that stream is a terminal. Log lines go above the
 * bar without breaking it, and are still written when bars are off (piped output, `--json`).
 *
 * @module
 */
import cliProgress from 'cli-progress';

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where bars and log lines go. Default `process.stderr`. */
  readonly stream?: NodeJS.WriteStream;
  /**
   * Whether bars are drawn. Default: `stream.isTTY` (so nothing but log lines reaches a pipe or a
   * file). When false, `start` / `update` / `stop` do nothing and `log` writes plain lines.
   */
  readonly enabled?: boolean;
}

/** One bar at a time, plus log lines; see {@link createProgress}. */
export interface Progress {
  /** Whether bars are drawn (see {@link ProgressOptions.enabled}). */
  readonly enabled: boolean;
  /**
   * Starts a bar: `label [=====-----] done/total | pct% | ETA 12s | info`. A bar already running
   * is stopped first.
   */
  start(label: string, total: number): void;
  /** Sets the bar's progress (`done` of `total`), with an optional short status (e.g. a loss). */
  update(done: number, info?: string): void;
  /** Stops the bar, leaving its final state on its own line. Safe to call when none runs. */
  stop(): void;
  /** Writes one line (a trailing newline is added) above the bar, or plainly when none runs. */
  log(line: string): void;
}

const FORMAT = '{label} [{bar}] {value}/{total} | {percentage}% | ETA {eta_formatted} | {info}';

/**
 * Progress bars on a stream (stderr by default), drawn only when the stream is a terminal or
 * `enabled` says so. Bars and log lines never go to stdout, so `--json` output stays clean.
 *
 * @example
 * ```ts
 * const progress = createProgress({ enabled: process.stderr.isTTY && !json });
 * progress.start('train', epochs * stepsPerEpoch);
 * progress.update(step, `loss 0.412`);
 * progress.log('epoch 1: loss 0.412'); // above the bar
 * progress.stop();
 * ```
 */
export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const enabled = options.enabled ?? stream.isTTY === true;
  let multi: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let info = '';

  const stop = (): void => {
    if (multi === undefined) return;
    multi.stop();
    multi = undefined;
    bar = undefined;
  };

  return {
    enabled,
    start(label, total) {
      stop();
      if (!enabled) return;
      info = '';
      multi = new cliProgress.MultiBar({
        stream,
        format: FORMAT,
        barsize: 24,
        hideCursor: null,
        // The app owns SIGINT (it aborts the run and exits with 130).
        gracefulExit: false,
        etaBuffer: 50,
        fps: 5,
        autopadding: true,
        // Redraw after log lines (which overwrite the bar's line).
        forceRedraw: true,
        linewrap: true,
      });
      bar = multi.create(Math.max(0, total), 0, { label, info });
    },
    update(done, status) {
      if (bar === undefined) return;
      if (status !== undefined) info = status;
      bar.update(done, { info });
    },
    stop,
    log(line) {
      if (multi !== undefined) {
        multi.log(`${line}\n`);
        multi.update();
      } else {
        stream.write(`${line}\n`);
      }
    },
  };
}
