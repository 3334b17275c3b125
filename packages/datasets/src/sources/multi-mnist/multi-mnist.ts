/**
 * MultiMNIST (Sener & Koltun, NeurIPS 2018, after Sabour et al. 2017): two real MNIST digits on one
 * canvas, one at the top-left and one at the bottom-right, overlapping in the middle; tasks `left`
 * and `right` classify them.
 *
 * @module
 */
import { ConfigError, createRng } from '@mtu/core-tensors';
import { z } from 'zod';
import { createDataset } from '../../dataset.js';
import type { DatasetDescriptor, LoadContext } from '../../registry.js';
import { resizeBilinear } from '../../resize.js';
import type { Dataset, SplitArrays } from '../../types.js';
import type { MnistDigits } from './digits.js';
import { DIGIT_PIXELS, DIGIT_SIDE, loadMnistDigits } from './digits.js';

/** Options of {@link multiMnistDataset} (resolved: defaults filled in). */
export interface MultiMnistOptions {
  /** Seed of the digit-pool split and of every instance (default 0). */
  readonly seed: number;
  /** Train instances (default 4000). */
  readonly trainSize: number;
  /** Test instances (default 1000). */
  readonly testSize: number;
  /** Side of the canvas the digits are placed on (default 36, as in the paper). */
  readonly canvas: number;
  /** Side of the instances: the canvas is resized bilinearly to `size × size` (default 28). */
  readonly size: number;
  /** Fraction of each class's MNIST samples reserved for test instances (default 0.2). */
  readonly testFraction: number;
  /**
   * Largest random shift of each digit away from its corner, in canvas pixels (default 2: with
   * the 36 canvas the right digit then sits 4 … 8 pixels, on average 6 as in the paper, below and
   * right of the left digit on each axis; larger shifts can make the digits coincide).
   */
  readonly maxShift: number;
}

const DEFAULTS = {
  seed: 0,
  trainSize: 4000,
  testSize: 1000,
  canvas: 36,
  size: 28,
  testFraction: 0.2,
  maxShift: 2,
} as const;

const MAX_CANVAS = 48;

const schema: z.ZodType<MultiMnistOptions, Record<string, unknown>> = z
  .object({
    seed: z
      .number()
      .int()
      .default(DEFAULTS.seed)
      .describe('Seed of the digit-pool split and of every instance'),
    trainSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(DEFAULTS.trainSize)
      .describe('Number of train instances'),
    testSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(DEFAULTS.testSize)
      .describe('Number of test instances'),
    canvas: z
      .number()
      .int()
      .min(DIGIT_SIDE)
      .max(MAX_CANVAS)
      .default(DEFAULTS.canvas)
      .describe('Side of the canvas the two 28×28 digits are placed on (the paper: 36)'),
    size: z
      .number()
      .int()
      .min(8)
      .max(256)
      .default(DEFAULTS.size)
      .describe('Side of the instances; the canvas is resized bilinearly when it differs'),
    testFraction: z
      .number()
      .min(0.01)
      .max(0.99)
      .default(DEFAULTS.testFraction)
      .describe('Fraction of each class of MNIST samples kept for test instances (disjoint pools)'),
    maxShift: z
      .number()
      .int()
      .min(0)
      .max(MAX_CANVAS - DIGIT_SIDE)
      .default(DEFAULTS.maxShift)
      .describe('Largest random shift of each digit from its corner, ≤ canvas − 28'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.maxShift > o.canvas - DIGIT_SIDE) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxShift'],
        message: `must be ≤ canvas − 28 = ${o.canvas - DIGIT_SIDE} so that the digits stay on the canvas`,
      });
    }
  });

/** One MNIST sample: its class and its position among the `mnist` package's samples of that class. */
export interface DigitRef {
  readonly digit: number;
  readonly index: number;
}

/** How one MultiMNIST instance is composed. */
export interface MultiMnistInstance {
  /** The top-left digit (the `left` label is `left.digit`). */
  readonly left: DigitRef;
  /** The bottom-right digit (the `right` label is `right.digit`). */
  readonly right: DigitRef;
  /** Canvas row and column of the left digit's top-left pixel (each in `[0, maxShift]`). */
  readonly leftAt: readonly [number, number];
  /** Canvas row and column of the right digit's top-left pixel (`canvas − 28 − shift`). */
  readonly rightAt: readonly [number, number];
}

/** The composition of both splits. */
export interface MultiMnistPlan {
  readonly train: readonly MultiMnistInstance[];
  readonly test: readonly MultiMnistInstance[];
}

function checkOptions(o: MultiMnistOptions): void {
  const int = (field: keyof MultiMnistOptions, lo: number, hi: number): void => {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
      throw new ConfigError(`multi-mnist.${field}`, v, `must be an integer in [${lo}, ${hi}]`);
    }
  };
  if (typeof o.seed !== 'number' || !Number.isSafeInteger(o.seed)) {
    throw new ConfigError('multi-mnist.seed', o.seed, 'must be a safe integer');
  }
  int('trainSize', 1, 1_000_000);
  int('testSize', 1, 1_000_000);
  int('canvas', DIGIT_SIDE, MAX_CANVAS);
  int('size', 8, 256);
  int('maxShift', 0, o.canvas - DIGIT_SIDE);
  if (typeof o.testFraction !== 'number' || !(o.testFraction >= 0.01 && o.testFraction <= 0.99)) {
    throw new ConfigError('multi-mnist.testFraction', o.testFraction, 'must be in [0.01, 0.99]');
  }
}

/**
 * Splits the MNIST samples into disjoint train and test pools, stratified by class: of each
 * class's `n` samples, a seeded `round(n · testFraction)` go to the test pool, the rest to train.
 */
function digitPools(
  options: MultiMnistOptions,
  counts: readonly number[],
): { train: DigitRef[]; test: DigitRef[] } {
  const root = createRng(options.seed).fork('multi-mnist:pools');
  const train: DigitRef[] = [];
  const test: DigitRef[] = [];
  counts.forEach((n, digit) => {
    const perm = root.fork(digit).permutation(n);
    const nTest = Math.round(n * options.testFraction);
    if (nTest < 1 || nTest > n - 1) {
      throw new ConfigError(
        'multi-mnist.testFraction',
        options.testFraction,
        `leaves an empty pool for digit ${digit} (${n} samples)`,
      );
    }
    const testIdx = Array.from(perm.subarray(0, nTest)).sort((a, b) => a - b);
    const trainIdx = Array.from(perm.subarray(nTest)).sort((a, b) => a - b);
    for (const index of testIdx) test.push({ digit, index });
    for (const index of trainIdx) train.push({ digit, index });
  });
  return { train, test };
}

function planSplit(
  options: MultiMnistOptions,
  split: 'train' | 'test',
  pool: readonly DigitRef[],
): MultiMnistInstance[] {
  const n = split === 'train' ? options.trainSize : options.testSize;
  const root = createRng(options.seed).fork(`multi-mnist:${split}`);
  const base = options.canvas - DIGIT_SIDE;
  const s = options.maxShift + 1;
  const out: MultiMnistInstance[] = [];
  for (let i = 0; i < n; i++) {
    const rng = root.fork(i); // instance i depends only on (seed, split, i)
    const a = rng.int(0, pool.length);
    let b = rng.int(0, pool.length - 1);
    if (b >= a) b += 1; // two different samples
    out.push({
      left: pool[a]!,
      right: pool[b]!,
      leftAt: [rng.int(0, s), rng.int(0, s)],
      rightAt: [base - rng.int(0, s), base - rng.int(0, s)],
    });
  }
  return out;
}

function makePlan(options: MultiMnistOptions, digits: MnistDigits): MultiMnistPlan {
  checkOptions(options);
  const pools = digitPools(options, digits.counts);
  return {
    train: planSplit(options, 'train', pools.train),
    test: planSplit(options, 'test', pools.test),
  };
}

/**
 * How every instance of a MultiMNIST dataset with these (resolved) options is composed: which
 * MNIST sample sits where. For tests and provenance; `multiMnistDataset.load` renders this plan.
 *
 * @example
 * ```ts
 * const plan = await planMultiMnist(resolveDatasetOptions(multiMnistDataset, { seed: 1 }));
 * plan.train[0]!.left; // { digit, index }: the top-left MNIST sample of train instance 0
 * ```
 */
export async function planMultiMnist(options: MultiMnistOptions): Promise<MultiMnistPlan> {
  return makePlan(options, await loadMnistDigits());
}

/** Draws one digit onto a canvas by pixelwise max. */
function stamp(
  canvas: Float32Array,
  offset: number,
  side: number,
  digits: MnistDigits,
  ref: DigitRef,
  at: readonly [number, number],
): void {
  const src = digits.images[ref.digit]!;
  const from = ref.index * DIGIT_PIXELS;
  for (let y = 0; y < DIGIT_SIDE; y++) {
    const row = offset + (at[0] + y) * side + at[1];
    const srow = from + y * DIGIT_SIDE;
    for (let x = 0; x < DIGIT_SIDE; x++) {
      const v = src[srow + x]!;
      if (v > canvas[row + x]!) canvas[row + x] = v;
    }
  }
}

const CHUNK = 256;

async function render(
  options: MultiMnistOptions,
  digits: MnistDigits,
  split: 'train' | 'test',
  plan: readonly MultiMnistInstance[],
  context: LoadContext,
): Promise<SplitArrays> {
  const side = options.canvas;
  const n = plan.length;
  const canvas = new Float32Array(n * side * side);
  const left = new Int32Array(n);
  const right = new Int32Array(n);
  const phase = `render ${split}`;
  for (let i = 0; i < n; i++) {
    if (i % CHUNK === 0) {
      context.signal?.throwIfAborted();
      if (i > 0) {
        context.onProgress?.({ dataset: 'multi-mnist', phase, done: i, total: n });
        await new Promise<void>((resolve) => setImmediate(resolve)); // let an abort arrive
      }
    }
    const inst = plan[i]!;
    stamp(canvas, i * side * side, side, digits, inst.left, inst.leftAt);
    stamp(canvas, i * side * side, side, digits, inst.right, inst.rightAt);
    left[i] = inst.left.digit;
    right[i] = inst.right.digit;
  }
  context.onProgress?.({ dataset: 'multi-mnist', phase, done: n, total: n });
  const inputs =
    options.size === side
      ? canvas
      : resizeBilinear(canvas, [side, side, 1], [options.size, options.size]);
  return { inputs, labels: { left, right } };
}

const DIGIT_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * MultiMNIST: each instance is a `canvas × canvas` image (default 36) holding two different real
 * MNIST samples (from the `mnist` package's 10,000), combined by pixelwise max: the `left` digit's
 * top-left corner at a random offset in `[0, maxShift]²` from the canvas's top-left corner, the
 * `right` digit's bottom-right corner at a random offset in `[0, maxShift]²` from the canvas's
 * bottom-right corner, so the digits overlap in the middle: on each axis the right digit starts
 * `canvas − 28 − shiftLeft − shiftRight` pixels after the left one (4 … 8 at the defaults; the
 * paper fixes it at 6), so their 28×28 boxes share 20×20 to 24×24 pixels. The
 * canvas is then resized bilinearly (half-pixel centres) to `size × size` (default 28, the
 * paper's input size).
 *
 * Tasks: `left` and `right`, classification with 10 classes (int32 label per instance). Inputs:
 * float32 `[size, size, 1]` in [0, 1]. Train and test instances draw from disjoint, class-
 * stratified pools of MNIST samples (`testFraction` of each class for test), so no MNIST sample
 * appears in both splits. Deterministic: the pools depend on `(seed, testFraction)`, instance `i`
 * of a split only on `(seed, split, i)` and the pools (growing `trainSize` keeps the first
 * instances). Progress phases: `'load digits'`, `'render train'`, `'render test'`.
 *
 * @example
 * ```ts
 * const registry = createDatasetRegistry();
 * registry.register(multiMnistDataset);
 * const ds = await registry.load('multi-mnist', { seed: 1, trainSize: 2000 });
 * ds.inputShape; // [28, 28, 1]
 * ds.tasks.map((t) => t.name); // ['left', 'right']
 * ```
 */
export const multiMnistDataset: DatasetDescriptor<MultiMnistOptions> = {
  id: 'multi-mnist',
  tasks: [
    { name: 'left', kind: 'classification' },
    { name: 'right', kind: 'classification' },
  ],
  description:
    'MultiMNIST: two overlapping real MNIST digits (top-left, bottom-right); tasks left and right (10 classes each)',
  options: schema,
  async load(options: MultiMnistOptions, context: LoadContext = {}): Promise<Dataset> {
    checkOptions(options);
    context.signal?.throwIfAborted();
    context.onProgress?.({ dataset: 'multi-mnist', phase: 'load digits', done: 0, total: 1 });
    const digits = await loadMnistDigits();
    context.onProgress?.({ dataset: 'multi-mnist', phase: 'load digits', done: 1, total: 1 });
    const plan = makePlan(options, digits);
    const train = await render(options, digits, 'train', plan.train, context);
    const test = await render(options, digits, 'test', plan.test, context);
    return createDataset({
      id: 'multi-mnist',
      description: `MultiMNIST (seed ${options.seed}): ${options.trainSize} train / ${options.testSize} test instances, ${options.canvas}×${options.canvas} canvas at ${options.size}×${options.size}`,
      options: { ...options },
      tasks: [
        { name: 'left', kind: 'classification', classes: 10, classNames: DIGIT_NAMES },
        { name: 'right', kind: 'classification', classes: 10, classNames: DIGIT_NAMES },
      ],
      inputShape: [options.size, options.size, 1],
      train,
      test,
    });
  },
};
