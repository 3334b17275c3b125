/**
 * A second thread for MTU's own wasm kernels (see `winograd.ts`).
 *
 * The transforms and the matrix products run in MTU's wasm module, not in XNNPACK's thread pool
 * (the products multiply two operands that both change every call, so XNNPACK, which packs its
 * right operand first, would spend most of its time packing). To use both cores, one
 * `worker_threads` worker instantiates the same wasm module on the wasm backend's shared memory.
 * For each job (the images of a batch, the 36 products, the row blocks of a product) the worker
 * and the calling thread claim items one at a time from a shared atomic counter, until none is
 * left. They meet on a small `SharedArrayBuffer` with `Atomics.wait` / `notify` (synchronous, as
 * tfjs kernels are). The worker is `unref`'d (it never keeps the process alive) and is terminated
 * by `shutdownBackend`. Until it has started (its first milliseconds), or where the memory is not
 * shared (single-threaded wasm), the calling thread computes everything.
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

/**
 * `bytes` with its memory import declared unshared: a copy in which the limits flag of the
 * `memory` import (section 2) goes from 3 (shared, with maximum) to 1 (maximum only). The module
 * MTU compiles imports a shared memory; the single-threaded wasm backend's memory is not shared,
 * and an import must match it exactly.
 *
 * @throws {@link BackendError} when the module has no shared memory import.
 *
 * @example
 * ```ts
 * const exports = instantiate(unsharedMemoryVariant(bytes), memory); // memory: not shared
 * ```
 */
export function unsharedMemoryVariant(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  let at = 8; // magic and version
  const leb = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = out[at++] ?? 0;
      value |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return value;
    }
  };
  const name = (): string => {
    const length = leb();
    const text = Buffer.from(out.subarray(at, at + length)).toString('utf8');
    at += length;
    return text;
  };
  while (at < out.length) {
    const id = out[at++];
    const size = leb();
    const end = at + size;
    if (id === 2) {
      for (let count = leb(); count > 0; count--) {
        const field = `${name()}.${name()}`;
        const kind = out[at++];
        if (kind === 2 && field === 'env.memory' && out[at] === 3) {
          out[at] = 1;
          return out;
        }
        // function (type index), table (type, limits), global (type, mut): skip them
        if (kind === 0) leb();
        else if (kind === 1) {
          at++;
          if ((out[at++] ?? 0) & 1) leb();
          leb();
        } else if (kind === 3) at += 2;
        else break;
      }
    }
    at = end;
  }
  throw new BackendError('wasm', 'Winograd module: no shared env.memory import to unshare');
}

/** Slots of the control block (Int32). */
const JOB = 0; // sequence number of the latest job (the main thread bumps it; −1 stops)
const DONE = 1; // sequence number of the latest job the worker has finished its part of
const READY = 2; // 1 once the worker has instantiated the module
const FAILED = 3; // 1 when a call threw on the worker
const OP = 4; // index of the job's function in HELPER_OPS
const NEXT = 5; // next unclaimed item of the job
const COUNT = 6; // items of the job
const RANGE = 7; // position of the item range [i, i + 1) in the arguments
const ITEMS = 8; // items the worker has run, all jobs together
const ARGS = 9; // the job's arguments
const MAX_ARGS = 12;

/** The functions of the wasm module a helper job can run (by index). */
export const HELPER_OPS: readonly string[] = [
  'filterGradProducts',
  'inputTransform',
  'outputTransform',
  'gradTransformT',
  'forwardProducts',
  'gemmRows',
  'filterGradDirect',
];

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { memory, bytes, control } = workerData;
const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
const ctl = new Int32Array(control);
const ops = ${JSON.stringify(HELPER_OPS)}.map((name) => exports[name]);
Atomics.store(ctl, ${READY}, 1);
let seen = Atomics.load(ctl, ${JOB});
for (;;) {
  Atomics.wait(ctl, ${JOB}, seen);
  seen = Atomics.load(ctl, ${JOB});
  if (seen < 0) break;
  const fn = ops[ctl[${OP}]];
  const args = Array.from(ctl.subarray(${ARGS}, ${ARGS + MAX_ARGS}));
  const count = ctl[${COUNT}];
  const at = ctl[${RANGE}];
  try {
    for (;;) {
      const i = Atomics.add(ctl, ${NEXT}, 1);
      if (i >= count) break;
      args[at] = i;
      args[at + 1] = i + 1;
      fn(...args);
      Atomics.add(ctl, ${ITEMS}, 1);
    }
  } catch {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

/** A function of MTU's wasm module (byte addresses, sizes and ranges as numbers). */
export type WasmFn = (...args: number[]) => void;

/** The helper thread of one shared wasm memory. */
export interface KernelHelper {
  /**
   * Runs `fn` (which is `HELPER_OPS[op]`) over the items `[0, count)`: `args` with the item range
   * `[i, i + 1)` written at positions `rangeAt`, `rangeAt + 1`. This thread and the helper claim
   * items one at a time from a shared counter, so a helper slowed down by other threads (e.g.
   * XNNPACK's pool, which spins for a while after each of its operators) simply takes fewer.
   * While the helper is not ready, runs `fn` once over the whole range here.
   */
  run(op: number, fn: WasmFn, args: number[], rangeAt: number, count: number): void;
  /** Stops the worker. */
  terminate(): void;
  /** Items the helper thread has run so far (for tests and diagnostics). */
  readonly items: () => number;
}

/**
 * Starts the helper thread for `memory` (a shared `WebAssembly.Memory`) with the module `bytes`.
 *
 * @example
 * ```ts
 * const helper = startKernelHelper(memory, bytes);
 * // the 36 products, both threads together (the range [from, to) is at positions 6, 7):
 * helper.run(0, exports.filterGradProducts, [dt, v, mt, o, c, tiles, 0, 36], 6, 36);
 * ```
 */
export function startKernelHelper(memory: WasmMemory, bytes: Uint8Array): KernelHelper {
  const control = new SharedArrayBuffer(4 * (ARGS + MAX_ARGS));
  const ctl = new Int32Array(control);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, bytes, control } });
  worker.unref();
  // A worker that cannot start never sets READY; the calling thread then does all the work.
  worker.on('error', () => undefined);
  let seq = 0;
  return {
    items: () => Atomics.load(ctl, ITEMS),
    run(op, fn, args, rangeAt, count) {
      if (args.length > MAX_ARGS) {
        throw new BackendError(
          'wasm',
          `kernel helper: ${args.length} arguments, at most ${MAX_ARGS}`,
        );
      }
      if (count < 2 || Atomics.load(ctl, READY) !== 1 || Atomics.load(ctl, FAILED) === 1) {
        args[rangeAt] = 0;
        args[rangeAt + 1] = count;
        fn(...args);
        return;
      }
      ctl[OP] = op;
      ctl[COUNT] = count;
      ctl[RANGE] = rangeAt;
      for (let k = 0; k < MAX_ARGS; k++) ctl[ARGS + k] = args[k] ?? 0;
      Atomics.store(ctl, NEXT, 0);
      seq += 1;
      Atomics.store(ctl, JOB, seq);
      Atomics.notify(ctl, JOB);
      try {
        for (;;) {
          const i = Atomics.add(ctl, NEXT, 1);
          if (i >= count) break;
          args[rangeAt] = i;
          args[rangeAt + 1] = i + 1;
          fn(...args);
        }
      } finally {
        // Even when a call threw here: the worker must be done before the next job reuses ctl.
        Atomics.store(ctl, NEXT, count);
        for (;;) {
          const done = Atomics.load(ctl, DONE);
          if (done === seq) break;
          Atomics.wait(ctl, DONE, done);
        }
      }
      if (Atomics.load(ctl, FAILED) === 1) {
        throw new BackendError('wasm', 'kernel helper: a call failed on the helper thread');
      }
    },
    terminate() {
      Atomics.store(ctl, JOB, -1);
      Atomics.notify(ctl, JOB);
      void worker.terminate();
    },
  };
}
