/**
 * Runs the built `mtu` (dist/bin.js) as a subprocess, in a working folder, on the wasm backend.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built executable. Build first: `pnpm --filter @mtu/cli build`. */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** What a run of `mtu` produced. */
export interface MtuRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link mtu}. */
export interface MtuOptions {
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
  /** Called with each stderr chunk (e.g. to send a signal once training runs). */
  readonly onStderr?: (chunk: string, child: ReturnType<typeof spawn>) => void;
}

/** Runs `node dist/bin.js ...args` in `cwd` and collects its output. */
export function mtu(
  cwd: string,
  args: readonly string[],
  options: MtuOptions = {},
): Promise<MtuRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, MTU_BACKEND: 'wasm', MTU_DEBUG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      options.onStderr?.(c, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `jobs` with at most `limit` at a time (the machine may have 2 cores). */
export async function pool<T>(jobs: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(jobs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  return results;
}

/** The tiny `scenes` of the tests: 24 train / 8 test images of 16 × 16. */
export const TINY = [
  '--option',
  'trainSize=24',
  '--option',
  'testSize=8',
  '--option',
  'height=16',
  '--option',
  'width=16',
] as const;

/** The `mtu train` arguments of the tiny original model every test file starts from. */
export const TRAIN_TINY: readonly string[] = [
  'train',
  '--dataset',
  'scenes',
  ...TINY,
  '--epochs',
  '1',
  '--out',
  'original.safetensors',
];
