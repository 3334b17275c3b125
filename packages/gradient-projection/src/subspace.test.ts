/**
 * Tests of task subspaces and their union. Property ids refer to `research/method.md` §4 (G: basis
 * and energy). All bases are float32, so orthonormality is checked at 1e-6 (float32 rounding of the
 * float64 basis gives ≤ 2·2⁻²⁴ ≈ 1.2e-7) and span identities at 1e-5.
 */
import {
  ConfigError,
  SHARED_GROUP,
  ShapeError,
  createParamLayout,
  createRng,
  initBackend,
  orthonormalBasis,
  orthonormalBasisF64,
  orthonormalityError,
  tf,
} from '@mtu/core-tensors';
import type { Rank, Tensor2D } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fullLayout,
  lowRankGradients,
  matrix,
  read,
  rowBlock,
  sharedLayout,
  withOwned,
} from './__fixtures__/synthetic.js';
import { blockSlices } from './blocks.js';
import { DEFAULT_SUBSPACE_ENERGY, buildTaskSubspace, protectedSubspace } from './subspace.js';
import type { TaskSubspace } from './subspace.js';

/** Orthonormality of float32 bases: ‖BᵀB − I‖_max. */
const ORTHO_TOL = 1e-6;
/** Span identities (B Bᵀ U = U) evaluated from float32 bases. */
const SPAN_TOL = 1e-5;

/** max |(B Bᵀ U − U)_ij| computed on the backend. */
function containmentError(B: Tensor2D, U: Tensor2D): number {
  if (U.shape[1] === 0) return 0;
  return tf.tidy(() => {
    const r = tf.sub(tf.matMul(B, tf.matMul(B, U, true, false)), U);
    return tf.max(tf.abs(r)).dataSync()[0] ?? Number.NaN;
  });
}

/** max |P_A − P_B| of the two orthogonal projectors, P = B Bᵀ (small blocks only). */
function projectorDistance(A: Tensor2D, B: Tensor2D): number {
  return tf.tidy(() => {
    const pa = tf.matMul(A, A, false, true);
    const pb = tf.matMul(B, B, false, true);
    return tf.max(tf.abs(tf.sub(pa, pb))).dataSync()[0] ?? Number.NaN;
  });
}

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('blockSlices', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('lists every entry of the layout with its range, in layout order', () => {
    const layout = fullLayout();
    const slices = blockSlices(layout);
    expect(slices.map((s) => s.name)).toEqual(layout.names);
    for (const s of slices) {
      const e = layout.byName.get(s.name);
      expect(s).toEqual({ name: s.name, offset: e?.offset, size: e?.size });
    }
  });

  it('selects named blocks in layout order whatever the given order', () => {
    const layout = fullLayout();
    const slices = blockSlices(layout, ['a/head/w', 'shared/enc1/b']);
    expect(slices.map((s) => s.name)).toEqual(['shared/enc1/b', 'a/head/w']);
  });

  it('rejects unknown and repeated names with ConfigError', () => {
    const layout = sharedLayout();
    expect(() => blockSlices(layout, ['shared/enc9/w'])).toThrow(ConfigError);
    expect(() => blockSlices(layout, ['shared/enc9/w'])).toThrow(/shared\/enc9\/w/);
    expect(() => blockSlices(layout, ['shared/enc1/w', 'shared/enc1/w'])).toThrow(ConfigError);
  });
});

describe('buildTaskSubspace', () => {
  useLeakGuard({ beforeEach, afterEach });

  it('G1/G3: one orthonormal basis per block, k_b ≤ min(blockSize, N), same as orthonormalBasis of the block rows', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 20;
      const g = lowRankGradients(createRng(1), layout, N);
      const G = own.add(matrix(g, layout.size, N));
      const s = own.add(buildTaskSubspace('a', G, layout));
      expect(s.task).toBe('a');
      expect(s.samples).toBe(N);
      expect(s.energy).toBe(DEFAULT_SUBSPACE_ENERGY);
      expect([...s.bases.keys()]).toEqual(layout.names);
      for (const e of layout.entries) {
        const B = s.bases.get(e.name)!;
        expect(B.shape[0]).toBe(e.size);
        const k = B.shape[1];
        expect(k).toBeGreaterThan(0);
        expect(k).toBeLessThanOrEqual(Math.min(e.size, N));
        expect(orthonormalityError(B)).toBeLessThanOrEqual(ORTHO_TOL);
        // The block's rows went through orthonormalBasis with the same options: identical values.
        const Gb = own.add(matrix(rowBlock(g, N, e.offset, e.size), e.size, N));
        const ref = own.add(orthonormalBasis(Gb, { energy: DEFAULT_SUBSPACE_ENERGY }));
        expect(Array.from(B.dataSync())).toEqual(Array.from(ref.dataSync()));
        // And k is the GPM energy rank of the block's singular values (float64 reference).
        const f64 = orthonormalBasisF64(rowBlock(g, N, e.offset, e.size), e.size, N, {
          energy: DEFAULT_SUBSPACE_ENERGY,
        });
        expect(k).toBe(f64.k);
      }
      // A low-rank-plus-noise block needs fewer directions at ε = 0.97 than its full rank.
      const w = s.bases.get('shared/enc1/w')!;
      expect(w.shape[1]).toBeLessThan(N);
    });
  });

  it('G3: k_b is 0 at ε = 0, non-decreasing in ε, and the numerical rank at ε = 1', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 12;
      const G = own.add(matrix(lowRankGradients(createRng(2), layout, N), layout.size, N));
      let prev: Map<string, number> | undefined;
      for (const energy of [0, 0.3, 0.6, 0.9, 0.97, 0.999, 1]) {
        const s = own.add(buildTaskSubspace('a', G, layout, { energy }));
        const ks = new Map([...s.bases].map(([name, B]) => [name, B.shape[1]]));
        for (const e of layout.entries) {
          const k = ks.get(e.name)!;
          if (energy === 0) expect(k).toBe(0);
          if (energy === 1) expect(k).toBe(Math.min(e.size, N)); // noise makes G_b full rank
          if (prev !== undefined) expect(k).toBeGreaterThanOrEqual(prev.get(e.name)!);
        }
        prev = ks;
      }
    });
  });

  it('G5: the subspace of αG equals that of G (projector distance ≤ 1e-5)', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 10;
      const g = lowRankGradients(createRng(3), layout, N);
      const G = own.add(matrix(g, layout.size, N));
      const G2 = own.add(
        matrix(
          g.map((x) => x * -1024),
          layout.size,
          N,
        ),
      );
      const s1 = own.add(buildTaskSubspace('a', G, layout, { energy: 0.9 }));
      const s2 = own.add(buildTaskSubspace('a', G2, layout, { energy: 0.9 }));
      for (const name of layout.names) {
        const A = s1.bases.get(name)!;
        const B = s2.bases.get(name)!;
        expect(B.shape).toEqual(A.shape);
        expect(projectorDistance(A, B)).toBeLessThanOrEqual(SPAN_TOL);
      }
    });
  });

  it('builds bases for the selected blocks only (e.g. the shared group of a full layout)', () => {
    withOwned((own) => {
      const layout = fullLayout();
      const N = 8;
      const G = own.add(matrix(lowRankGradients(createRng(4), layout, N), layout.size, N));
      const shared = layout.groups.get(SHARED_GROUP)!.names;
      const s = own.add(buildTaskSubspace('a', G, layout, { blocks: shared }));
      expect([...s.bases.keys()]).toEqual(shared);
      const none = own.add(buildTaskSubspace('a', G, layout, { blocks: [] }));
      expect(none.bases.size).toBe(0);
    });
  });

  it('N = 0 or an all-zero G gives k = 0 bases ([blockSize, 0]) without NaN', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const G0 = own.add(tf.zeros<Rank.R2>([layout.size, 0]));
      const s0 = own.add(buildTaskSubspace('a', G0, layout));
      expect(s0.samples).toBe(0);
      const Gz = own.add(tf.zeros<Rank.R2>([layout.size, 5]));
      const sz = own.add(buildTaskSubspace('a', Gz, layout, { energy: 1 }));
      for (const s of [s0, sz]) {
        for (const e of layout.entries) expect(s.bases.get(e.name)!.shape).toEqual([e.size, 0]);
      }
    });
  });

  it('rejects bad shapes (ShapeError), options and names (ConfigError), and names the block of a non-finite entry', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 4;
      const g = lowRankGradients(createRng(5), layout, N);
      const G = own.add(matrix(g, layout.size, N));
      const short = own.add(tf.zeros<Rank.R2>([layout.size - 1, N]));
      expect(() => buildTaskSubspace('a', short, layout)).toThrow(ShapeError);
      const vec = own.add(tf.zeros([layout.size]));
      expect(() => buildTaskSubspace('a', vec as unknown as Tensor2D, layout)).toThrow(ShapeError);
      expect(() => buildTaskSubspace('', G, layout)).toThrow(ConfigError);
      expect(() => buildTaskSubspace('a', G, layout, { energy: 1.5 })).toThrow(ConfigError);
      expect(() => buildTaskSubspace('a', G, layout, { energy: Number.NaN })).toThrow(ConfigError);
      expect(() => buildTaskSubspace('a', G, layout, { rtol: -1 })).toThrow(ConfigError);
      expect(() => buildTaskSubspace('a', G, layout, { blocks: ['nope'] })).toThrow(ConfigError);
      const bad = g.slice();
      const enc2 = layout.byName.get('shared/enc2/w')!;
      bad[(enc2.offset + 3) * N + 1] = Number.NaN;
      const Gbad = own.add(matrix(bad, layout.size, N));
      const before = tf.memory().numTensors;
      expect(() => buildTaskSubspace('a', Gbad, layout)).toThrow(/shared\/enc2\/w/);
      expect(() => buildTaskSubspace('a', Gbad, layout)).toThrow(ConfigError);
      // The bases of the blocks before the failing one were freed.
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('dispose() frees every basis, idempotently', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 6;
      const G = own.add(matrix(lowRankGradients(createRng(6), layout, N), layout.size, N));
      const before = tf.memory().numTensors;
      const s = buildTaskSubspace('a', G, layout);
      expect(tf.memory().numTensors).toBe(before + layout.entries.length);
      s.dispose();
      s.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect([...s.bases.values()].every((B) => B.isDisposed)).toBe(true);
    });
  });
});

describe('protectedSubspace', () => {
  useLeakGuard({ beforeEach, afterEach });

  function subspaces(own: { add<T extends { dispose(): void }>(x: T): T }): TaskSubspace[] {
    const layout = sharedLayout();
    const N = 8;
    return ['b', 'c'].map((task, i) => {
      const G = own.add(matrix(lowRankGradients(createRng(10 + i), layout, N), layout.size, N));
      return own.add(buildTaskSubspace(task, G, layout, { energy: 0.99 }));
    });
  }

  it('G4: the union contains every part per block (max |B Bᵀ U_t − U_t| ≤ 1e-5) and is orthonormal (≤ 1e-6)', () => {
    withOwned((own) => {
      const parts = subspaces(own);
      const union = own.add(protectedSubspace(parts));
      expect(union.tasks).toEqual(['b', 'c']);
      expect([...union.bases.keys()]).toEqual(sharedLayout().names);
      for (const [name, B] of union.bases) {
        expect(orthonormalityError(B)).toBeLessThanOrEqual(ORTHO_TOL);
        const widths = parts.map((p) => p.bases.get(name)!.shape[1]);
        expect(B.shape[1]).toBeGreaterThanOrEqual(Math.max(...widths));
        expect(B.shape[1]).toBeLessThanOrEqual(
          Math.min(
            B.shape[0],
            widths.reduce((a, b) => a + b, 0),
          ),
        );
        for (const p of parts) {
          expect(containmentError(B, p.bases.get(name)!)).toBeLessThanOrEqual(SPAN_TOL);
        }
      }
    });
  });

  it('G4: directions shared by two tasks appear once (union of a subspace with its copy keeps k)', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 6;
      const g = lowRankGradients(createRng(20), layout, N);
      const G = own.add(matrix(g, layout.size, N));
      const s1 = own.add(buildTaskSubspace('b', G, layout, { energy: 0.99 }));
      const s2 = own.add(buildTaskSubspace('b-copy', G, layout, { energy: 0.99 }));
      const union = own.add(protectedSubspace([s1, s2]));
      for (const [name, B] of union.bases) {
        expect(B.shape[1]).toBe(s1.bases.get(name)!.shape[1]);
        expect(projectorDistance(B, s1.bases.get(name)!)).toBeLessThanOrEqual(SPAN_TOL);
      }
    });
  });

  it('keeps blocks some task has, omits blocks no task has, and gives k = 0 where every part is empty', () => {
    withOwned((own) => {
      const layout = sharedLayout();
      const N = 5;
      const G = own.add(matrix(lowRankGradients(createRng(21), layout, N), layout.size, N));
      const s1 = own.add(buildTaskSubspace('b', G, layout, { blocks: ['shared/enc1/w'] }));
      const s2 = own.add(
        buildTaskSubspace('c', G, layout, {
          blocks: ['shared/enc1/w', 'shared/enc2/w'],
          energy: 0,
        }),
      );
      const union = own.add(protectedSubspace([s1, s2]));
      expect([...union.bases.keys()]).toEqual(['shared/enc1/w', 'shared/enc2/w']);
      expect(union.bases.get('shared/enc1/w')!.shape[1]).toBe(
        s1.bases.get('shared/enc1/w')!.shape[1],
      );
      expect(union.bases.get('shared/enc2/w')!.shape).toEqual([
        layout.byName.get('shared/enc2/w')!.size,
        0,
      ]);
    });
  });

  it('an empty list gives an empty protected set', () => {
    const empty = protectedSubspace([]);
    expect(empty.tasks).toEqual([]);
    expect(empty.bases.size).toBe(0);
    empty.dispose();
  });

  it('rejects a block size mismatch (ShapeError naming the block), repeated tasks and disposed subspaces (ConfigError)', () => {
    withOwned((own) => {
      const parts = subspaces(own);
      const other = createParamLayout([{ name: 'shared/enc1/w', shape: [7], group: 'shared' }]);
      const Go = own.add(
        matrix(
          Array.from({ length: 14 }, (_, i) => i % 5),
          7,
          2,
        ),
      );
      const odd = own.add(buildTaskSubspace('d', Go, other, { energy: 1 }));
      expect(() => protectedSubspace([parts[0]!, odd])).toThrow(ShapeError);
      expect(() => protectedSubspace([parts[0]!, odd])).toThrow(/shared\/enc1\/w/);
      expect(() => protectedSubspace([parts[0]!, parts[0]!])).toThrow(ConfigError);
      const layout = sharedLayout();
      const G = own.add(matrix(lowRankGradients(createRng(22), layout, 3), layout.size, 3));
      const gone = buildTaskSubspace('e', G, layout);
      gone.dispose();
      expect(() => protectedSubspace([parts[0]!, gone])).toThrow(ConfigError);
    });
  });

  it('owns its tensors: the parts can be disposed first; dispose() frees everything, idempotently', () => {
    withOwned((own) => {
      const before = tf.memory().numTensors;
      const layout = sharedLayout();
      const N = 6;
      const G = own.add(matrix(lowRankGradients(createRng(23), layout, N), layout.size, N));
      const s1 = buildTaskSubspace('b', G, layout);
      const s2 = buildTaskSubspace('c', G, layout, { energy: 0.5 });
      const union = protectedSubspace([s1, s2]);
      s1.dispose();
      s2.dispose();
      for (const B of union.bases.values()) expect(read(B).every(Number.isFinite)).toBe(true);
      union.dispose();
      union.dispose();
      expect(tf.memory().numTensors).toBe(before + 1); // G only
    });
  });
});
