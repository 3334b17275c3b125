// The O(D·M) passes of dual.ts run in the float64 host kernels of @mtu/core-tensors (wasm by
// default). Their results, and every orthogonalize mode's, must be bit-identical to the
// JavaScript reference loops (setHostKernels('js')), so that recorded results stay reproducible.
import { createRng, initBackend, setHostKernels, tf } from '@mtu/core-tensors';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomProblem, tensors } from './__fixtures__/oracle.js';
import { combineHost, hostProducts, residualProducts } from './dual.js';
import { orthogonalizeWithInfo } from './index.js';
import type { OrthogonalizeMode } from './index.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

afterEach(() => {
  setHostKernels('wasm');
});

/** Index of the first value that differs (`Object.is`), or −1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Runs `f` with the JavaScript loops, then with wasm. */
function both<T>(f: () => T): [T, T] {
  setHostKernels('js');
  const js = f();
  setHostKernels('wasm');
  return [js, f()];
}

describe('dual.ts on the host kernels: wasm = JavaScript, bit for bit', () => {
  it('hostProducts, residualProducts and combineHost', () => {
    const rng = createRng(1);
    for (const [D, M] of [
      [1, 1],
      [7, 3],
      [33, 5],
      [1001, 24],
      [0, 2],
      [12, 0],
    ] as const) {
      const p = randomProblem(rng, D, M, { bias: 2 });
      const a = Float64Array.from({ length: M }, (_, j) => (j % 3 === 1 ? 0 : rng.normal()));
      const [js, wasm] = both(() => {
        const h = hostProducts(p.C, p.g, D, M);
        const c = combineHost(p.g, p.C, D, M, a);
        return [h.G, h.b, [h.gg], residualProducts(p.C, p.g, D, M, a), c.u, [c.uu]];
      });
      js.forEach((ref, i) => expect(firstDiff(wasm[i]!, ref), `D=${D} M=${M} #${i}`).toBe(-1));
    }
  });

  it("every orthogonalize mode ('full', 'conflict', 'qp') gives the same direction and diagnostics", () => {
    const rng = createRng(2);
    for (const [D, M] of [
      [9, 4],
      [1003, 24],
    ] as const) {
      const p = randomProblem(rng, D, M, { bias: 3 });
      for (const mode of ['full', 'conflict', 'qp'] as OrthogonalizeMode[]) {
        const [js, wasm] = both(() => {
          const { g, C } = tensors(p);
          const r = orthogonalizeWithInfo(g, C, { mode, rng: createRng(7) });
          const u = r.u.dataSync().slice();
          tf.dispose([g, C, r.u]);
          return { u, info: [r.rank, r.projected, r.normRatio] };
        });
        expect(firstDiff(wasm.u, js.u), `${mode} D=${D}`).toBe(-1);
        expect(firstDiff(wasm.info, js.info), `${mode} D=${D}`).toBe(-1);
      }
    }
  });
});
