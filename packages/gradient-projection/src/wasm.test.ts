/**
 * The projector on the wasm backend (XNNPACK kernels, what the unlearning loop runs on): the same
 * properties as on cpu, checked more briefly. Tolerances as in `projector.test.ts` (TOL = 1e-5
 * relative, float32).
 */
import { createRng, initBackend, shutdownBackend, tf } from '@mtu/core-tensors';
import type { Rank } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  column,
  dot64,
  embed,
  lowRankGradients,
  matrix,
  norm64,
  randomMatrix,
  randomVector,
  read,
  sharedLayout,
  taskLayout,
  withOwned,
} from './__fixtures__/synthetic.js';
import { createTaskProjector } from './projector.js';
import { buildTaskSubspace, protectedSubspace } from './subspace.js';

const TOL = 1e-5;

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', threads: 1 });
});

afterAll(() => {
  shutdownBackend();
});

describe('createTaskProjector on wasm', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('T1/T2/T4/T5: orthogonal to every protected basis vector and sampled gradient, projector identities, head untouched', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const N = 10;
      const g = lowRankGradients(createRng(201), shared, N);
      const G = own.add(matrix(g, shared.size, N));
      const others = own.add(
        protectedSubspace([own.add(buildTaskSubspace('b', G, shared, { energy: 1 }))]),
      );
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, others);
      expect(P.saturated).toEqual([]);
      const v = own.add(randomVector(createRng(202), layout.size));
      const x = read(v);
      const y = read(own.add(P.apply(v)));
      const yy = read(own.add(P.apply(own.add(tf.tensor1d(Float32Array.from(y))))));
      expect(norm64(y)).toBeLessThanOrEqual(norm64(x));
      for (let j = 0; j < N; j++) {
        const gj = embed(shared, column(g, shared.size, N, j), layout);
        expect(Math.abs(dot64(y, gj))).toBeLessThanOrEqual(TOL * norm64(x) * norm64(gj)); // T2
      }
      for (const [name, B] of others.bases) {
        const e = layout.byName.get(name)!;
        const b = read(B);
        const k = B.shape[1];
        for (let c = 0; c < k; c++) {
          let s = 0;
          for (let i = 0; i < e.size; i++) s += y[e.offset + i]! * b[i * k + c]!;
          expect(Math.abs(s)).toBeLessThanOrEqual(TOL * norm64(y)); // T1
        }
      }
      let diff = 0;
      for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(yy[i]! - y[i]!));
      expect(diff).toBeLessThanOrEqual(TOL * norm64(x)); // T4 idempotent
      const head = layout.byName.get('a/head/w')!;
      expect(y.slice(head.offset, head.offset + head.size)).toEqual(
        x.slice(head.offset, head.offset + head.size),
      ); // T5
    });
  });

  it('T6, M = 0 and saturation: identity for k = 0, empty columns, zeroed saturated blocks', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const layout = taskLayout('a');
      const G = own.add(matrix(lowRankGradients(createRng(211), shared, 20), shared.size, 20));
      const empty = own.add(buildTaskSubspace('b', G, shared, { energy: 0 }));
      const full = own.add(buildTaskSubspace('c', G, shared, { energy: 1 }));
      const identity = createTaskProjector(layout, own.add(protectedSubspace([empty])));
      const saturating = createTaskProjector(layout, own.add(protectedSubspace([full])));
      const E = own.add(randomMatrix(createRng(212), layout.size, 3));
      expect(own.add(identity.applyColumns(E)).dataSync()).toEqual(E.dataSync());
      const none = own.add(tf.zeros<Rank.R2>([layout.size, 0]));
      expect(own.add(saturating.applyColumns(none)).shape).toEqual([layout.size, 0]);
      expect(saturating.saturated).toEqual(['shared/enc1/b', 'shared/enc2/b']);
      const out = read(own.add(saturating.applyColumns(E)));
      const bias = layout.byName.get('shared/enc1/b')!;
      expect(norm64(out, bias.offset * 3, bias.size * 3)).toBe(0);
      expect(out.every(Number.isFinite)).toBe(true);
    });
  });

  it('each column has the same bits whatever the columns beside it (what lets a caller project several blocks in one call)', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const G = own.add(matrix(lowRankGradients(createRng(221), shared, 12), shared.size, 12));
      const layout = taskLayout('a');
      const P = createTaskProjector(
        layout,
        own.add(protectedSubspace([own.add(buildTaskSubspace('b', G, shared, { energy: 0.9 }))])),
      );
      const M = 25;
      const E = own.add(randomMatrix(createRng(222), layout.size, M));
      const all = read(own.add(P.applyColumns(E)));
      const D = layout.size;
      const same = (from: number, count: number, out: Float64Array): void => {
        for (let j = 0; j < count; j++) {
          const a = column(out, D, count, j);
          const b = column(all, D, M, from + j);
          expect(
            a.every((x, i) => Object.is(x, b[i])),
            `column ${from + j}`,
          ).toBe(true);
        }
      };
      const v = own.add(tf.tidy(() => tf.reshape<Rank.R1>(tf.slice(E, [0, 0], [D, 1]), [D])));
      same(0, 1, read(own.add(P.apply(v))));
      same(1, 8, read(own.add(P.applyColumns(own.add(tf.slice(E, [0, 1], [D, 8]))))));
      same(9, 16, read(own.add(P.applyColumns(own.add(tf.slice(E, [0, 9], [D, 16]))))));
    });
  });
});
