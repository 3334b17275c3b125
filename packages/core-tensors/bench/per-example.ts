// Times per-example conv2d filter + bias gradients on wasm: MTU's direct kernel (what
// `conv2dPerExampleGradients` runs) against the path it replaced, one im2col product per example
// (`MtuConv2DBackpropFilterBias` at batch 1: im2col, then XNNPACK's f32 GEMM), interleaved in one
// process, and checks on the way that both give the same bits.
//
//   pnpm --filter @mtu/core-tensors bench:per-example               # 2 threads (the default)
//   pnpm --filter @mtu/core-tensors bench:per-example --threads 1   # no helper thread
//   pnpm --filter @mtu/core-tensors bench:per-example --reps 40     # more repetitions (default 20)
//
// Shapes: the seven 3×3 convolutions of the default `scenes` encoder–decoder (width 16, two
// stages), 8 examples each, as one step of an interference-aware run computes them.
import { conv2dPerExampleGradients, initBackend, shutdownBackend, tf } from '../src/index.js';
import { CONV2D_BACKPROP_FILTER_BIAS } from '../src/kernels/conv2d-backprop-filter.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const REPS = arg('--reps', 20);
const threads = arg('--threads', 2);

/** [H, W, C, O, stride]: the scenes backbone's convolutions (input 32×32×3). */
const LAYERS: [number, number, number, number, number][] = [
  [32, 32, 3, 16, 1],
  [32, 32, 16, 32, 2],
  [16, 16, 32, 32, 1],
  [16, 16, 32, 64, 2],
  [8, 8, 64, 64, 1],
  [16, 16, 96, 32, 1],
  [32, 32, 48, 16, 1],
];
const N = 8;

await initBackend({ prefer: 'wasm', threads });
console.log(
  `backend ${tf.getBackend()}, ${threads} thread(s); ${N} examples per call, ${REPS} reps`,
);
console.log('layer (H×W×C→O, stride)   direct ms   im2col product ms   speed-up   same bits');
let totalDirect = 0;
let totalOld = 0;
for (const [h, w, c, o, s] of LAYERS) {
  const x = tf.randomNormal<tf.Rank.R4>([N, h, w, c], 0, 1, 'float32', 1);
  const filterShape: [number, number, number, number] = [3, 3, c, o];
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, s, 1, 'same');
  const dy = tf.randomNormal<tf.Rank.R4>(info.outShape, 0, 1, 'float32', 2);
  const xs = tf.split(x, N, 0);
  const dys = tf.split(dy, N, 0);
  const attrs = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', filterShape };
  const direct = (): tf.Tensor[] => {
    const r = conv2dPerExampleGradients(x, dy, filterShape, s, 'same');
    return [r.filter, r.bias];
  };
  const old = (): tf.Tensor[] =>
    xs.flatMap((xe, e) =>
      tf
        .engine()
        .runKernel<tf.Tensor[]>(CONV2D_BACKPROP_FILTER_BIAS, { x: xe, dy: dys[e]! }, attrs),
    );
  // Same bits: example e's [dW; db] from both paths.
  const a = direct();
  const b = old();
  const k = 9 * c * o;
  const fa = a[0]!.dataSync();
  const ba = a[1]!.dataSync();
  let same = true;
  for (let e = 0; e < N && same; e++) {
    const fb = b[2 * e]!.dataSync();
    const bb = b[2 * e + 1]!.dataSync();
    for (let i = 0; i < k && same; i++) same = Object.is(fa[e * k + i], fb[i]);
    for (let i = 0; i < o && same; i++) same = Object.is(ba[e * o + i], bb[i]);
  }
  tf.dispose([...a, ...b]);
  const time = (f: () => tf.Tensor[]): number => {
    const t = performance.now();
    tf.dispose(f());
    return performance.now() - t;
  };
  for (let r = 0; r < 3; r++) {
    // warm-up
    time(direct);
    time(old);
  }
  const td: number[] = [];
  const to: number[] = [];
  for (let r = 0; r < REPS; r++) {
    // Alternate which goes first.
    if (r % 2 === 0) {
      td.push(time(direct));
      to.push(time(old));
    } else {
      to.push(time(old));
      td.push(time(direct));
    }
  }
  const median = (v: number[]): number => [...v].sort((p, q) => p - q)[v.length >> 1]!;
  const md = median(td);
  const mo = median(to);
  totalDirect += md;
  totalOld += mo;
  const name = `${h}×${w}×${c}→${o}, ${s}`.padEnd(25);
  console.log(
    `${name} ${md.toFixed(2).padStart(9)}   ${mo.toFixed(2).padStart(17)}   ${(mo / md).toFixed(1).padStart(7)}×   ${same ? 'yes' : 'NO'}`,
  );
  tf.dispose([x, dy, ...xs, ...dys]);
  if (!same) process.exitCode = 1;
}
console.log(
  `${'all seven'.padEnd(25)} ${totalDirect.toFixed(2).padStart(9)}   ${totalOld.toFixed(2).padStart(17)}   ${(totalOld / totalDirect).toFixed(1).padStart(7)}×`,
);
shutdownBackend();
