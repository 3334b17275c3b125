/**
 * MTU's direct per-example filter-gradient kernel (`filterGradDirect` in assembly/winograd.ts,
 * behind `conv2dPerExampleGradients` on wasm) must give the bits of the im2col product it
 * replaced: per example, `[colsᵀ; 1ᵀ] · dy` as XNNPACK's f32 GEMM computes it, i.e. each output
 * summed from +0 over the im2col columns in order (one f32 multiply, one f32 add per term), the
 * workspace's row chunks summed in order.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend, shutdownBackend } from '../backend.js';
import { conv2dPerExampleGradients } from '../per-example.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { PADDINGS, padName, randn } from './__fixtures__/harness.js';
import { setConvWorkspaceLimit } from './index.js';
import { asWasmBackend } from './wasm-backend.js';
import { winogradHelperItems } from './winograd.js';

/** Example `e`'s transposed im2col `[KH·KW·C + 1, OH·OW]` (last row: ones), as the old path filled it. */
function im2col(x: Float32Array, info: tf.backend_util.Conv2DInfo, e: number): Float32Array {
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const cols = new Float32Array((kh * kw * c + 1) * oh * ow);
  for (let a = 0; a < kh; a++)
    for (let b = 0; b < kw; b++)
      for (let ch = 0; ch < c; ch++)
        for (let i = 0; i < oh; i++)
          for (let j = 0; j < ow; j++) {
            const hs = i * sh + a - top;
            const ws = j * sw + b - left;
            const inside = hs >= 0 && hs < h && ws >= 0 && ws < w;
            const row = (a * kw + b) * c + ch;
            cols[row * oh * ow + i * ow + j] = inside ? x[((e * h + hs) * w + ws) * c + ch]! : 0;
          }
  cols.fill(1, kh * kw * c * oh * ow);
  return cols;
}

/**
 * The oracle: `[colsᵀ; 1ᵀ] · dy[e]` summed term by term in float32 from +0 over the columns in
 * `order` (row-major by default), in chunks of `chunkRows` output rows added in order.
 */
function sequential(
  cols: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  e: number,
  chunkRows: number,
  order: 'row-major' | 'column-major' = 'row-major',
): Float32Array {
  const { outHeight: oh, outWidth: ow, outChannels: o } = info;
  const rows = cols.length / (oh * ow);
  const out = new Float32Array(rows * o);
  for (let i0 = 0; i0 < oh; i0 += chunkRows) {
    const i1 = Math.min(oh, i0 + chunkRows);
    const positions: number[] = [];
    if (order === 'row-major') {
      for (let i = i0; i < i1; i++) for (let j = 0; j < ow; j++) positions.push(i * ow + j);
    } else {
      for (let j = 0; j < ow; j++) for (let i = i0; i < i1; i++) positions.push(i * ow + j);
    }
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < o; k++) {
        let acc = 0;
        for (const p of positions) {
          acc = Math.fround(
            acc + Math.fround(cols[r * oh * ow + p]! * dy[(e * oh * ow + p) * o + k]!),
          );
        }
        out[r * o + k] = i0 === 0 ? acc : Math.fround(out[r * o + k]! + acc);
      }
  }
  return out;
}

/** Whether two float32 arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
}

/** The kernel's `[KH·KW·C + 1, O]` rows of example `e`: its filter gradient, then its bias. */
function kernelRows(filter: Float32Array, bias: Float32Array, k: number, o: number, e: number) {
  const out = new Float32Array(k + o);
  out.set(filter.subarray(e * k, (e + 1) * k));
  out.set(bias.subarray(e * o, (e + 1) * o), k);
  return out;
}

/**
 * Odd sizes; channel counts that take every code path of the kernel: blocks of 4 input channels
 * and single ones, blocks of 8 and 4 output channels and single ones.
 */
const SHAPES: { x: [number, number, number, number]; o: number }[] = [
  { x: [3, 7, 5, 3], o: 4 },
  { x: [2, 6, 9, 8], o: 13 },
  { x: [2, 5, 6, 6], o: 16 },
  { x: [2, 5, 7, 5], o: 13 },
];

for (const threads of [1, 2] as const) {
  describe(`direct per-example filter gradients (wasm, ${threads} thread${threads > 1 ? 's' : ''})`, () => {
    beforeAll(async () => {
      await initBackend({ prefer: 'wasm', threads });
    });
    afterAll(() => shutdownBackend());
    useLeakGuard({ beforeEach, afterEach });

    const cases = SHAPES.flatMap((shape) =>
      ([1, 2, [1, 2]] as (number | [number, number])[]).flatMap((strides) =>
        PADDINGS.map((pad) => ({ ...shape, strides, pad, padding: padName(pad) })),
      ),
    );
    it.each(cases)(
      'x $x, O $o, stride $strides, $padding padding: the bits of the im2col product',
      ({ x: shape, o, strides, pad }) => {
        const filterShape: [number, number, number, number] = [3, 3, shape[3], o];
        const info = tf.backend_util.computeConv2DInfo(shape, filterShape, strides, 1, pad);
        tf.tidy(() => {
          const x = randn(shape, 41) as tf.Tensor4D;
          const dy = randn(info.outShape, 42) as tf.Tensor4D;
          const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, strides, pad);
          const fv = filter.dataSync() as Float32Array;
          const bv = bias.dataSync() as Float32Array;
          const xv = x.dataSync() as Float32Array;
          const dv = dy.dataSync() as Float32Array;
          const k = 9 * shape[3] * o;
          for (let e = 0; e < shape[0]; e++) {
            const cols = im2col(xv, info, e);
            const got = kernelRows(fv, bv, k, o, e);
            // XNNPACK's product of the im2col matrix (the old path), and the sequential oracle.
            const dyE = dv.subarray(
              e * info.outHeight * info.outWidth * o,
              (e + 1) * info.outHeight * info.outWidth * o,
            );
            const product = tf
              .matMul(
                tf.tensor2d(cols, [k / o + 1, info.outHeight * info.outWidth]),
                tf.tensor2d(dyE, [info.outHeight * info.outWidth, o]),
              )
              .dataSync() as Float32Array;
            expect(sameBits(got, product), `example ${e}: vs XNNPACK's im2col product`).toBe(true);
            expect(sameBits(got, sequential(cols, dv, info, e, info.outHeight))).toBe(true);
          }
        });
      },
    );

    it('sums the workspace chunks of output rows apart, as the im2col path did', () => {
      const shape: [number, number, number, number] = [2, 9, 7, 5];
      const o = 9;
      const filterShape: [number, number, number, number] = [3, 3, 5, o];
      const info = tf.backend_util.computeConv2DInfo(shape, filterShape, 1, 1, 'same');
      const rowElements = (9 * 5 + 1) * info.outWidth;
      for (const chunkRows of [1, 2, 4]) {
        const previous = setConvWorkspaceLimit(chunkRows * rowElements);
        try {
          tf.tidy(() => {
            const x = randn(shape, 43) as tf.Tensor4D;
            const dy = randn(info.outShape, 44) as tf.Tensor4D;
            const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, 1, 'same');
            const fv = filter.dataSync() as Float32Array;
            const bv = bias.dataSync() as Float32Array;
            for (let e = 0; e < 2; e++) {
              const cols = im2col(x.dataSync() as Float32Array, info, e);
              const want = sequential(cols, dy.dataSync() as Float32Array, info, e, chunkRows);
              expect(
                sameBits(kernelRows(fv, bv, 9 * 5 * o, o, e), want),
                `chunks of ${chunkRows}`,
              ).toBe(true);
            }
          });
        } finally {
          setConvWorkspaceLimit(previous);
        }
      }
    });

    it('negative control: another summation order is not the same bits', () => {
      const shape: [number, number, number, number] = [1, 8, 8, 4];
      const filterShape: [number, number, number, number] = [3, 3, 4, 8];
      const info = tf.backend_util.computeConv2DInfo(shape, filterShape, 1, 1, 'same');
      tf.tidy(() => {
        const x = randn(shape, 45) as tf.Tensor4D;
        const dy = randn(info.outShape, 46) as tf.Tensor4D;
        const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, 1, 'same');
        const got = kernelRows(
          filter.dataSync() as Float32Array,
          bias.dataSync() as Float32Array,
          9 * 4 * 8,
          8,
          0,
        );
        const cols = im2col(x.dataSync() as Float32Array, info, 0);
        const dv = dy.dataSync() as Float32Array;
        expect(sameBits(got, sequential(cols, dv, info, 0, 8))).toBe(true);
        expect(sameBits(got, sequential(cols, dv, info, 0, 8, 'column-major'))).toBe(false);
        expect(sameBits(got, sequential(cols, dv, info, 0, 4))).toBe(false);
      });
    });

    if (threads === 2) {
      it('splits the examples with the helper thread, with the same bits', async () => {
        const backend = asWasmBackend(tf.backend(), 'test');
        // Examples large enough (≈ 0.1 ms each) that the helper, once woken, finds items left.
        const shape: [number, number, number, number] = [8, 24, 24, 16];
        const filterShape: [number, number, number, number] = [3, 3, 16, 32];
        const x = randn(shape, 47) as tf.Tensor4D;
        const dy = randn([8, 24, 24, 32], 48) as tf.Tensor4D;
        const run = (): Float32Array => {
          const { filter, bias } = conv2dPerExampleGradients(x, dy, filterShape, 1, 'same');
          const out = new Float32Array(filter.size + bias.size);
          out.set(filter.dataSync());
          out.set(bias.dataSync(), filter.size);
          tf.dispose([filter, bias]);
          return out;
        };
        const first = run();
        // The helper starts with the first shared job and is ready a few milliseconds later.
        for (let i = 0; i < 200 && (winogradHelperItems(backend) ?? 0) === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          expect(sameBits(run(), first)).toBe(true);
        }
        expect(winogradHelperItems(backend)).toBeGreaterThan(0);
        tf.dispose([x, dy]);
      });
    }
  });
}
