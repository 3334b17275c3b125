/**
 * Backend selection. Nothing here runs on import: call {@link initBackend} explicitly, and
 * {@link shutdownBackend} when done.
 *
 * Backends, in the order `'auto'` tries them:
 *
 * 1. `'tensorflow'`: the native libtensorflow backend of `@tensorflow/tfjs-node-gpu` or
 *    `@tensorflow/tfjs-node`. These packages are not dependencies of MTU (their install script
 *    downloads libtensorflow, which fails offline and on unsupported platforms): install one next
 *    to MTU yourself (`npm i @tensorflow/tfjs-node@4.22.0`) and `'auto'` picks it up.
 * 2. `'wasm'`: `@tensorflow/tfjs-backend-wasm` (XNNPACK, SIMD), multithreaded under Node thanks to
 *    the workspace's patch of that package (see `patches/`). Without the patch (MTU installed from
 *    a registry into another project) it runs single-threaded and reports `threads: 1`.
 * 3. `'cpu'`: the plain JavaScript backend; slow, single-threaded, useful as a reference.
 *
 * @module
 */
import { availableParallelism } from 'node:os';

import { BackendError, ConfigError } from './errors.js';
import {
  registerWasmGradientKernels,
  releaseWinogradHelpers,
  setWasmConvolutions,
  type WasmConvolutions,
} from './kernels/index.js';
import { releaseHostKernels } from './host-kernels/index.js';
import { tf } from './tf.js';

/** Which backend to ask for. `'auto'` tries tfjs-node-gpu, tfjs-node, wasm, then cpu. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * Loads a module by its package name, like `import(specifier)`. {@link initBackend} uses it only
 * for the optional native packages, so tests (or bundlers) can stand in for them.
 */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** Backend to use; overridden by the `MTU_BACKEND` environment variable. Default `'auto'`. */
  readonly prefer?: BackendPreference;
  /**
   * Threads for the wasm backend, a positive integer; at most 8 (`MAX_WASM_THREADS`) are used.
   * Default: the number of cores (`os.availableParallelism()`). Ignored by `'cpu'` (always 1) and
   * `'tensorflow'` (libtensorflow sizes its own pool).
   */
  readonly threads?: number;
  /**
   * How `@tensorflow/tfjs-node-gpu` and `@tensorflow/tfjs-node` are loaded. Default: a dynamic
   * `import()`. Tests inject a fake to simulate installed or missing packages.
   */
  readonly importer?: (specifier: string) => Promise<unknown>;
  /**
   * Wasm only: which kernels compute convolutions — `'xnnpack'` (the default: tfjs' XNNPACK
   * kernels, with which MTU's recorded results were computed) or `'mtu'` (MTU's own wasm SIMD
   * kernels: Winograd F(4×4, 3×3) for 3×3 stride-1 convolutions and packing-free filter-gradient
   * products, shared with a helper thread; ~40% less time on the reference step, with float32 results
   * that differ in the last bits). When given it is set for every backend (`setWasmConvolutions`);
   * when omitted the current choice stays.
   */
  readonly convolutions?: WasmConvolutions;
}

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend name now active: `'tensorflow'`, `'wasm'` or `'cpu'`. */
  readonly name: 'tensorflow' | 'wasm' | 'cpu';
  /** Threads the backend computes with, as the backend reports it (1 for cpu). */
  readonly threads: number;
  /** True when the backend runs on a GPU (tfjs-node-gpu with a visible GPU). */
  readonly gpu: boolean;
}

/** The most threads the wasm backend uses: its C++ side caps its thread pool at 8. */
export const MAX_WASM_THREADS = 8;

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;
/** The priority `@tensorflow/tfjs-backend-wasm` registers its backend with. */
const WASM_PRIORITY = 2;

/** The slice of `@tensorflow/tfjs-backend-wasm` used here (plus the patch's marker). */
interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  /** Set by the workspace's patch when pthreads work under Node. */
  readonly mtuNodeThreads?: number;
}

/** The wasm backend instance's Emscripten module, as far as it is used here. */
interface WasmBackendInternals {
  wasm?: { PThread?: { terminateAllThreads(): void } } | null;
}

let active: BackendInfo | undefined;
/** Threads the live wasm backend instance was created with (undefined: none created by us). */
let wasmThreads: number | undefined;

/** Whether the single-thread fallback of an unpatched wasm package was reported. */
let warnedUnpatched = false;
/** Native packages already reported as broken (warn once per process). */
const warnedBroken = new Set<string>();

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

/**
 * Selects and initialises a TensorFlow.js backend, registering MTU's gradient kernels where the
 * backend lacks them, and makes it the active backend.
 *
 * Calling it again is supported and switches backends (e.g. `cpu` then `wasm` in one test file):
 * tensors stay on the backend that created them, so dispose them before switching. Asking for
 * the wasm backend with a different thread count than the live one disposes that backend (and
 * every tensor on it) and creates a new one. Asking for what is already active is a cheap no-op.
 *
 * The environment variable `MTU_BACKEND` (one of `auto`, `tensorflow`, `wasm`, `cpu`) overrides
 * `options.prefer`.
 *
 * @throws {@link ConfigError} for an invalid `prefer`, `threads` or `MTU_BACKEND`.
 * @throws {@link BackendError} when `'tensorflow'` is asked for and neither native package loads,
 *   or when a backend fails to initialise.
 *
 * @example
 * ```ts
 * const info = await initBackend({ prefer: 'wasm', threads: 2 });
 * console.log(info); // { name: 'wasm', threads: 2, gpu: false }
 * // ... train ...
 * shutdownBackend();
 * ```
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const prefer = resolvePreference(options.prefer);
  const threads = resolveThreads(options.threads);
  if (options.convolutions !== undefined) setWasmConvolutions(options.convolutions);
  const importer = options.importer ?? defaultImporter;

  if (prefer === 'cpu') return useCpu();
  if (prefer === 'wasm') return useWasm(threads);

  const failures: string[] = [];
  const native = await useNative(importer, failures);
  if (native !== undefined) return native;
  if (prefer === 'tensorflow') {
    throw new BackendError(
      'tensorflow',
      `neither ${NATIVE_PACKAGES.join(' nor ')} could be loaded (${failures.join('; ')}). ` +
        'Install one next to MTU, e.g. `npm i @tensorflow/tfjs-node@4.22.0`, or choose ' +
        "prefer: 'wasm'.",
    );
  }
  try {
    return await useWasm(threads);
  } catch (error) {
    process.emitWarning(
      `MTU: the wasm backend failed to initialise (${String(error)}); using the slow cpu backend`,
    );
    return useCpu();
  }
}

/**
 * Releases the active backend's resources so the process can exit, and forgets the choice.
 *
 * For the wasm backend this disposes the backend and every tensor on it and terminates its
 * Emscripten pthread pool; a later {@link initBackend} creates a fresh one. The patched wasm
 * backend's threads do not keep a finished process alive even without this call, but long-lived
 * processes (tests, servers) should still call it. Safe to call twice or before any init.
 *
 * @example
 * ```ts
 * await initBackend({ prefer: 'wasm' });
 * try {
 *   // ... work ...
 * } finally {
 *   shutdownBackend();
 * }
 * ```
 */
export function shutdownBackend(): void {
  if (wasmThreads !== undefined || tf.engine().registry['wasm'] !== undefined) {
    disposeWasmBackend();
  }
  releaseHostKernels();
  active = undefined;
}

/**
 * The backend {@link initBackend} last activated, or `undefined` (none yet, or shut down).
 * Apps record it in their results.
 *
 * @example
 * ```ts
 * await initBackend();
 * const { name, threads, gpu } = activeBackend() ?? { name: 'none', threads: 0, gpu: false };
 * ```
 */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

function resolvePreference(prefer: BackendPreference | undefined): BackendPreference {
  const fromEnv = process.env['MTU_BACKEND'];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isPreference(fromEnv)) {
      throw new ConfigError('MTU_BACKEND', fromEnv, `expected one of ${PREFERENCES.join(', ')}`);
    }
    return fromEnv;
  }
  if (prefer === undefined) return 'auto';
  if (!isPreference(prefer)) {
    throw new ConfigError('prefer', prefer, `expected one of ${PREFERENCES.join(', ')}`);
  }
  return prefer;
}

function isPreference(value: unknown): value is BackendPreference {
  return typeof value === 'string' && (PREFERENCES as readonly string[]).includes(value);
}

function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return Math.min(availableParallelism(), MAX_WASM_THREADS);
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) {
    throw new ConfigError('threads', threads, 'must be a positive integer');
  }
  return Math.min(threads, MAX_WASM_THREADS);
}

async function activate(name: BackendInfo['name']): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    throw new BackendError(name, `failed to initialise: ${String(error)}`, { cause: error });
  }
  if (!ok || tf.getBackend() !== name) throw new BackendError(name, 'failed to initialise');
}

async function useCpu(): Promise<BackendInfo> {
  await activate('cpu');
  // Libraries never print: the cpu backend logs an "install tfjs-node" banner on its first write
  // under Node. MTU chooses backends deliberately (and says which in results), so mark it used.
  const cpu = tf.backend() as { firstUse?: boolean };
  if (cpu.firstUse === true) cpu.firstUse = false;
  active = { name: 'cpu', threads: 1, gpu: false };
  return active;
}

async function useNative(
  importer: ModuleImporter,
  failures: string[],
): Promise<BackendInfo | undefined> {
  for (const pkg of NATIVE_PACKAGES) {
    try {
      await importer(pkg);
    } catch (error) {
      if (isNotInstalled(error, pkg)) {
        failures.push(`${pkg} is not installed`);
      } else {
        failures.push(`${pkg} failed to load: ${String(error)}`);
        if (!warnedBroken.has(pkg)) {
          warnedBroken.add(pkg);
          process.emitWarning(`MTU: ${pkg} is installed but failed to load: ${String(error)}`);
        }
      }
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      failures.push(`${pkg} loaded but registered no 'tensorflow' backend`);
      continue;
    }
    await activate('tensorflow');
    const backend = tf.backend() as { isUsingGpuDevice?: boolean };
    const gpu = pkg === '@tensorflow/tfjs-node-gpu' && backend.isUsingGpuDevice !== false;
    active = { name: 'tensorflow', threads: availableParallelism(), gpu };
    return active;
  }
  return undefined;
}

/** True when `error` says that `pkg` itself (not one of its dependencies) is not installed. */
function isNotInstalled(error: unknown, pkg: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    (message.includes(`'${pkg}'`) || message.includes(`"${pkg}"`))
  );
}

async function useWasm(threads: number): Promise<BackendInfo> {
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as WasmModule;
  registerWasmGradientKernels();
  // Under Node, pthreads need the workspace's patch of tfjs-backend-wasm (real worker file paths
  // instead of blob: URLs, no halving of the thread count); without it, stay single-threaded.
  const multithreaded = threads > 1 && wasm.mtuNodeThreads !== undefined;
  if (threads > 1 && !multithreaded && !warnedUnpatched) {
    warnedUnpatched = true;
    process.emitWarning(
      'MTU: this @tensorflow/tfjs-backend-wasm is not patched for worker threads under Node ' +
        "(the MTU workspace's patches/ folder); the wasm backend runs single-threaded",
    );
  }
  const wanted = multithreaded ? threads : 1;
  if (tf.engine().registry['wasm'] !== undefined && wasmThreads !== wanted) disposeWasmBackend();
  if (tf.engine().registry['wasm'] === undefined) {
    // tfjs answers false for Node; the patched package makes threads work there. A single thread
    // uses the plain SIMD build, which is as fast and starts no workers.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', multithreaded);
    wasm.setThreadsCount(wanted);
  }
  const listenersBefore = processErrorListeners();
  try {
    await activate('wasm');
  } finally {
    removeEmscriptenErrorListeners(listenersBefore);
  }
  wasmThreads = wanted;
  active = { name: 'wasm', threads: wasm.getThreadsCount(), gpu: false };
  return active;
}

type ErrorEvent = 'uncaughtException' | 'unhandledRejection';
const ERROR_EVENTS: readonly ErrorEvent[] = ['uncaughtException', 'unhandledRejection'];

/** `process` as a plain emitter (its typings overload `listeners` per event). */
const emitter: NodeJS.EventEmitter = process;

function processErrorListeners(): Map<ErrorEvent, unknown[]> {
  return new Map(ERROR_EVENTS.map((event) => [event, emitter.listeners(event)]));
}

/**
 * Emscripten's module installs `uncaughtException`/`unhandledRejection` handlers that rethrow.
 * Node already treats both as fatal; the rethrow only turns exit code 1 into 7 and makes Node
 * print the throwing line, a 100 kB line of Emscripten code. Removes the handlers added since
 * `before` that look like these (`throw ex` / `throw reason`).
 */
function removeEmscriptenErrorListeners(before: Map<ErrorEvent, unknown[]>): void {
  for (const event of ERROR_EVENTS) {
    const old = before.get(event) ?? [];
    for (const listener of emitter.listeners(event)) {
      if (old.includes(listener)) continue;
      const source = String(listener);
      if (/throw (ex|reason)\b/.test(source) && source.length < 300) {
        emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

/**
 * Disposes the wasm backend instance (terminating its pthreads) and registers its factory again,
 * so that a later `setBackend('wasm')` creates a fresh instance.
 */
function disposeWasmBackend(): void {
  releaseWinogradHelpers();
  const factory = tf.findBackendFactory('wasm');
  if (factory == null) return;
  const instance = tf.engine().registry['wasm'] as WasmBackendInternals | undefined;
  const pthreads = instance?.wasm?.PThread;
  try {
    // tfjs-core disposes the instance; BackendWasm.dispose terminates the pthreads ...
    tf.removeBackend('wasm');
  } finally {
    // ... and should a dispose fail half-way, no worker survives either (this is idempotent).
    pthreads?.terminateAllThreads();
    if (tf.findBackendFactory('wasm') == null) tf.registerBackend('wasm', factory, WASM_PRIORITY);
  }
  // A backend created implicitly later (e.g. by tfjs' auto-selection) stays single-threaded.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasmThreads = undefined;
}
