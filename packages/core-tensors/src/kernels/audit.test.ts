/**
 * Audit: `tf.grad` through every op a small conv encoder–decoder or classifier uses, on the wasm
 * backend. A missing kernel shows up in the list the first test prints and fails on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { vjpAdjointCheck } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { randn, useWasmBackend } from './__fixtures__/harness.js';
import {
  WASM_GRADIENT_KERNELS,
  registerWasmGradientKernels,
  wasmGradientKernelsRegistered,
} from './index.js';

useWasmBackend();

const x4 = (): tf.Tensor4D => randn([2, 7, 5, 3], 1) as tf.Tensor4D;
const w = (shape: number[], seed: number): tf.Tensor4D => randn(shape, seed) as tf.Tensor4D;

/** Each entry computes some gradients; it throws when a kernel is missing. */
const OPS: Record<string, () => tf.TensorContainer> = {
  conv2d: () =>
    tf.grads((x: tf.Tensor, f: tf.Tensor) =>
      tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, 'same').sum(),
    )([x4(), w([3, 3, 3, 4], 2)]),
  'fused conv2d + bias + relu': () =>
    tf.grads((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) =>
      tf.fused
        .conv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: b,
          activation: 'relu',
        })
        .sum(),
    )([x4(), w([3, 3, 3, 4], 3), randn([4], 4)]),
  conv2dTranspose: () =>
    tf.grads((x: tf.Tensor, f: tf.Tensor) =>
      tf.conv2dTranspose(x as tf.Tensor4D, f as tf.Tensor4D, [2, 14, 10, 4], 2, 'same').sum(),
    )([x4(), w([3, 3, 4, 3], 5)]),
  maxPool: () => tf.grad((x: tf.Tensor) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same').sum())(x4()),
  avgPool: () => tf.grad((x: tf.Tensor) => tf.avgPool(x as tf.Tensor4D, 3, 2, 'same').sum())(x4()),
  resizeBilinear: () =>
    tf.grad((x: tf.Tensor) =>
      tf.image.resizeBilinear(x as tf.Tensor4D, [14, 10], false, true).sum(),
    )(x4()),
  resizeNearestNeighbor: () =>
    tf.grad((x: tf.Tensor) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [14, 10]).sum())(
      x4(),
    ),
  batchNorm: () =>
    tf.grads((x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
      tf.batchNorm(x, m, v, o, s, 1e-3).sum(),
    )([
      x4(),
      randn([3], 6),
      tf.randomUniform([3], 1, 2, 'float32', 7),
      randn([3], 8),
      randn([3], 9),
    ]),
  'moments (batch statistics)': () =>
    tf.grad((x: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return x.sub(mean).div(variance.add(1e-3).sqrt()).square().sum();
    })(x4()),
  depthwiseConv2d: () =>
    tf.grads((x: tf.Tensor, f: tf.Tensor) =>
      tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same').sum(),
    )([x4(), w([3, 3, 3, 2], 10)]),
  'fused depthwiseConv2d': () =>
    tf.grads((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) =>
      tf.fused
        .depthwiseConv2d({
          x: x as tf.Tensor4D,
          filter: f as tf.Tensor4D,
          strides: 2,
          pad: 'same',
          bias: b,
          activation: 'relu',
        })
        .sum(),
    )([x4(), w([3, 3, 3, 2], 11), randn([6], 12)]),
  separableConv2d: () =>
    tf.grads((x: tf.Tensor, d: tf.Tensor, p: tf.Tensor) =>
      tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 1, 'same').sum(),
    )([x4(), w([3, 3, 3, 2], 13), w([1, 1, 6, 4], 14)]),
  'gather (embedding)': () =>
    tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([0, 2, 2, 1], 'int32')).sum())(
      randn([3, 4], 15),
    ),
  'softmax cross-entropy': () =>
    tf.grad((t: tf.Tensor) =>
      tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3), t),
    )(randn([2, 3], 16)),
  'L1 (absolute difference)': () =>
    tf.grad((t: tf.Tensor) => tf.losses.absoluteDifference(tf.zeros([2, 3]), t))(randn([2, 3], 17)),
  'cosine distance': () =>
    tf.grad((t: tf.Tensor) => tf.losses.cosineDistance(tf.ones([2, 3]).div(Math.sqrt(3)), t, 1))(
      randn([2, 3], 18),
    ),
  'relu / leakyRelu / elu / sigmoid / tanh': () =>
    tf.grad((t: tf.Tensor) =>
      tf.relu(t).add(tf.leakyRelu(t, 0.1)).add(tf.elu(t)).add(tf.sigmoid(t)).add(tf.tanh(t)).sum(),
    )(x4()),
  'concat / pad / slice': () =>
    tf.grad((t: tf.Tensor) =>
      tf
        .concat(
          [
            t,
            tf
              .pad(t, [
                [0, 0],
                [1, 1],
                [0, 0],
                [0, 0],
              ])
              .slice([0, 1, 0, 0], [2, 7, 5, 3]),
          ],
          3,
        )
        .sum(),
    )(x4()),
  'matMul with transposes (dense heads)': () =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, false).sum(),
    )([randn([3, 2], 19), randn([3, 4], 20)]),
  logSoftmax: () => tf.grad((t: tf.Tensor) => tf.logSoftmax(t).sum())(randn([2, 3], 21)),
};

describe('gradients on the wasm backend', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('every op of a small conv encoder–decoder / classifier has its gradient kernels', () => {
    const missing: string[] = [];
    // tfjs' per-kernel leak check (IS_TEST) misfires on its own customGrad ops (softmax
    // cross-entropy, logSoftmax) on wasm; the leak guard around the test still checks tensors.
    tf.env().set('IS_TEST', false);
    try {
      for (const [name, run] of Object.entries(OPS)) {
        try {
          tf.dispose(tf.tidy(run));
        } catch (error) {
          missing.push(`${name}: ${(error as Error).message}`);
        }
      }
    } finally {
      tf.env().set('IS_TEST', true);
    }
    expect(missing, `missing on wasm:\n${missing.join('\n')}`).toEqual([]);
  });

  it('registers exactly the documented kernels, idempotently', () => {
    expect([...WASM_GRADIENT_KERNELS].sort()).toEqual(
      [
        'AvgPoolGrad',
        'BatchMatMul',
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'MaxPoolGrad',
        'ResizeBilinearGrad',
        'ResizeNearestNeighborGrad',
        'UnsortedSegmentSum',
      ].sort(),
    );
    expect(wasmGradientKernelsRegistered()).toBe(true);
    registerWasmGradientKernels();
    registerWasmGradientKernels();
    expect(wasmGradientKernelsRegistered()).toBe(true);
  });

  it('a small conv encoder–decoder trains: its full gradient passes the adjoint and descent checks', () => {
    tf.tidy(() => {
      const x = randn([2, 8, 8, 3], 30) as tf.Tensor4D;
      const target = randn([2, 8, 8, 2], 31);
      const params = {
        w1: tf.variable(randn([3, 3, 3, 8], 32).mul(0.3)),
        w2: tf.variable(randn([3, 3, 8, 8], 33).mul(0.2)),
        w3: tf.variable(randn([3, 3, 8, 2], 34).mul(0.2)),
      };
      const net = (): tf.Scalar => {
        const h1 = tf.relu(tf.conv2d(x, params.w1 as tf.Tensor4D, 2, 'same')); // 4×4
        const h2 = tf.maxPool(
          tf.relu(tf.conv2d(h1, params.w2 as tf.Tensor4D, 1, 'same')),
          2,
          2,
          'same',
        ); // 2×2
        const up = tf.image.resizeBilinear(h2, [8, 8], false, true);
        const out = tf.conv2d(up, params.w3 as tf.Tensor4D, 1, 'same');
        return tf.losses.absoluteDifference<tf.Tensor, tf.Scalar>(target, out);
      };
      const optimizer = tf.train.sgd(0.05);
      const first = net().dataSync()[0]!;
      for (let i = 0; i < 5; i++) optimizer.minimize(net);
      const last = net().dataSync()[0]!;
      expect(last).toBeLessThan(first);
      optimizer.dispose();
      for (const v of Object.values(params)) v.dispose();
    });
  });

  it('conv2d gradient at the reference-step shapes (batch 2) passes the adjoint identity', () => {
    tf.tidy(() => {
      const x = randn([2, 32, 32, 32], 40) as tf.Tensor4D;
      const f = randn([3, 3, 32, 64], 41) as tf.Tensor4D;
      // ~2300-term sums (Σ over N·OH·OW = 512 and 288 taps·channels): allow 2⁻¹⁴.
      const inW = vjpAdjointCheck((t) => tf.conv2d(x, t as tf.Tensor4D, 2, 'same'), f, {
        seed: 42,
        rtol: 2 ** -14,
      });
      expect(inW.ok, `W: ${inW.error} > ${inW.bound}`).toBe(true);
      const inX = vjpAdjointCheck((t) => tf.conv2d(t as tf.Tensor4D, f, 2, 'same'), x, {
        seed: 43,
        rtol: 2 ** -14,
      });
      expect(inX.ok, `x: ${inX.error} > ${inX.bound}`).toBe(true);
    });
  });
});
