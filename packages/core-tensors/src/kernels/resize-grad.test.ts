import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { compareToReference, vjpAdjointCheck } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { RTOL, randn, useWasmBackend } from './__fixtures__/harness.js';
import { resizeBilinearGradRef, resizeNearestGradRef } from './__fixtures__/reference.js';

useWasmBackend();

const X_SHAPE = [2, 7, 5, 3] as [number, number, number, number];
const SIZES: readonly [number, number][] = [
  [14, 10],
  [13, 11],
  [4, 3],
  [7, 5],
  [1, 1],
];
const MODES = [
  { alignCorners: false, halfPixelCenters: false },
  { alignCorners: true, halfPixelCenters: false },
  { alignCorners: false, halfPixelCenters: true },
] as const;
const cases = SIZES.flatMap((size) => MODES.map((mode) => ({ size, ...mode })));

function grad(
  kernel: string,
  images: tf.Tensor,
  dy: tf.Tensor,
  size: [number, number],
  alignCorners: boolean,
  halfPixelCenters: boolean,
): tf.Tensor {
  return tf.engine().runKernel<tf.Tensor>(
    kernel,
    { images, dy },
    {
      alignCorners,
      halfPixelCenters,
      size,
    },
  );
}

describe('wasm ResizeNearestNeighborGrad / ResizeBilinearGrad', () => {
  useLeakGuard({ beforeEach, afterEach });

  it.each(cases)(
    'to $size (alignCorners $alignCorners, halfPixelCenters $halfPixelCenters): match the definition and are adjoint to the forward',
    ({ size, alignCorners, halfPixelCenters }) => {
      const [oh, ow] = size;
      const shape = { n: 2, h: 7, w: 5, c: 3, oh, ow };
      tf.tidy(() => {
        const x = randn(X_SHAPE, 1) as tf.Tensor4D;
        const dy = randn([2, oh, ow, 3], 2);

        const nn = grad(tf.ResizeNearestNeighborGrad, x, dy, size, alignCorners, halfPixelCenters);
        const nnRef = resizeNearestGradRef(dy.dataSync(), shape, alignCorners, halfPixelCenters);
        const nnCmp = compareToReference(nn.dataSync(), nnRef.value, {
          magnitude: nnRef.magnitude,
          rtol: RTOL,
        });
        expect(nnCmp.ok, `nearest: ${nnCmp.message}`).toBe(true);

        const bl = grad(tf.ResizeBilinearGrad, x, dy, size, alignCorners, halfPixelCenters);
        const blRef = resizeBilinearGradRef(dy.dataSync(), shape, alignCorners, halfPixelCenters);
        const blCmp = compareToReference(bl.dataSync(), blRef.value, {
          magnitude: blRef.magnitude,
          rtol: RTOL,
        });
        expect(blCmp.ok, `bilinear: ${blCmp.message}`).toBe(true);

        // Through tf.grad, against the wasm forward kernels themselves.
        const nnAdj = vjpAdjointCheck(
          (t) =>
            tf.image.resizeNearestNeighbor(t as tf.Tensor4D, size, alignCorners, halfPixelCenters),
          x,
          { seed: 3 },
        );
        expect(nnAdj.ok, `nearest adjoint: error ${nnAdj.error} > ${nnAdj.bound}`).toBe(true);
        // XNNPACK computes the forward's bilinear weights in its own float32 arithmetic; they agree
        // with ours to a few ulps, well inside the default 2⁻¹⁶.
        const blAdj = vjpAdjointCheck(
          (t) => tf.image.resizeBilinear(t as tf.Tensor4D, size, alignCorners, halfPixelCenters),
          x,
          { seed: 4 },
        );
        expect(blAdj.ok, `bilinear adjoint: error ${blAdj.error} > ${blAdj.bound}`).toBe(true);
      });
    },
  );

  it('honours halfPixelCenters (the stock kernels and tfjs-cpu ignore it)', () => {
    tf.tidy(() => {
      // 4 -> 2 pixels: half-pixel centres read input 1 and 3; legacy mode reads 0 and 2.
      const x = tf.zeros([1, 1, 4, 1]);
      const dy = tf.tensor4d([1, 10], [1, 1, 2, 1]);
      expect(
        Array.from(grad(tf.ResizeNearestNeighborGrad, x, dy, [1, 2], false, true).dataSync()),
      ).toEqual([0, 1, 0, 10]);
      expect(
        Array.from(grad(tf.ResizeNearestNeighborGrad, x, dy, [1, 2], false, false).dataSync()),
      ).toEqual([1, 0, 10, 0]);
      // Bilinear, half-pixel: output 0 samples 0.5 -> half to inputs 0 and 1.
      expect(
        Array.from(grad(tf.ResizeBilinearGrad, x, dy, [1, 2], false, true).dataSync()),
      ).toEqual([0.5, 0.5, 5, 5]);
    });
  });
});
