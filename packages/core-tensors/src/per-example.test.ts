import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend, shutdownBackend } from './backend.js';
import { ShapeError } from './errors.js';
import { PADDINGS, RTOL, padName, randn, refGeometry } from './kernels/__fixtures__/harness.js';
import { conv2dFilterGradRef } from './kernels/__fixtures__/reference.js';
import { CONV2D_PER_EXAMPLE_FILTER_BIAS } from './kernels/conv2d-backprop-filter.js';
import { setConvWorkspaceLimit } from './kernels/index.js';
import { conv2dPerExampleGradients, densePerExampleGradients } from './per-example.js';
import { compareToReference } from './testing/grad-check.js';
import { useLeakGuard } from './testing/leak-guard.js';
import { tf } from './tf.js';

/** Batch 3, 7×5 spatial, 3 input channels, 4 output channels: odd sizes everywhere. */
const X_SHAPE = [3, 7, 5, 3] as [number, number, number, number];
const O = 4;

/**
 * Example `e`'s float64 filter and bias gradients, from the definition applied to `(x[e], dy[e])`
 * alone (the reference of the kernel's `[N, …]` outputs).
 */
function exampleRef(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  e: number,
): { w: ReturnType<typeof conv2dFilterGradRef>; b: { value: number[]; magnitude: number[] } } {
  const g = { ...refGeometry(info), n: 1 };
  const xs = g.h * g.w * g.c;
  const ys = g.oh * g.ow * O;
  const dye = dy.subarray(e * ys, (e + 1) * ys);
  const w = conv2dFilterGradRef(x.subarray(e * xs, (e + 1) * xs), dye, g, O);
  const value = Array.from({ length: O }, () => 0);
  const magnitude = Array.from({ length: O }, () => 0);
  for (let k = 0; k < dye.length; k++) {
    value[k % O] = (value[k % O] ?? 0) + (dye[k] ?? 0);
    magnitude[k % O] = (magnitude[k % O] ?? 0) + Math.abs(dye[k] ?? 0);
  }
  return { w, b: { value, magnitude } };
}

/** Whether every example's slice of `filter` / `bias` matches the reference of example `order[e]`. */
function matches(
  filter: Float32Array,
  bias: Float32Array,
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  order: readonly number[],
): { ok: boolean; message: string } {
  const k = info.filterHeight * info.filterWidth * info.inChannels * O;
  for (let e = 0; e < order.length; e++) {
    const ref = exampleRef(x, dy, info, order[e]!);
    const w = compareToReference(filter.subarray(e * k, (e + 1) * k), ref.w.value, {
      magnitude: ref.w.magnitude,
      rtol: RTOL,
    });
    if (!w.ok) return { ok: false, message: `example ${e} filter: ${w.message}` };
    const b = compareToReference(bias.subarray(e * O, (e + 1) * O), ref.b.value, {
      magnitude: ref.b.magnitude,
      rtol: RTOL,
    });
    if (!b.ok) return { ok: false, message: `example ${e} bias: ${b.message}` };
  }
  return { ok: true, message: '' };
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`conv2dPerExampleGradients on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend({ prefer: backend, threads: 1 });
    });
    afterAll(() => shutdownBackend());
    useLeakGuard({ beforeEach, afterEach });

    it(`runs on ${backend}${backend === 'wasm' ? ", through MTU's per-example kernel" : ''}`, () => {
      expect(tf.getBackend()).toBe(backend);
      expect(tf.getKernel(CONV2D_PER_EXAMPLE_FILTER_BIAS, backend) !== undefined).toBe(
        backend === 'wasm',
      );
    });

    const cases = ([1, 2, [1, 2], 3] as (number | [number, number])[]).flatMap((strides) =>
      PADDINGS.flatMap((pad) =>
        (backend === 'wasm' ? [1 << 24, 60] : [1 << 24]).map((limit) => ({
          strides,
          pad,
          limit,
          padding: padName(pad),
        })),
      ),
    );
    it.each(cases)(
      'stride $strides, $padding padding, workspace $limit: each example gets the gradients of its own (x, dy)',
      ({ strides, pad, limit }) => {
        const filterShape: [number, number, number, number] = [3, 3, X_SHAPE[3], O];
        const info = tf.backend_util.computeConv2DInfo(X_SHAPE, filterShape, strides, 1, pad);
        const previous = setConvWorkspaceLimit(limit);
        try {
          tf.tidy(() => {
            const x = randn(X_SHAPE, 31) as tf.Tensor4D;
            const dy = randn(info.outShape, 32) as tf.Tensor4D;
            const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, strides, pad);
            expect(filter.shape).toEqual([X_SHAPE[0], ...filterShape]);
            expect(bias.shape).toEqual([X_SHAPE[0], O]);
            const args = [
              filter.dataSync() as Float32Array,
              bias.dataSync() as Float32Array,
              x.dataSync() as Float32Array,
              dy.dataSync() as Float32Array,
              info,
            ] as const;
            const r = matches(...args, [0, 1, 2]);
            expect(r.ok, r.message).toBe(true);
            // Negative control: the same outputs are not the gradients of other examples.
            expect(matches(...args, [1, 2, 0]).ok).toBe(false);
          });
        } finally {
          setConvWorkspaceLimit(previous);
        }
      },
    );

    it('sums to the batch filter gradient (tfjs Conv2DBackpropFilter on the whole batch)', () => {
      tf.tidy(() => {
        const x = randn([4, 6, 6, 2], 33) as tf.Tensor4D;
        const filterShape: [number, number, number, number] = [3, 3, 2, 5];
        const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, 2, 1, 'same');
        const dy = randn(info.outShape, 34) as tf.Tensor4D;
        const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, 2, 'same');
        const batch = tf.engine().runKernel<tf.Tensor>(
          'Conv2DBackpropFilter',
          { x, dy },
          {
            strides: [2, 2],
            pad: 'same',
            dataFormat: 'NHWC',
            filterShape,
          },
        );
        const gap = tf.max(tf.abs(tf.sub(tf.sum(filter, 0), batch))).dataSync()[0]!;
        expect(gap).toBeLessThan(1e-4);
        const biasGap = tf
          .max(tf.abs(tf.sub(tf.sum(bias, 0), tf.sum(dy, [0, 1, 2]))))
          .dataSync()[0]!;
        expect(biasGap).toBeLessThan(1e-4);
      });
    });

    it('handles empty inputs: zero filter gradients, bias gradients still per example', () => {
      tf.tidy(() => {
        const x = tf.zeros<tf.Rank.R4>([2, 4, 4, 0]);
        const dy = randn([2, 4, 4, 3], 35) as tf.Tensor4D;
        const { filter, bias } = conv2dPerExampleGradients(x, dy, [3, 3, 0, 3], 1, 'same');
        expect(filter.shape).toEqual([2, 3, 3, 0, 3]);
        const want = tf.sum(dy, [1, 2]);
        expect(tf.max(tf.abs(tf.sub(bias, want))).dataSync()[0]).toBeLessThan(1e-5);
      });
    });

    it('rejects a dy whose shape does not follow from x and the filter, naming both', () => {
      tf.tidy(() => {
        const x = tf.zeros<tf.Rank.R4>([2, 6, 6, 2]);
        const dy = tf.zeros<tf.Rank.R4>([2, 6, 6, 3]);
        expect(() => conv2dPerExampleGradients(x, dy, [3, 3, 2, 3], 2, 'same')).toThrow(
          /dy must be \[2, 3, 3, 3\], got \[2, 6, 6, 3\]/,
        );
        expect(() => conv2dPerExampleGradients(x, dy, [3, 3, 2, 3], 2, 'same')).toThrow(ShapeError);
      });
    });

    it('dense: weight[n] = x[n] ⊗ dy[n], bias[n] = dy[n]', () => {
      tf.tidy(() => {
        const x = randn([3, 5], 36) as tf.Tensor2D;
        const dy = randn([3, 2], 37) as tf.Tensor2D;
        const { weight, bias } = densePerExampleGradients(x, dy);
        expect(weight.shape).toEqual([3, 5, 2]);
        const xv = x.dataSync();
        const dv = dy.dataSync();
        const wv = weight.dataSync();
        for (let n = 0; n < 3; n++)
          for (let i = 0; i < 5; i++)
            for (let o = 0; o < 2; o++)
              expect(wv[(n * 5 + i) * 2 + o]).toBeCloseTo(xv[n * 5 + i]! * dv[n * 2 + o]!, 6);
        expect(Array.from(bias.dataSync())).toEqual(Array.from(dv));
        expect(() => densePerExampleGradients(x, tf.zeros([2, 2]))).toThrow(ShapeError);
      });
    });
  });
}
