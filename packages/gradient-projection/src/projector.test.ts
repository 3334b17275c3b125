/**
 * Tests of the task projector. Property ids refer to `research/method.md` §4 (T: task-level
 * projection). Arithmetic on the backend is float32 (unit roundoff u = 2⁻²⁴ ≈ 6e-8); every check
 * reads the results back and evaluates inner products in float64. Vectors here have ≤ 420 entries
 * and bases ≤ 16 columns, so float32 rounding contributes ~1e-6 relative at worst; the tolerance
 * TOL = 1e-5 (relative) leaves an order of magnitude of margin (the correct projector measures
 * ~1e-8), while the negative controls exceed 100·TOL.
 */
import {
  ConfigError,
  ShapeError,
  createRng,
  initBackend,
  orthonormalBasisF64,
  projectOnto,
  tf,
} from '@mtu/core-tensors';
import type { ParamLayout, Rank, Rng, Tensor1D } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
  rowBlock,
  sharedLayout,
  taskLayout,
  withOwned,
} from './__fixtures__/synthetic.js';
import type { Owned } from './__fixtures__/synthetic.js';
import { createTaskProjector } from './projector.js';
import type { TaskProjector } from './projector.js';
import { buildTaskSubspace, protectedSubspace } from './subspace.js';
import type { ProtectedSubspace, TaskSubspace } from './subspace.js';

/** Relative tolerance of the float32 orthogonality checks (see the file notes). */
const TOL = 1e-5;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

/** Per-task gradients over the shared layout (row-major float64) and their subspace. */
interface TaskData {
  readonly g: Float64Array;
  readonly N: number;
  readonly subspace: TaskSubspace;
}

function taskData(own: Owned, task: string, seed: number, N: number, energy: number): TaskData {
  const layout = sharedLayout();
  const g = lowRankGradients(createRng(seed), layout, N);
  const G = own.add(matrix(g, layout.size, N));
  return { g, N, subspace: own.add(buildTaskSubspace(task, G, layout, { energy })) };
}

/**
 * T1 residual: max over blocks b with a protected basis and columns β of B_b of |⟨ũ_b, β⟩| / ‖ũ‖
 * (float64 from the float32 values).
 */
function t1Violation(
  layout: ParamLayout,
  u: Float64Array,
  protectedSet: ProtectedSubspace,
): number {
  const unorm = norm64(u);
  let worst = 0;
  for (const e of layout.entries) {
    const B = protectedSet.bases.get(e.name);
    if (B === undefined) continue;
    const k = B.shape[1];
    const b = read(B);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < e.size; i++) s += (u[e.offset + i] ?? 0) * (b[i * k + j] ?? 0);
      worst = Math.max(worst, Math.abs(s) / unorm);
    }
  }
  return worst;
}

/** Test vectors over `layout`: Gaussian ones plus (adversarial) protected gradient columns with a random head. */
function testVectors(
  own: Owned,
  rng: Rng,
  layout: ParamLayout,
  columns: readonly Float64Array[],
): Tensor1D[] {
  const shared = sharedLayout();
  const out: Tensor1D[] = [];
  for (let i = 0; i < 4; i++) out.push(own.add(randomVector(rng, layout.size)));
  for (const c of columns) {
    const v = embed(shared, c, layout);
    for (let i = shared.size; i < layout.size; i++) v[i] = rng.normal();
    out.push(own.add(tf.tensor1d(Float32Array.from(v))));
  }
  return out;
}

function projectAll(own: Owned, P: TaskProjector, vs: readonly Tensor1D[]): Float64Array[] {
  return vs.map((v) => read(own.add(P.apply(v))));
}

describe('createTaskProjector', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('T1: |⟨ũ_b, β⟩| ≤ 1e-5·‖ũ‖ for every basis vector β of B_{¬a} on every shared block', () => {
    withOwned((own) => {
      const b = taskData(own, 'b', 31, 6, 0.97);
      const c = taskData(own, 'c', 32, 6, 0.97);
      const others = own.add(protectedSubspace([b.subspace, c.subspace]));
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, others);
      const vs = testVectors(own, createRng(33), layout, [
        column(b.g, sharedLayout().size, b.N, 0),
        column(c.g, sharedLayout().size, c.N, 1),
      ]);
      for (const u of projectAll(own, P, vs)) {
        expect(norm64(u)).toBeGreaterThan(0.1); // non-trivial output: the check is meaningful
        expect(t1Violation(layout, u, others)).toBeLessThanOrEqual(TOL);
      }
      // The input vectors themselves do violate it (the property is not vacuous).
      expect(t1Violation(layout, read(vs[4]!), others)).toBeGreaterThan(0.1);
    });
  });

  it("T1 negative control: a projector using only the first task's basis, or projecting onto instead of out, fails the T1 check", () => {
    withOwned((own) => {
      const b = taskData(own, 'b', 41, 6, 0.97);
      const c = taskData(own, 'c', 42, 6, 0.97);
      const others = own.add(protectedSubspace([b.subspace, c.subspace]));
      const onlyB = own.add(protectedSubspace([b.subspace]));
      const layout = taskLayout('a');
      const wrong = createTaskProjector(layout, onlyB);
      const right = createTaskProjector(layout, others);
      // Gaussian vectors plus task c's own gradients (what the wrong projector misses most).
      const vs = testVectors(own, createRng(43), layout, [
        column(c.g, sharedLayout().size, c.N, 0),
        column(c.g, sharedLayout().size, c.N, 1),
      ]);
      const rightWorst = Math.max(
        ...projectAll(own, right, vs).map((u) => t1Violation(layout, u, others)),
      );
      const wrongWorst = Math.max(
        ...projectAll(own, wrong, vs).map((u) => t1Violation(layout, u, others)),
      );
      expect(rightWorst).toBeLessThanOrEqual(TOL);
      expect(wrongWorst).toBeGreaterThan(100 * TOL);
      // "Onto" instead of "out" (v ← B Bᵀ v on a shared block) keeps exactly the protected part.
      const e = layout.byName.get('shared/enc2/w')!;
      const B = others.bases.get(e.name)!;
      for (const v of vs) {
        const vb = own.add(tf.slice(v, [e.offset], [e.size]));
        const onto = read(own.add(projectOnto(vb, B)));
        const u = read(v);
        u.set(onto, e.offset);
        expect(t1Violation(layout, u, others)).toBeGreaterThan(100 * TOL);
      }
    });
  });

  it('T2: at ε = 1 every sampled protected gradient g_j has |⟨Π u, g_j⟩| ≤ 1e-5·‖u‖·‖g_j‖, blockwise and globally', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const b = taskData(own, 'b', 51, 10, 1);
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, own.add(protectedSubspace([b.subspace])));
      const cols = Array.from({ length: b.N }, (_, j) => column(b.g, shared.size, b.N, j));
      const vs = testVectors(own, createRng(52), layout, cols.slice(0, 3));
      for (const v of vs) {
        const x = read(v);
        const y = read(own.add(P.apply(v)));
        for (const gj of cols) {
          const g = embed(shared, gj, layout); // zero on the head
          expect(Math.abs(dot64(y, g))).toBeLessThanOrEqual(TOL * norm64(x) * norm64(g));
          for (const e of shared.entries) {
            const bound = TOL * norm64(x, e.offset, e.size) * norm64(g, e.offset, e.size);
            expect(Math.abs(dot64(y, g, e.offset, e.size))).toBeLessThanOrEqual(bound);
          }
        }
      }
    });
  });

  it('T3: for ε < 1, Σ_j ⟨Π u, g_j⟩² ≤ σ_{k+1}²‖u‖² ≤ (1 − ε)‖G_b‖²_F‖u‖² per block (relative slack 1e-4 + 1e-10·‖G_b‖²_F‖u‖²)', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const N = 14;
      for (const energy of [0.5, 0.9, 0.97, 0.999]) {
        const b = taskData(own, 'b', 61, N, energy);
        const layout = taskLayout('a');
        const P = createTaskProjector(layout, own.add(protectedSubspace([b.subspace])));
        const cols = Array.from({ length: N }, (_, j) => column(b.g, shared.size, N, j));
        const vs = testVectors(own, createRng(62), layout, cols.slice(0, 4));
        let sensitive = false;
        for (const e of shared.entries) {
          const gb = rowBlock(b.g, N, e.offset, e.size);
          const ref = orthonormalBasisF64(gb, e.size, N, { energy });
          expect(b.subspace.bases.get(e.name)!.shape[1]).toBe(ref.k);
          const sigmaNext = ref.singularValues[ref.k] ?? 0;
          const frob2 = dot64(gb, gb);
          for (const v of vs) {
            const x = read(v);
            const y = read(own.add(P.apply(v)));
            const u2 = dot64(x, x, e.offset, e.size);
            let sumIn = 0;
            let sumOut = 0;
            for (let j = 0; j < N; j++) {
              const g = embed(shared, cols[j]!, layout);
              sumIn += dot64(x, g, e.offset, e.size) ** 2;
              sumOut += dot64(y, g, e.offset, e.size) ** 2;
            }
            const slack = 1e-10 * frob2 * u2;
            expect(sumOut).toBeLessThanOrEqual(sigmaNext ** 2 * u2 * (1 + 1e-4) + slack);
            expect(sumOut).toBeLessThanOrEqual((1 - energy) * frob2 * u2 * (1 + 1e-4) + slack);
            if (sumIn > (1 - energy) * frob2 * u2 * 1.1) sensitive = true;
          }
        }
        // Some unprojected input breaks the bound, so the check can fail.
        expect(sensitive).toBe(true);
      }
    });
  });

  it('T4: Π is symmetric (|⟨Πa, b⟩ − ⟨a, Πb⟩| ≤ 1e-5‖a‖‖b‖), idempotent (‖ΠΠv − Πv‖ ≤ 1e-5‖v‖) and ‖Πv‖ ≤ ‖v‖', () => {
    withOwned((own) => {
      const b = taskData(own, 'b', 71, 6, 0.97);
      const c = taskData(own, 'c', 72, 6, 0.97);
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, own.add(protectedSubspace([b.subspace, c.subspace])));
      const vs = testVectors(own, createRng(73), layout, [column(b.g, sharedLayout().size, 6, 0)]);
      const xs = vs.map(read);
      const ys = projectAll(own, P, vs);
      for (let i = 0; i < vs.length; i++) {
        const x = xs[i]!;
        const y = ys[i]!;
        const nx = norm64(x);
        expect(norm64(y)).toBeLessThanOrEqual(nx * (1 + 1e-6));
        // Orthogonal projector: ⟨Πv, v⟩ = ‖Πv‖².
        expect(Math.abs(dot64(y, x) - dot64(y, y))).toBeLessThanOrEqual(TOL * nx * nx);
        const yy = read(own.add(P.apply(own.add(tf.tensor1d(Float32Array.from(y))))));
        let diff = 0;
        for (let t = 0; t < y.length; t++) diff += ((yy[t] ?? 0) - (y[t] ?? 0)) ** 2;
        expect(Math.sqrt(diff)).toBeLessThanOrEqual(TOL * nx);
        for (let j = 0; j < vs.length; j++) {
          const xj = xs[j]!;
          const yj = ys[j]!;
          expect(Math.abs(dot64(y, xj) - dot64(x, yj))).toBeLessThanOrEqual(TOL * nx * norm64(xj));
        }
      }
    });
  });

  it('T5: blocks without a basis (the head, an unprotected shared block) are bit-identical to the input', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const N = 6;
      const G = own.add(matrix(lowRankGradients(createRng(81), shared, N), shared.size, N));
      const b = own.add(
        buildTaskSubspace('b', G, shared, {
          blocks: ['shared/enc1/w', 'shared/enc1/b', 'shared/enc2/w'],
        }),
      );
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, own.add(protectedSubspace([b])));
      expect(P.ranks.get('shared/enc2/b')).toBe(0);
      expect(P.ranks.get('a/head/w')).toBe(0);
      expect(P.ranks.get('shared/enc1/w')).toBe(b.bases.get('shared/enc1/w')!.shape[1]);
      const v = own.add(randomVector(createRng(82), layout.size));
      const x = v.dataSync();
      const y = own.add(P.apply(v)).dataSync();
      const E = own.add(randomMatrix(createRng(83), layout.size, 3));
      const ex = E.dataSync();
      const ey = own.add(P.applyColumns(E)).dataSync();
      for (const name of ['shared/enc2/b', 'a/head/w', 'a/head/b']) {
        const e = layout.byName.get(name)!;
        expect(y.slice(e.offset, e.offset + e.size)).toEqual(x.slice(e.offset, e.offset + e.size));
        expect(ey.slice(e.offset * 3, (e.offset + e.size) * 3)).toEqual(
          ex.slice(e.offset * 3, (e.offset + e.size) * 3),
        );
      }
      // A protected block did change.
      const w = layout.byName.get('shared/enc1/w')!;
      expect(y.slice(w.offset, w.offset + w.size)).not.toEqual(
        x.slice(w.offset, w.offset + w.size),
      );
    });
  });

  it('T6: a null or empty protected set, or k = 0 bases, give exactly the input (no NaN)', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      const layout = taskLayout('a');
      const N = 5;
      const G = own.add(matrix(lowRankGradients(createRng(91), shared, N), shared.size, N));
      const zeroK = own.add(buildTaskSubspace('b', G, shared, { energy: 0 }));
      const G0 = own.add(tf.zeros<Rank.R2>([shared.size, 0]));
      const noSamples = own.add(buildTaskSubspace('c', G0, shared));
      const projectors = [
        createTaskProjector(layout, null),
        createTaskProjector(layout, own.add(protectedSubspace([]))),
        createTaskProjector(layout, own.add(protectedSubspace([zeroK]))),
        createTaskProjector(layout, own.add(protectedSubspace([zeroK, noSamples]))),
      ];
      const v = own.add(randomVector(createRng(92), layout.size));
      const E = own.add(randomMatrix(createRng(93), layout.size, 4));
      for (const P of projectors) {
        expect(P.saturated).toEqual([]);
        expect([...P.ranks.values()].every((k) => k === 0)).toBe(true);
        const y = own.add(P.apply(v));
        expect(y).not.toBe(v); // a new tensor the caller owns
        expect(y.dataSync()).toEqual(v.dataSync());
        expect(own.add(P.applyColumns(E)).dataSync()).toEqual(E.dataSync());
      }
    });
  });

  it('applyColumns equals apply on every column (≤ 1e-6·‖column‖) and accepts M = 0', () => {
    withOwned((own) => {
      const b = taskData(own, 'b', 101, 6, 0.97);
      const c = taskData(own, 'c', 102, 6, 0.97);
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, own.add(protectedSubspace([b.subspace, c.subspace])));
      const M = 5;
      const E = own.add(randomMatrix(createRng(103), layout.size, M));
      const out = own.add(P.applyColumns(E));
      expect(out.shape).toEqual([layout.size, M]);
      const o = read(out);
      const e = read(E);
      for (let j = 0; j < M; j++) {
        const col = own.add(tf.tensor1d(Float32Array.from(column(e, layout.size, M, j))));
        const y = read(own.add(P.apply(col)));
        const oj = column(o, layout.size, M, j);
        let diff = 0;
        for (let i = 0; i < layout.size; i++) diff = Math.max(diff, Math.abs(oj[i]! - y[i]!));
        expect(diff).toBeLessThanOrEqual(1e-6 * norm64(column(e, layout.size, M, j)));
      }
      const empty = own.add(tf.zeros<Rank.R2>([layout.size, 0]));
      expect(own.add(P.applyColumns(empty)).shape).toEqual([layout.size, 0]);
    });
  });

  it('saturation (§3 pitfall 4): ≥ blockSize protected directions → the block is listed in `saturated` and its output is 0', () => {
    withOwned((own) => {
      const shared = sharedLayout();
      // 20 gradients with full-rank noise: at ε = 1 both bias blocks (16 and 12 scalars) are filled.
      const b = taskData(own, 'b', 111, 20, 1);
      const layout = taskLayout('a');
      const P = createTaskProjector(layout, own.add(protectedSubspace([b.subspace])));
      expect(P.saturated).toEqual(['shared/enc1/b', 'shared/enc2/b']);
      expect(P.ranks.get('shared/enc1/b')).toBe(16);
      expect(P.ranks.get('shared/enc2/w')).toBe(20);
      const v = own.add(randomVector(createRng(112), layout.size));
      const y = read(own.add(P.apply(v)));
      const E = own.add(randomMatrix(createRng(113), layout.size, 2));
      const ey = read(own.add(P.applyColumns(E)));
      for (const name of P.saturated) {
        const e = shared.byName.get(name)!;
        expect(norm64(y, e.offset, e.size)).toBe(0);
        expect(norm64(ey, e.offset * 2, e.size * 2)).toBe(0);
      }
      expect(norm64(y, layout.byName.get('shared/enc1/w')!.offset, 160)).toBeGreaterThan(0.1);
    });
  });

  it("ignores protected blocks outside the layout (another task's head): the vectors are zero there", () => {
    withOwned((own) => {
      const full = taskLayout('b');
      const N = 4;
      const G = own.add(matrix(lowRankGradients(createRng(121), full, N), full.size, N));
      const b = own.add(buildTaskSubspace('b', G, full, { energy: 1 }));
      const P = createTaskProjector(taskLayout('a'), own.add(protectedSubspace([b])));
      expect(P.ranks.has('b/head/w')).toBe(false);
      expect([...P.ranks.keys()]).toEqual(taskLayout('a').names);
    });
  });

  it('throws ShapeError naming the block for a basis of the wrong size, and for wrong input shapes', () => {
    withOwned((own) => {
      const layout = taskLayout('a');
      const wrongBasis = own.add(tf.zeros<Rank.R2>([7, 1]));
      const fake: ProtectedSubspace = {
        tasks: ['x'],
        bases: new Map([['shared/enc2/w', wrongBasis]]),
        dispose: () => undefined,
      };
      expect(() => createTaskProjector(layout, fake)).toThrow(ShapeError);
      expect(() => createTaskProjector(layout, fake)).toThrow(/shared\/enc2\/w/);
      const P = createTaskProjector(layout, null);
      const v = own.add(tf.zeros<Rank.R1>([layout.size + 1]));
      expect(() => P.apply(v)).toThrow(ShapeError);
      const E = own.add(tf.zeros<Rank.R2>([layout.size - 1, 2]));
      expect(() => P.applyColumns(E)).toThrow(ShapeError);
    });
  });

  it('borrows the bases: a projector used after its protected set was disposed throws ConfigError', () => {
    withOwned((own) => {
      const b = taskData(own, 'b', 131, 4, 0.97);
      const layout = taskLayout('a');
      const others = protectedSubspace([b.subspace]);
      const P = createTaskProjector(layout, others);
      others.dispose();
      const v = own.add(randomVector(createRng(132), layout.size));
      expect(() => P.apply(v)).toThrow(ConfigError);
      expect(() => createTaskProjector(layout, others)).toThrow(ConfigError);
    });
  });
});
