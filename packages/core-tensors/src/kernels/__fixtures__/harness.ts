/**
 * Shared setup of the wasm kernel tests: a single-threaded wasm backend with tfjs' per-kernel leak
 * check on, seeded inputs, and the geometry of a window op for the float64 references.
 *
 * @module
 */
import { afterAll, beforeAll } from 'vitest';

import { initBackend, shutdownBackend } from '../../backend.js';
import { tf } from '../../tf.js';
import type { RefGeometry } from './reference.js';

/** Relative tolerance of float32 kernels vs float64 references (see `testing/grad-check`). */
export const RTOL: number = 2 ** -16;

/** The three paddings every window-op test covers. */
export const PADDINGS: readonly (
  'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]]
)[] = [
  'same',
  'valid',
  [
    [0, 0],
    [1, 2],
    [2, 0],
    [0, 0],
  ],
];

/** Printable name of a padding. */
export function padName(pad: (typeof PADDINGS)[number]): string {
  return typeof pad === 'string' ? pad : 'explicit';
}

/**
 * Starts the wasm backend (1 thread) with tfjs' kernel leak check (`IS_TEST`) and returns the
 * teardown. Call from `beforeAll` / `afterAll`.
 */
export async function startWasm(): Promise<() => void> {
  await initBackend({ prefer: 'wasm', threads: 1 });
  const previous = tf.env().getBool('IS_TEST');
  tf.env().set('IS_TEST', true);
  return () => {
    tf.env().set('IS_TEST', previous);
    shutdownBackend();
  };
}

/** A seeded standard-normal float32 tensor. */
export function randn(shape: readonly number[], seed: number): tf.Tensor {
  return tf.randomNormal([...shape], 0, 1, 'float32', seed);
}

/** The reference geometry of tfjs' `Conv2DInfo` (from `computeConv2DInfo` / `computePool2DInfo`). */
export function refGeometry(info: tf.backend_util.Conv2DInfo): RefGeometry {
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

/**
 * Registers `beforeAll` / `afterAll` hooks that start the wasm backend with {@link startWasm} and
 * shut it down again. Call once at the top level of a test file.
 */
export function useWasmBackend(): void {
  let stop: (() => void) | undefined;
  beforeAll(async () => {
    stop = await startWasm();
  });
  afterAll(() => stop?.());
}
