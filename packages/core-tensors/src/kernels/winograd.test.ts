import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend, shutdownBackend } from '../backend.js';
import { ConfigError } from '../errors.js';
import { conv2dPerExampleGradients } from '../per-example.js';
import { compareToReference } from '../testing/grad-check.js';
import { useLeakGuard } from '../testing/leak-guard.js';
import { tf } from '../tf.js';
import { PADDINGS, RTOL, padName, randn, refGeometry } from './__fixtures__/harness.js';
import {
  conv2dFilterGradRef,
  conv2dInputGradRef,
  conv2dRef,
  type RefResult,
} from './__fixtures__/reference.js';
import { convGeometry } from './conv-geometry.js';
import { setConvWorkspaceLimit } from './workspace.js';
import { asWasmBackend, type TensorInfo } from './wasm-backend.js';
import {
  setWasmConvolutions,
  wasmConvolutions,
  winogradApplies,
  winogradConv2d,
  winogradConv2dBackpropInput,
  winogradHelperItems,
} from './winograd.js';
import { unsharedMemoryVariant } from './winograd-helper.js';
import { WINOGRAD_WASM } from './winograd-wasm.js';
import { sectionIds } from './__fixtures__/wasm-sections.js';

/**
 * The same bound as the direct kernels' tests. Winograd F(4×4, 3×3) scales inputs by up to 5 and
 * outputs by up to 8 before the result, yet at these sizes its errors stay below half this bound
 * (measured); a wrong coefficient exceeds it by orders of magnitude.
 */
const WINOGRAD_RTOL = RTOL;

type Pad = (typeof PADDINGS)[number];

/** Odd sizes (tiles hang over the edge), channels at the smallest the kernels take. */
const X_SHAPE = [2, 7, 9, 16] as [number, number, number, number];
const OUT = 20;

function geometry(pad: Pad, xShape = X_SHAPE, out = OUT): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape, [3, 3, xShape[3], out], 1, 1, pad);
}

function expectClose(actual: tf.Tensor, ref: RefResult): void {
  const cmp = compareToReference(actual.dataSync(), ref.value, {
    magnitude: ref.magnitude,
    rtol: WINOGRAD_RTOL,
  });
  expect(cmp.ok, cmp.message).toBe(true);
}

function fusedConv(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, pad: Pad, relu: boolean): tf.Tensor {
  return tf
    .engine()
    .runKernel<tf.Tensor>(
      tf.FusedConv2D,
      { x, filter: w, bias: b },
      { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, activation: relu ? 'relu' : 'linear' },
    );
}

function inputGrad(dy: tf.Tensor, w: tf.Tensor, xShape: number[], pad: Pad): tf.Tensor {
  return tf
    .engine()
    .runKernel<tf.Tensor>(
      tf.Conv2DBackpropInput,
      { dy, filter: w },
      { strides: 1, pad, dataFormat: 'NHWC', inputShape: xShape },
    );
}

function filterGradBias(x: tf.Tensor, dy: tf.Tensor, pad: Pad): [tf.Tensor, tf.Tensor] {
  return tf
    .engine()
    .runKernel(
      'MtuConv2DBackpropFilterBias',
      { x, dy },
      { strides: 1, pad, dataFormat: 'NHWC', filterShape: [3, 3, X_SHAPE[3], OUT] },
    ) as unknown as [tf.Tensor, tf.Tensor];
}

function info(t: tf.Tensor): TensorInfo {
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

for (const threads of [1, 2]) {
  describe(`Winograd convolutions on wasm, ${threads} thread(s)`, () => {
    beforeAll(async () => {
      await initBackend({ prefer: 'wasm', threads, convolutions: 'mtu' });
      // Start the helper thread (2 threads) and give it time to come up, so that the tests below
      // exercise the split path, not the single-thread fallback of its first milliseconds.
      const x = randn(X_SHAPE, 0);
      const w = randn([3, 3, X_SHAPE[3], OUT], 0);
      tf.dispose([x, w, tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same')]);
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    afterAll(() => {
      setWasmConvolutions('xnnpack');
      shutdownBackend();
    });
    useLeakGuard({ beforeEach, afterEach });

    it.each(PADDINGS.map((pad) => ({ pad, name: padName(pad) })))(
      'forward (+ bias, ReLU) matches the float64 definition, $name padding',
      ({ pad }) => {
        const g = geometry(pad);
        expect(winogradApplies(convGeometry(g))).toBe(true);
        const x = randn(X_SHAPE, 1);
        const w = randn([3, 3, X_SHAPE[3], OUT], 2);
        const b = randn([OUT], 3);
        const ref = conv2dRef(x.dataSync(), w.dataSync(), refGeometry(g), OUT);
        const bias = b.dataSync();
        const withBias = ref.value.map((v, i) => v + bias[i % OUT]!);
        const y = fusedConv(x, w, b, pad, false);
        expect(y.shape).toEqual([X_SHAPE[0], g.outHeight, g.outWidth, OUT]);
        expectClose(y, { value: withBias, magnitude: ref.magnitude.map((m) => m + 1) });
        const yRelu = fusedConv(x, w, b, pad, true);
        expectClose(yRelu, {
          value: withBias.map((v) => Math.max(v, 0)),
          magnitude: ref.magnitude.map((m) => m + 1),
        });
        const plain = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, pad);
        expectClose(plain, ref);
        tf.dispose([x, w, b, y, yRelu, plain]);
      },
    );

    it.each(PADDINGS.map((pad) => ({ pad, name: padName(pad) })))(
      'input gradient matches the float64 definition, $name padding',
      ({ pad }) => {
        const g = geometry(pad);
        const dy = randn([X_SHAPE[0], g.outHeight, g.outWidth, OUT], 4);
        const w = randn([3, 3, X_SHAPE[3], OUT], 5);
        const dx = inputGrad(dy, w, X_SHAPE, pad);
        expect(dx.shape).toEqual(X_SHAPE);
        expectClose(dx, conv2dInputGradRef(dy.dataSync(), w.dataSync(), refGeometry(g), OUT));
        tf.dispose([dy, w, dx]);
      },
    );

    it.each(PADDINGS.map((pad) => ({ pad, name: padName(pad) })))(
      'filter and bias gradients match the float64 definitions, $name padding',
      ({ pad }) => {
        const g = geometry(pad);
        const x = randn(X_SHAPE, 6);
        const dy = randn([X_SHAPE[0], g.outHeight, g.outWidth, OUT], 7);
        const ref = conv2dFilterGradRef(x.dataSync(), dy.dataSync(), refGeometry(g), OUT);
        // Twice: the first call may run before the helper thread is up, the second splits.
        for (let round = 0; round < 2; round++) {
          const [dw, db] = filterGradBias(x, dy, pad);
          expectClose(dw, ref);
          const dyv = dy.dataSync();
          const sums = new Float64Array(OUT);
          const mags = new Float64Array(OUT);
          dyv.forEach((v, i) => {
            sums[i % OUT] = sums[i % OUT]! + v;
            mags[i % OUT] = mags[i % OUT]! + Math.abs(v);
          });
          expectClose(db, { value: sums, magnitude: mags });
          const dwOnly = tf
            .engine()
            .runKernel<tf.Tensor>(
              tf.Conv2DBackpropFilter,
              { x, dy },
              { strides: 1, pad, dataFormat: 'NHWC', filterShape: [3, 3, X_SHAPE[3], OUT] },
            );
          expectClose(dwOnly, ref);
          tf.dispose([dw, db, dwOnly]);
        }
        tf.dispose([x, dy]);
      },
    );

    it('batch 1, remainder rows and columns in the products: all three match the definitions', () => {
      // 6 tiles (not a multiple of the 4-row block), 36 output channels (8-column blocks + 4).
      const xs = [1, 7, 9, 20] as [number, number, number, number];
      const o = 36;
      const g = tf.backend_util.computeConv2DInfo(xs, [3, 3, 20, o], 1, 1, 'same');
      const x = randn(xs, 21);
      const w = randn([3, 3, 20, o], 22);
      const b = tf.zeros([o]);
      const dy = randn([1, g.outHeight, g.outWidth, o], 23);
      const y = fusedConv(x, w, b, 'same', false);
      expectClose(y, conv2dRef(x.dataSync(), w.dataSync(), refGeometry(g), o));
      const dx = inputGrad(dy, w, xs, 'same');
      expectClose(dx, conv2dInputGradRef(dy.dataSync(), w.dataSync(), refGeometry(g), o));
      const dw = tf
        .engine()
        .runKernel<tf.Tensor>(
          tf.Conv2DBackpropFilter,
          { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 20, o] },
        );
      expectClose(dw, conv2dFilterGradRef(x.dataSync(), dy.dataSync(), refGeometry(g), o));
      tf.dispose([x, w, b, dy, y, dx, dw]);
    });

    it('splits the batch into chunks of images under a small workspace limit', () => {
      const g = geometry('same');
      const x = randn(X_SHAPE, 24);
      const w = randn([3, 3, X_SHAPE[3], OUT], 25);
      const b = tf.zeros([OUT]);
      const dy = randn([X_SHAPE[0], g.outHeight, g.outWidth, OUT], 26);
      // One image's 36 matrices hold 36·6·20 = 4320 elements: a limit of 1000 gives 1-image chunks.
      const previous = setConvWorkspaceLimit(1000);
      try {
        const y = fusedConv(x, w, b, 'same', false);
        expectClose(y, conv2dRef(x.dataSync(), w.dataSync(), refGeometry(g), OUT));
        const dx = inputGrad(dy, w, X_SHAPE, 'same');
        expectClose(dx, conv2dInputGradRef(dy.dataSync(), w.dataSync(), refGeometry(g), OUT));
        const [dw, db] = filterGradBias(x, dy, 'same');
        expectClose(dw, conv2dFilterGradRef(x.dataSync(), dy.dataSync(), refGeometry(g), OUT));
        tf.dispose([y, dx, dw, db]);
      } finally {
        setConvWorkspaceLimit(previous);
      }
      tf.dispose([x, w, b, dy]);
    });

    it('per-example filter and bias gradients match each example’s own definition, with the same bits as in xnnpack mode (one direct kernel)', () => {
      for (const pad of PADDINGS) {
        const g = geometry(pad);
        const x = randn(X_SHAPE, 27) as tf.Tensor4D;
        const dy = randn([X_SHAPE[0], g.outHeight, g.outWidth, OUT], 28) as tf.Tensor4D;
        const { filter, bias } = conv2dPerExampleGradients(x, dy, [3, 3, X_SHAPE[3], OUT], 1, pad);
        const one = { ...refGeometry(g), n: 1 };
        const xs = x.dataSync();
        const dys = dy.dataSync();
        const [dws, dbs] = [filter.dataSync(), bias.dataSync()];
        setWasmConvolutions('xnnpack');
        try {
          const other = conv2dPerExampleGradients(x, dy, [3, 3, X_SHAPE[3], OUT], 1, pad);
          expect(Array.from(other.filter.dataSync())).toEqual(Array.from(dws));
          expect(Array.from(other.bias.dataSync())).toEqual(Array.from(dbs));
          tf.dispose([other.filter, other.bias]);
        } finally {
          setWasmConvolutions('mtu');
        }
        const xSize = X_SHAPE[1] * X_SHAPE[2] * X_SHAPE[3];
        const dySize = g.outHeight * g.outWidth * OUT;
        const wSize = 9 * X_SHAPE[3] * OUT;
        for (let e = 0; e < X_SHAPE[0]; e++) {
          const dye = dys.subarray(e * dySize, (e + 1) * dySize);
          const ref = conv2dFilterGradRef(xs.subarray(e * xSize, (e + 1) * xSize), dye, one, OUT);
          const cmp = compareToReference(dws.subarray(e * wSize, (e + 1) * wSize), ref.value, {
            magnitude: ref.magnitude,
            rtol: WINOGRAD_RTOL,
          });
          expect(cmp.ok, `${padName(pad)} example ${e}: ${cmp.message}`).toBe(true);
          for (let k = 0; k < OUT; k++) {
            let sum = 0;
            for (let p = k; p < dySize; p += OUT) sum += dye[p]!;
            expect(dbs[e * OUT + k]).toBeCloseTo(sum, 4);
          }
        }
        tf.dispose([x, dy, filter, bias]);
      }
    });

    it('tf.grad of a conv net gives the direct kernels’ gradients (to float32 rounding)', () => {
      const x = randn([2, 6, 6, 16], 8) as tf.Tensor4D;
      const w1 = tf.tidy(() => tf.mul<tf.Tensor4D>(randn([3, 3, 16, 16], 9), 0.2));
      const w2 = tf.tidy(() => tf.mul<tf.Tensor4D>(randn([3, 3, 16, 8], 10), 0.2));
      const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        tf.sum(
          tf.square(
            tf.conv2d(
              tf.relu(tf.conv2d(x, a as tf.Tensor4D, 1, 'same')),
              b as tf.Tensor4D,
              1,
              'valid',
            ),
          ),
        );
      const grads = (): Float32Array[] =>
        tf.tidy(() =>
          tf
            .grads(loss)([w1, w2])
            .map((t) => t.dataSync() as Float32Array),
        );
      const wino = grads();
      setWasmConvolutions('xnnpack');
      const direct = grads();
      setWasmConvolutions('mtu');
      for (let k = 0; k < 2; k++) {
        const scale = Math.max(...direct[k]!.map(Math.abs));
        const err = Math.max(...wino[k]!.map((v, i) => Math.abs(v - direct[k]![i]!)));
        expect(err / scale).toBeLessThan(1e-5);
      }
      tf.dispose([x, w1, w2]);
    });

    it('falls back to the direct kernels where Winograd does not apply', () => {
      const cases: [number[], number[], number][] = [
        [[1, 6, 6, 16], [3, 3, 16, 16], 2], // stride 2
        [[1, 6, 6, 16], [5, 5, 16, 16], 1], // 5×5
        [[1, 6, 6, 6], [3, 3, 6, 16], 1], // channels not a multiple of 4
        [[1, 6, 6, 8], [3, 3, 8, 8], 1], // fewer than 16 channels
      ];
      for (const [xs, ws, stride] of cases) {
        const g = tf.backend_util.computeConv2DInfo(
          xs as [number, number, number, number],
          ws as [number, number, number, number],
          stride,
          1,
          'same',
        );
        expect(winogradApplies(convGeometry(g))).toBe(false);
        const x = randn(xs, 11);
        const w = randn(ws, 12);
        const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same');
        expectClose(y, conv2dRef(x.dataSync(), w.dataSync(), refGeometry(g), ws[3]!));
        tf.dispose([x, w, y]);
      }
    });

    it('filter gradients of the other convolutions (packing-free product) match the definition', () => {
      const cases: [number[], number[], number, Pad][] = [
        [[2, 9, 7, 3], [3, 3, 3, 8], 2, 'same'], // stride 2
        [[2, 9, 7, 5], [5, 3, 5, 12], 1, 'valid'], // 5×3
        [[2, 9, 7, 4], [1, 1, 4, 8], 3, PADDINGS[2]!], // 1×1, stride 3, explicit
        [[2, 9, 7, 3], [3, 3, 3, 6], 2, 'same'], // O not a multiple of 4: XNNPACK
      ];
      for (const [xs, ws, stride, pad] of cases) {
        const g = tf.backend_util.computeConv2DInfo(
          xs as [number, number, number, number],
          ws as [number, number, number, number],
          stride,
          1,
          pad,
        );
        const x = randn(xs, 19);
        const dy = randn([xs[0]!, g.outHeight, g.outWidth, ws[3]!], 20);
        const ref = conv2dFilterGradRef(x.dataSync(), dy.dataSync(), refGeometry(g), ws[3]!);
        const dw = tf
          .engine()
          .runKernel<tf.Tensor>(
            tf.Conv2DBackpropFilter,
            { x, dy },
            { strides: stride, pad, dataFormat: 'NHWC', filterShape: ws },
          );
        const cmp = compareToReference(dw.dataSync(), ref.value, {
          magnitude: ref.magnitude,
          rtol: RTOL,
        });
        expect(cmp.ok, `${JSON.stringify(ws)} stride ${stride}: ${cmp.message}`).toBe(true);
        tf.dispose([x, dy, dw]);
      }
    });

    it('negative control: a wrong padding or an unflipped filter fails the same comparison', () => {
      const backend = asWasmBackend(tf.backend(), 'test');
      const g = geometry('same');
      const cg = convGeometry(g);
      const x = randn(X_SHAPE, 13);
      const w = randn([3, 3, X_SHAPE[3], OUT], 14);
      const ref = conv2dRef(x.dataSync(), w.dataSync(), refGeometry(g), OUT);
      const shifted = tf
        .engine()
        .makeTensorFromTensorInfo(
          winogradConv2d(backend, info(x), info(w), undefined, false, { ...cg, padTop: 0 }),
        );
      const ok = compareToReference(shifted.dataSync(), ref.value, {
        magnitude: ref.magnitude,
        rtol: WINOGRAD_RTOL,
      });
      expect(ok.ok).toBe(false);
      const dy = randn([X_SHAPE[0], g.outHeight, g.outWidth, OUT], 15);
      const dxRef = conv2dInputGradRef(dy.dataSync(), w.dataSync(), refGeometry(g), OUT);
      // The input gradient of a stride-1 convolution is a convolution with the filter flipped;
      // convolving with the forward transform (unflipped, channels swapped) must be caught.
      const wT = tf.transpose(w, [0, 1, 3, 2]);
      const unflipped = tf.engine().makeTensorFromTensorInfo(
        winogradConv2d(backend, info(dy), info(wT), undefined, false, {
          ...cg,
          inChannels: OUT,
          outChannels: X_SHAPE[3],
        }),
      );
      const bad = compareToReference(unflipped.dataSync(), dxRef.value, {
        magnitude: dxRef.magnitude,
        rtol: WINOGRAD_RTOL,
      });
      expect(bad.ok).toBe(false);
      const good = tf
        .engine()
        .makeTensorFromTensorInfo(winogradConv2dBackpropInput(backend, info(dy), info(w), cg));
      expectClose(good, dxRef);
      tf.dispose([x, w, shifted, dy, wT, unflipped, good]);
    });

    it(threads === 1 ? 'has no helper thread' : 'splits the work with the helper thread', () => {
      const items = winogradHelperItems(asWasmBackend(tf.backend(), 'test'));
      if (threads === 1) expect(items).toBeUndefined();
      else expect(items).toBeGreaterThan(20);
    });

    it('keeps the wasm heap flat across calls (no leaked intermediates)', () => {
      const backend = tf.backend() as unknown as { numDataIds(): number };
      const x = randn(X_SHAPE, 16);
      const w = randn([3, 3, X_SHAPE[3], OUT], 17);
      const b = randn([OUT], 18);
      const step = (): void => {
        const y = fusedConv(x, w, b, 'same', true);
        const dx = inputGrad(y, w, X_SHAPE, 'same');
        const [dw, db] = filterGradBias(x, y, 'same');
        tf.dispose([y, dx, dw, db]);
      };
      step();
      const before = backend.numDataIds();
      for (let i = 0; i < 3; i++) step();
      expect(backend.numDataIds()).toBe(before);
      tf.dispose([x, w, b]);
    });
  });
}

describe('setWasmConvolutions', () => {
  it('switches between the kernels, returns the previous choice and rejects other values', () => {
    expect(wasmConvolutions()).toBe('xnnpack');
    expect(setWasmConvolutions('mtu')).toBe('xnnpack');
    expect(wasmConvolutions()).toBe('mtu');
    expect(() => setWasmConvolutions('fast' as never)).toThrow(ConfigError);
    expect(() => setWasmConvolutions('fast' as never)).toThrow(/convolutions/);
    expect(setWasmConvolutions('xnnpack')).toBe('mtu');
    expect(wasmConvolutions()).toBe('xnnpack');
  });
});

describe('the embedded Winograd wasm module', () => {
  it('imports only env.memory and holds no data, globals or start function', () => {
    const shared = Uint8Array.from(Buffer.from(WINOGRAD_WASM, 'base64'));
    for (const bytes of [shared, unsharedMemoryVariant(shared)]) {
      const ids = sectionIds(bytes);
      // 2 import, 6 global, 8 start, 11 data, 12 data count
      expect(ids).toContain(2);
      for (const forbidden of [6, 8, 11, 12]) expect(ids).not.toContain(forbidden);
    }
  });

  it('has an unshared variant that differs only in the memory import flag', () => {
    const shared = Uint8Array.from(Buffer.from(WINOGRAD_WASM, 'base64'));
    const unshared = unsharedMemoryVariant(shared);
    const differing = [...shared.keys()].filter((i) => shared[i] !== unshared[i]);
    expect(differing).toHaveLength(1);
    expect([shared[differing[0]!], unshared[differing[0]!]]).toEqual([3, 1]);
    // Already unshared: nothing to clear.
    expect(() => unsharedMemoryVariant(unshared)).toThrow(/no shared env.memory import/);
  });

  it('is up to date with assembly/winograd.ts', () => {
    const script = fileURLToPath(new URL('../../scripts/build-wasm.mjs', import.meta.url));
    expect(readFileSync(script, 'utf8')).toContain('--check');
    // Exits non-zero (and so throws) when the embedded module differs from a fresh compile.
    execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
  }, 60_000);
});
