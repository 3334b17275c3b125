/**
 * A second thread for the Winograd filter-gradient products (see `winograd.ts`).
 *
 * Those products multiply two operands that both change every call, so XNNPACK (which packs its
 * right operand first) spends most of its time packing; MTU runs them with its own SIMD kernel
 * instead. To use both cores, one `worker_threads` worker instantiates the same wasm module on
 * the wasm backend's shared memory and computes half of the 16 products while the calling thread
 * computes the other half. The two meet on a small `SharedArrayBuffer` with `Atomics.wait` /
 * `notify` (synchronous, as tfjs kernels are). The worker is `unref`'d (it never keeps the
 * process alive) and is terminated by `shutdownBackend`. Until it has started (its first
 * milliseconds), or where the memory is not shared (single-threaded wasm), the calling thread
 * computes everything.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';

import { BackendError } from '../errors.js';

/** A `WebAssembly.Memory` (the project's `lib` has no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

/** The part of the WebAssembly JS API used here. */
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}

/**
 * Instantiates the module `bytes` on `memory` (its only import, `env.memory`), synchronously.
 *
 * @example
 * ```ts
 * const exports = instantiate(bytes, memory);
 * ```
 */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): object {
  const wasm = (globalThis as unknown as { readonly WebAssembly: WasmApi }).WebAssembly;
  return new wasm.Instance(new wasm.Module(bytes), { env: { memory } }).exports;
}

/** Slots of the control block (Int32). */
const JOB = 0; // sequence number of the latest job (the main thread bumps it; −1 stops)
const DONE = 1; // sequence number of the latest finished job (the worker sets it)
const READY = 2; // 1 once the worker has instantiated the module
const FAILED = 3; // 1 when a job threw on the worker
const ARGS = 4; // the job's 8 arguments

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, control } = workerData;
const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const ctl = new Int32Array(control);
Atomics.store(ctl, ${READY}, 1);
let seen = Atomics.load(ctl, ${JOB});
for (;;) {
  Atomics.wait(ctl, ${JOB}, seen);
  seen = Atomics.load(ctl, ${JOB});
  if (seen < 0) break;
  const a = ctl.slice(${ARGS}, ${ARGS + 8});
  try {
    exports.filterGradProducts(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
  } catch {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

/** The helper thread of one shared wasm memory. */
export interface ProductHelper {
  /**
   * Runs `filterGradProducts(dt, v, mt, o, c, tiles, from, to)` on the helper thread, starts
   * `own()` on this one, and returns once both are done. Runs everything here when the helper is
   * not ready.
   */
  split(args: readonly number[], own: () => void, whole: () => void): void;
  /** Stops the worker. */
  terminate(): void;
}

/**
 * Starts the helper thread for `memory` (a shared `WebAssembly.Memory`) with the module `bytes`.
 *
 * @example
 * ```ts
 * const helper = startProductHelper(memory, bytes);
 * helper.split([dt, v, mt, o, c, tiles, 8, 16], () => ex.filterGradProducts(dt, v, mt, o, c, tiles, 0, 8), all);
 * ```
 */
export function startProductHelper(memory: WasmMemory, bytes: Uint8Array): ProductHelper {
  const control = new SharedArrayBuffer(4 * (ARGS + 8));
  const ctl = new Int32Array(control);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, bytes, control } });
  worker.unref();
  // A worker that cannot start never sets READY; the calling thread then does all the work.
  worker.on('error', () => undefined);
  let seq = 0;
  return {
    split(args, own, whole) {
      if (Atomics.load(ctl, READY) !== 1 || Atomics.load(ctl, FAILED) === 1) {
        whole();
        return;
      }
      for (let k = 0; k < 8; k++) ctl[ARGS + k] = args[k] ?? 0;
      seq += 1;
      Atomics.store(ctl, JOB, seq);
      Atomics.notify(ctl, JOB);
      own();
      for (;;) {
        const done = Atomics.load(ctl, DONE);
        if (done === seq) break;
        Atomics.wait(ctl, DONE, done);
      }
      if (Atomics.load(ctl, FAILED) === 1) {
        throw new BackendError('wasm', 'Winograd kernels: the helper thread failed a product');
      }
    },
    terminate() {
      Atomics.store(ctl, JOB, -1);
      Atomics.notify(ctl, JOB);
      void worker.terminate();
    },
  };
}
