import { mkdir, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '@mtu/core-tensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NpyDtype } from '../../npy.js';
import { writeNpy } from '../../npy.js';
import type { LoadProgress } from '../../registry.js';
import { createDatasetRegistry, optionInfo, resolveDatasetOptions } from '../../registry.js';
import { resizeBilinear, resizeNearest, resizeNormals } from '../../resize.js';
import type { CityscapesOptions } from './cityscapes.js';
import { cityscapesDataset } from './cityscapes.js';
import type { Nyuv2Options } from './nyuv2.js';
import { NYUV2_CLASS_NAMES, nyuv2Dataset } from './nyuv2.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mtu-mtan-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let treeCounter = 0;

/** Deterministic fixture content of instance `i` of a split (`s` = 0 train, 1 val). */
const gen = {
  image: (s: number, i: number, h: number, w: number): Float32Array =>
    Float32Array.from(
      { length: h * w * 3 },
      (_, p) => ((s * 97 + i * 31 + Math.floor(p / 3) * 7 + (p % 3) * 50) % 256) / 255,
    ),
  label: (s: number, i: number, h: number, w: number, classes: number): Int32Array =>
    Int32Array.from({ length: h * w }, (_, p) => ((s * 5 + i + p) % (classes + 1)) - 1),
  depth: (s: number, i: number, h: number, w: number): Float32Array =>
    Float32Array.from({ length: h * w }, (_, p) => ((s + i + p) % 5) * 0.5), // 0 = invalid
  normal: (s: number, i: number, h: number, w: number): Float32Array => {
    const dirs = [
      [0, 0, 0], // invalid
      [0, 0, 1],
      [0.6, 0, 0.8],
      [0, -0.6, 0.8],
      [-0.48, 0.6, 0.64],
    ];
    const out = new Float32Array(h * w * 3);
    for (let p = 0; p < h * w; p++) out.set(dirs[(s * 3 + i + p * 7) % dirs.length]!, p * 3);
    return out;
  },
};

interface TreeSpec {
  readonly kind: 'nyuv2' | 'cityscapes';
  readonly train: number;
  readonly val: number;
  /** Cityscapes label folders to write (default ['label_7']). */
  readonly labelFolders?: readonly string[];
  readonly labelDtype?: NpyDtype;
}

/** Writes a fixture tree in the MTAN layout at the datasets' native shapes; returns its root. */
async function writeTree(spec: TreeSpec): Promise<string> {
  const root = join(tmp, `tree-${treeCounter++}`);
  const [h, w] = spec.kind === 'nyuv2' ? [288, 384] : [128, 256];
  const labelFolders = spec.kind === 'nyuv2' ? ['label'] : (spec.labelFolders ?? ['label_7']);
  for (const [s, split, n] of [
    [0, 'train', spec.train],
    [1, 'val', spec.val],
  ] as const) {
    const dir = join(root, split);
    const folders = [
      'image',
      'depth',
      ...labelFolders,
      ...(spec.kind === 'nyuv2' ? ['normal'] : []),
    ];
    for (const f of folders) await mkdir(join(dir, f), { recursive: true });
    for (let i = 0; i < n; i++) {
      // the first image is float64, the others float32 (both are accepted)
      await writeNpy(
        join(dir, 'image', `${i}.npy`),
        gen.image(s, i, h, w),
        [h, w, 3],
        i === 0 ? 'float64' : 'float32',
      );
      await writeNpy(join(dir, 'depth', `${i}.npy`), gen.depth(s, i, h, w), [h, w, 1]);
      for (const f of labelFolders) {
        const classes =
          f === 'label_19' ? 19 : f === 'label_2' ? 2 : spec.kind === 'nyuv2' ? 13 : 7;
        await writeNpy(
          join(dir, f, `${i}.npy`),
          gen.label(s, i, h, w, classes),
          [h, w],
          spec.labelDtype ?? 'float32',
        );
      }
      if (spec.kind === 'nyuv2') {
        await writeNpy(join(dir, 'normal', `${i}.npy`), gen.normal(s, i, h, w), [h, w, 3]);
      }
    }
  }
  return root;
}

async function expectFileError(
  promise: Promise<unknown>,
  file: string,
  pattern: RegExp,
): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, 'an error').toBeInstanceOf(CheckpointError);
  const e = caught as CheckpointError;
  expect(e.file).toBe(file);
  expect(e.message).toContain(file);
  expect(e.message).toMatch(pattern);
}

/** Element-wise equality of two large arrays (vitest's deep equality is slow on 300k elements). */
function same(
  actual: ArrayLike<number> | undefined,
  expected: ArrayLike<number>,
  where = '',
): void {
  expect(actual, where).toBeDefined();
  expect(actual!.constructor, where).toBe(expected.constructor);
  expect(actual!.length, where).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual![i], expected[i])) {
      expect(actual![i], `${where} element ${i}`).toBe(expected[i]);
    }
  }
}

const nyu = (o: Partial<Nyuv2Options> & { root: string }): Nyuv2Options =>
  resolveDatasetOptions(nyuv2Dataset, o);
const city = (o: Partial<CityscapesOptions> & { root: string }): CityscapesOptions =>
  resolveDatasetOptions(cityscapesDataset, o);

describe('nyuv2', () => {
  let root: string;
  beforeAll(async () => {
    root = await writeTree({ kind: 'nyuv2', train: 3, val: 2, labelDtype: 'int64' });
  });

  it('loads every file at the native size, values in place', async () => {
    const events: LoadProgress[] = [];
    const ds = await nyuv2Dataset.load(nyu({ root }), { onProgress: (p) => events.push(p) });
    expect(ds.id).toBe('nyuv2');
    expect(ds.inputShape).toEqual([288, 384, 3]);
    expect(ds.tasks.map((t) => [t.name, t.kind, t.classes])).toEqual([
      ['segmentation', 'segmentation', 13],
      ['depth', 'depth', 0],
      ['normals', 'normals', 0],
    ]);
    expect(ds.tasks[0]!.classNames).toEqual(NYUV2_CLASS_NAMES);
    expect(ds.tasks[0]!.ignoreIndex).toBe(-1);
    // the descriptor's static task list is what a load gives
    expect(nyuv2Dataset.tasks).toEqual(ds.tasks.map((t) => ({ name: t.name, kind: t.kind })));
    expect([ds.train.size, ds.test.size, ds.test.first]).toEqual([3, 2, 3]);
    const px = 288 * 384;
    for (const [split, s, n] of [
      [ds.train, 0, 3],
      [ds.test, 1, 2],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const where = `${split.name} ${i}`;
        const image = split.inputs.subarray(i * px * 3, (i + 1) * px * 3);
        // instance 0's image was stored as float64: equal after rounding to float32
        same(image, gen.image(s, i, 288, 384), where);
        same(
          split.labels['segmentation']!.subarray(i * px, (i + 1) * px),
          gen.label(s, i, 288, 384, 13),
          where,
        );
        same(
          split.labels['depth']!.subarray(i * px, (i + 1) * px),
          gen.depth(s, i, 288, 384),
          where,
        );
        same(
          split.labels['normals']!.subarray(i * px * 3, (i + 1) * px * 3),
          gen.normal(s, i, 288, 384),
          where,
        );
      }
    }
    expect(ds.train.labels['segmentation']).toBeInstanceOf(Int32Array);
    const train = events.filter((e) => e.phase === 'read train');
    const test = events.filter((e) => e.phase === 'read test');
    expect(train.map((e) => e.done)).toEqual([1, 2, 3]);
    expect(test.at(-1)).toEqual({ dataset: 'nyuv2', phase: 'read test', done: 2, total: 2 });
    expect(ds.options).toEqual({ root, height: 288, width: 384 });
  });

  it('resizes on load and honours the limits', async () => {
    const ds = await nyuv2Dataset.load(
      nyu({ root, height: 144, width: 192, limitTrain: 2, limitTest: 1 }),
    );
    expect(ds.inputShape).toEqual([144, 192, 3]);
    expect([ds.train.size, ds.test.size]).toEqual([2, 1]);
    expect(ds.tasks[2]!.labelShape).toEqual([144, 192, 3]);
    const px = 144 * 192;
    const i = 1;
    const image = gen.image(0, i, 288, 384);
    const label = gen.label(0, i, 288, 384, 13);
    const depth = gen.depth(0, i, 288, 384);
    const normal = gen.normal(0, i, 288, 384);
    const seg = ds.train.labels['segmentation']!.subarray(px, 2 * px);
    same(seg, resizeNearest(label, [288, 384, 1], [144, 192]));
    // nearest 2× down-sampling reads the source pixel (2y, 2x)
    expect(seg[10 * 192 + 7]).toBe(label[20 * 384 + 14]);
    same(
      ds.train.labels['depth']!.subarray(px, 2 * px),
      resizeNearest(depth, [288, 384, 1], [144, 192]),
    );
    const img = ds.train.inputs.subarray(px * 3, 2 * px * 3);
    same(img, resizeBilinear(image, [288, 384, 3], [144, 192]));
    // bilinear 2× down-sampling averages the 2×2 block
    const at = (y: number, x: number, c: number): number => image[(y * 384 + x) * 3 + c]!;
    expect(img[(10 * 192 + 7) * 3 + 1]).toBeCloseTo(
      (at(20, 14, 1) + at(20, 15, 1) + at(21, 14, 1) + at(21, 15, 1)) / 4,
      6,
    );
    const nrm = ds.train.labels['normals']!.subarray(px * 3, 2 * px * 3);
    same(nrm, resizeNormals(normal, [288, 384, 3], [144, 192]));
    for (let p = 0; p < px; p++) {
      const n = Math.hypot(nrm[p * 3]!, nrm[p * 3 + 1]!, nrm[p * 3 + 2]!);
      expect(n === 0 || Math.abs(n - 1) < 1e-5).toBe(true);
    }
    expect(ds.options).toEqual({ root, height: 144, width: 192, limitTrain: 2, limitTest: 1 });
  });

  it('names a mis-shaped or missing file', async () => {
    const bad = await writeTree({ kind: 'nyuv2', train: 2, val: 1 });
    const normal = join(bad, 'train', 'normal', '1.npy');
    await writeNpy(normal, new Float32Array(288 * 384), [288, 384]);
    await expectFileError(
      nyuv2Dataset.load(nyu({ root: bad })),
      normal,
      /float32 array of shape \(288, 384\), expected a float array of shape \(288, 384, 3\)/,
    );
    await rm(join(bad, 'val', 'normal'), { recursive: true });
    await writeNpy(normal, gen.normal(0, 1, 288, 384), [288, 384, 3]);
    await expectFileError(
      nyuv2Dataset.load(nyu({ root: bad })),
      join(bad, 'val', 'normal'),
      /missing folder/,
    );
    await rm(bad, { recursive: true });
  });

  it('validates options through the registry', async () => {
    const registry = createDatasetRegistry();
    registry.register(nyuv2Dataset);
    registry.register(cityscapesDataset);
    await expect(registry.load('nyuv2', {})).rejects.toThrow(ConfigError);
    await expect(registry.load('nyuv2', {})).rejects.toThrow(/nyuv2\.root/);
    expect(() => resolveDatasetOptions(nyuv2Dataset, { root, limitTrain: 0 })).toThrow(
      /nyuv2\.limitTrain/,
    );
    expect(() => resolveDatasetOptions(nyuv2Dataset, { root, hieght: 10 })).toThrow(
      /nyuv2\.hieght.*unknown option/,
    );
    expect(() => resolveDatasetOptions(cityscapesDataset, { root, classes: 8 })).toThrow(
      /cityscapes\.classes/,
    );
    expect(optionInfo(nyuv2Dataset).map((o) => [o.name, o.default, o.required])).toEqual([
      ['root', undefined, true],
      ['limitTrain', undefined, false],
      ['limitTest', undefined, false],
      ['height', 288, false],
      ['width', 384, false],
    ]);
    for (const o of [...optionInfo(nyuv2Dataset), ...optionInfo(cityscapesDataset)]) {
      expect(o.description, o.name).toBeTruthy();
    }
    await expect(registry.load('nyuv2', { root, limitTrain: 4 })).rejects.toThrow(
      /nyuv2\.limitTrain = 4: exceeds the 3 train instances/,
    );
    await expectFileError(
      registry.load('nyuv2', { root: join(tmp, 'absent') }),
      join(tmp, 'absent'),
      /root folder not found/,
    );
  });
});

describe('cityscapes', () => {
  it('loads label_7 (float labels) with inverse depth', async () => {
    const root = await writeTree({ kind: 'cityscapes', train: 3, val: 2 });
    const ds = await cityscapesDataset.load(city({ root }));
    expect(cityscapesDataset.tasks).toEqual(ds.tasks.map((t) => ({ name: t.name, kind: t.kind })));
    expect(ds.inputShape).toEqual([128, 256, 3]);
    expect(ds.tasks.map((t) => [t.name, t.classes])).toEqual([
      ['segmentation', 7],
      ['depth', 0],
    ]);
    expect(ds.description).toContain('label_7');
    const px = 128 * 256;
    same(ds.test.labels['segmentation']!.subarray(px, 2 * px), gen.label(1, 1, 128, 256, 7));
    same(ds.test.labels['depth']!.subarray(px, 2 * px), gen.depth(1, 1, 128, 256));
    same(ds.train.inputs.subarray(2 * px * 3), gen.image(0, 2, 128, 256));
    await rm(root, { recursive: true });
  });

  it("reads LibMTL's label/ folder when label_7/ is absent, and label_19 / label_2 on request", async () => {
    const root = await writeTree({
      kind: 'cityscapes',
      train: 2,
      val: 1,
      labelFolders: ['label', 'label_19', 'label_2'],
      labelDtype: 'int32',
    });
    const px = 128 * 256;
    const seven = await cityscapesDataset.load(city({ root }));
    expect(seven.description).toContain('label/');
    same(seven.train.labels['segmentation']!.subarray(px), gen.label(0, 1, 128, 256, 7));
    const nineteen = await cityscapesDataset.load(city({ root, classes: 19 }));
    expect(nineteen.tasks[0]!.classes).toBe(19);
    same(nineteen.train.labels['segmentation']!.subarray(px), gen.label(0, 1, 128, 256, 19));
    const two = await cityscapesDataset.load(city({ root, classes: 2, height: 64, width: 128 }));
    expect(two.tasks[0]!.classes).toBe(2);
    expect(two.inputShape).toEqual([64, 128, 3]);
    same(
      two.test.labels['segmentation'],
      resizeNearest(gen.label(1, 0, 128, 256, 2), [128, 256, 1], [64, 128]),
    );
    await rm(root, { recursive: true });
  });

  describe('errors name the file', () => {
    let root: string;
    const load = (o: Partial<CityscapesOptions> = {}): Promise<unknown> =>
      cityscapesDataset.load(city({ root, ...o }));
    const p = (...parts: string[]): string => join(root, ...parts);

    beforeAll(async () => {
      root = await writeTree({ kind: 'cityscapes', train: 3, val: 2 });
    });

    /** Runs `corrupt`, checks the load fails naming `file`, then restores the tree. */
    async function check(
      corrupt: () => Promise<void>,
      file: string,
      pattern: RegExp,
      restore: () => Promise<void>,
    ): Promise<void> {
      await corrupt();
      try {
        await expectFileError(load(), file, pattern);
      } finally {
        await restore();
      }
      await expect(load()).resolves.toBeDefined();
    }

    const saved = async (file: string): Promise<() => Promise<void>> => {
      const bytes = await readFile(file);
      return () => writeFile(file, bytes);
    };

    it('a missing file in the middle (a gap in the indices)', async () => {
      const file = p('train', 'depth', '1.npy');
      const restore = await saved(file);
      await check(() => unlink(file), file, /missing: .*indices must run 0 … n−1/, restore);
    });

    it('a missing last file (fewer files than images)', async () => {
      const file = p('val', 'label_7', '1.npy');
      const restore = await saved(file);
      await check(
        () => unlink(file),
        file,
        /missing: .*holds 2 instances but this folder only 1/,
        restore,
      );
    });

    it('an extra file beyond the images, and a gap after it', async () => {
      const extra = p('train', 'depth', '3.npy');
      await check(
        () => writeNpy(extra, new Float32Array(128 * 256), [128, 256, 1]),
        extra,
        /unexpected: .*holds 3 instances/,
        () => unlink(extra),
      );
      const far = p('train', 'image', '5.npy');
      await check(
        () => writeNpy(far, new Float32Array(128 * 256 * 3), [128, 256, 3]),
        p('train', 'image', '3.npy'),
        /missing/,
        () => unlink(far),
      );
    });

    it('a zero-padded file name', async () => {
      const odd = p('val', 'image', '01.npy');
      await check(
        () => writeFile(odd, new Uint8Array(0)),
        odd,
        /unexpected file name/,
        () => unlink(odd),
      );
    });

    it('a truncated file', async () => {
      const file = p('train', 'image', '2.npy');
      const restore = await saved(file);
      await check(() => truncate(file, 5000), file, /truncated/, restore);
    });

    it('a mis-shaped file and a wrong dtype family', async () => {
      const file = p('train', 'depth', '0.npy');
      const restore = await saved(file);
      await check(
        () => writeNpy(file, new Float32Array(128 * 256), [128, 256]),
        file,
        /shape \(128, 256\), expected a float array of shape \(128, 256, 1\) \(Cityscapes depth/,
        restore,
      );
      const image = p('val', 'image', '0.npy');
      const restoreImage = await saved(image);
      await check(
        () => writeNpy(image, new Int32Array(128 * 256 * 3), [128, 256, 3], 'int32'),
        image,
        /int32 array of shape \(128, 256, 3\), expected a float array/,
        restoreImage,
      );
      const label = p('val', 'label_7', '0.npy');
      const restoreLabel = await saved(label);
      await check(
        () => writeNpy(label, new Float32Array(128 * 256 * 3), [128, 256, 3]),
        label,
        /expected an integer or integer-valued float array of shape \(128, 256\)/,
        restoreLabel,
      );
    });

    it('a bad label value, a fractional label, a negative depth', async () => {
      const label = p('train', 'label_7', '1.npy');
      const restore = await saved(label);
      const bad = gen.label(0, 1, 128, 256, 7);
      bad[3 * 256 + 9] = 7;
      await check(
        () => writeNpy(label, bad, [128, 256]),
        label,
        /label 7 at \[3, 9\] is outside \[0, 7\) and not the ignore index -1/,
        restore,
      );
      bad[3 * 256 + 9] = -2;
      await check(
        () => writeNpy(label, bad, [128, 256], 'int8'),
        label,
        /label -2 at \[3, 9\]/,
        restore,
      );
      const frac = Float32Array.from(gen.label(0, 1, 128, 256, 7));
      frac[5] = 0.5;
      await check(
        () => writeNpy(label, frac, [128, 256]),
        label,
        /\[0, 5\] = 0.5 is not an integer/,
        restore,
      );
      const depth = p('val', 'depth', '1.npy');
      const restoreDepth = await saved(depth);
      const neg = gen.depth(1, 1, 128, 256);
      neg[256] = -0.5;
      await check(
        () => writeNpy(depth, neg, [128, 256, 1]),
        depth,
        /value -0.5 at \[1, 0, 0\] is not a finite depth ≥ 0/,
        restoreDepth,
      );
    });

    it('a missing label folder lists both accepted names', async () => {
      await expectFileError(load({ classes: 19 }), p('train', 'label_19'), /missing folder/);
      await rm(p('train', 'label_7'), { recursive: true });
      try {
        await expectFileError(load(), p('train', 'label_7'), /label_7\/ or label\//);
      } finally {
        await rm(root, { recursive: true });
        root = await writeTree({ kind: 'cityscapes', train: 3, val: 2 });
      }
    });

    it('aborts through the signal', async () => {
      const controller = new AbortController();
      controller.abort(new Error('stop'));
      await expect(load().then(() => undefined)).resolves.toBeUndefined();
      await expect(
        cityscapesDataset.load(city({ root }), { signal: controller.signal }),
      ).rejects.toThrow('stop');
      const late = new AbortController();
      const pending = cityscapesDataset.load(city({ root }), {
        signal: late.signal,
        onProgress: (e) => {
          if (e.done === 1) late.abort(new Error('late stop'));
        },
      });
      await expect(pending).rejects.toThrow('late stop');
    });
  });
});
