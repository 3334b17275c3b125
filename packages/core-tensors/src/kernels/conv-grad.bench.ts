/**
 * Times the wasm convolution gradient kernels at the shapes of the reference training step
 * (`ref-step-v1`: batch 16, 64×64×3 → conv3×3 s2 3→32 → conv3×3 s2 32→64 → 2 × conv3×3 s1 64→64,
 * 'same'), against the forward convolution and the stock wasm `Conv2DBackpropInput`.
 *
 * ```sh
 * cd packages/core-tensors
 * pnpm exec tsx --conditions=@mtu/source src/kernels/conv-grad.bench.ts [--threads 1] [--reps 20]
 * ```
 *
 * Kernels are called directly on the backend (no engine bookkeeping); every call gets a freshly
 * allocated filter, as in training (XNNPACK caches operators per filter tensor). Prints the median
 * and minimum milliseconds per call and the median GFLOP/s.
 *
 * @module
 */
import { parseArgs } from 'node:util';

// Imported first so that the stock kernels can be captured before MTU's replace them.
import '@tensorflow/tfjs-backend-wasm';

import { initBackend, shutdownBackend } from '../backend.js';
import { tf } from '../tf.js';
import {
  allocOutput,
  asWasmBackend,
  disposeInfos,
  f32View,
  runWasmKernel,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

const { values } = parseArgs({
  options: { threads: { type: 'string', default: '1' }, reps: { type: 'string', default: '20' } },
});
const threads = Number(values.threads);
const reps = Number(values.reps);

const stockInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
const info = await initBackend({ prefer: 'wasm', threads });
const backend: WasmBackend = asWasmBackend(tf.backend(), 'bench');
// The stock kernel is no longer registered, so the backend did not set it up: do it here.
stockInput?.setupFunc?.(backend);

function tensorInfo(t: tf.Tensor): TensorInfo {
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

/** Median and minimum ms of `reps` calls of `fn` (after 3 warm-up calls); outputs disposed. */
function time(fn: () => TensorInfo): { median: number; min: number } {
  for (let i = 0; i < 3; i++) disposeInfos(backend, fn());
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const out = fn();
    ms.push(performance.now() - t0);
    disposeInfos(backend, out);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[ms.length >> 1] ?? Number.NaN, min: ms[0] ?? Number.NaN };
}

/** A fresh copy of `t` on the heap (a new tensor id, so no cached XNNPACK operator). */
function fresh(t: TensorInfo): TensorInfo {
  const copy = allocOutput(backend, t.shape, t.dtype);
  f32View(backend, copy).set(f32View(backend, t));
  return copy;
}

const LAYERS = [
  { name: 'enc1 3→32 s2', x: [16, 64, 64, 3], filter: [3, 3, 3, 32], stride: 2 },
  { name: 'enc2 32→64 s2', x: [16, 32, 32, 32], filter: [3, 3, 32, 64], stride: 2 },
  { name: 'enc3/4 64→64 s1', x: [16, 16, 16, 64], filter: [3, 3, 64, 64], stride: 1 },
] as const;

console.log(`wasm, ${info.threads} thread(s), ${reps} reps; ms per call: median (min), GFLOP/s`);
const rows: string[][] = [['layer', 'kernel', 'ms median', 'ms min', 'GFLOP/s']];
for (const layer of LAYERS) {
  const convInfo = tf.backend_util.computeConv2DInfo(
    [...layer.x],
    [...layer.filter],
    layer.stride,
    1,
    'same',
  );
  const gflop = (2 * convInfo.outShape.reduce((a, b) => a * b, 1) * 9 * layer.filter[2]) / 1e9;
  const x = tf.randomNormal([...layer.x], 0, 1, 'float32', 1);
  const w = tf.randomNormal([...layer.filter], 0, 1, 'float32', 2);
  const dy = tf.randomNormal(convInfo.outShape, 0, 1, 'float32', 3);
  const attrs = { strides: layer.stride, pad: 'same', dataFormat: 'NHWC', dilations: 1 };
  const withFreshFilter = (f: (filter: TensorInfo) => TensorInfo) => () => {
    const filter = fresh(tensorInfo(w));
    try {
      return f(filter);
    } finally {
      disposeInfos(backend, filter);
    }
  };
  const kernels: [string, () => TensorInfo][] = [
    [
      'Conv2D (forward)',
      withFreshFilter((filter) =>
        runWasmKernel(backend, 'Conv2D', { x: tensorInfo(x), filter }, attrs),
      ),
    ],
    [
      'Conv2DBackpropFilter (MTU)',
      () =>
        runWasmKernel(
          backend,
          tf.Conv2DBackpropFilter,
          { x: tensorInfo(x), dy: tensorInfo(dy) },
          { ...attrs, filterShape: layer.filter },
        ),
    ],
    [
      'Conv2DBackpropInput (MTU)',
      withFreshFilter((filter) =>
        runWasmKernel(
          backend,
          tf.Conv2DBackpropInput,
          { dy: tensorInfo(dy), filter },
          { ...attrs, inputShape: layer.x },
        ),
      ),
    ],
  ];
  if (stockInput !== undefined) {
    kernels.push([
      'Conv2DBackpropInput (stock)',
      withFreshFilter(
        (filter) =>
          stockInput.kernelFunc({
            inputs: { dy: tensorInfo(dy), filter },
            attrs: { ...attrs, inputShape: [...layer.x] },
            backend,
          }) as TensorInfo,
      ),
    ]);
  }
  for (const [name, fn] of kernels) {
    const { median, min } = time(fn);
    rows.push([
      layer.name,
      name,
      median.toFixed(2),
      min.toFixed(2),
      (gflop / (median / 1e3)).toFixed(1),
    ]);
  }
  tf.dispose([x, w, dy]);
}
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
shutdownBackend();
