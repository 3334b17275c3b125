/**
 * Seeded random numbers: the only source of randomness in MTU.
 *
 * Every stream is a `xoroshiro128+` generator from `pure-rand`, whose 128-bit state is derived from
 * the integer seed by a murmur3-style hash (so every bit of a 53-bit seed matters and nearby seeds
 * give unrelated streams). Child streams ({@link Rng.fork}, {@link Rng.split}) get their own seed,
 * hashed from the parent's seed and a label; they never depend on how many numbers the parent or any
 * child has drawn, so adding a draw somewhere never shifts another component's stream.
 *
 * @module
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { ConfigError } from './errors.js';

/** A label that names a child stream: a string, or a safe integer (e.g. a task index). */
export type RngLabel = string | number;

/**
 * A seeded, deterministic random stream. Not thread-safe and not immutable: every draw advances it.
 *
 * Same seed → same sequence of draws, on every platform (the generator uses 32-bit integer
 * arithmetic only).
 */
export interface Rng {
  /** The integer seed this stream was created from (for a child stream: its derived seed). */
  readonly seed: number;
  /** A float uniform in [0, 1) with 53 random bits. Consumes two 32-bit draws. */
  uniform(): number;
  /**
   * An integer uniform in [`lo`, `hiExclusive`). Both bounds are safe integers with `lo < hiExclusive`.
   * Unbiased (rejection sampling).
   */
  int(lo: number, hiExclusive: number): number;
  /** A normal variate with the given `mean` and `std` (Box–Muller; pairs are cached). */
  normal(mean?: number, std?: number): number;
  /** A shuffled copy of `array` (Fisher–Yates); the input is not modified. */
  shuffle<T>(array: readonly T[]): T[];
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffleInPlace<T>(array: T[]): T[];
  /**
   * `k` distinct elements of `array` (distinct positions), drawn without replacement, in random
   * order. Throws {@link ConfigError} unless `0 ≤ k ≤ array.length`.
   */
  sample<T>(array: readonly T[], k: number): T[];
  /** A uniformly random permutation of `0 … n−1`. */
  permutation(n: number): Int32Array;
  /**
   * A child stream determined only by this stream's seed and `label`: the same label always gives
   * the same child, whatever has been drawn from the parent or from earlier children. Without a
   * label, the i-th unlabelled fork (or split) of this stream gets the i-th automatic label.
   */
  fork(label?: RngLabel): Rng;
  /** Two new independent child streams (two unlabelled forks). */
  split(): [Rng, Rng];
  /**
   * A non-negative integer below 2³¹−1 to pass as `seed` to tf's seeded ops and initialisers
   * (`tf.randomNormal`, `tf.initializers.glorotUniform({ seed })`, ...). Advances this stream.
   */
  tensorSeed(): number;
}

const TWO_POW_32 = 4294967296;
const TENSOR_SEED_MAX = 2147483646; // inclusive, so seeds are in [0, 2^31 - 1)

const TAG_STRING = 0x5354_5249; // 'STRI'
const TAG_NUMBER = 0x4e55_4d42; // 'NUMB'
const TAG_AUTO = 0x4155_544f; // 'AUTO'

/** murmur3 32-bit finaliser. */
function fmix32(h: number): number {
  let x = h | 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85eb_ca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2_ae35);
  x ^= x >>> 16;
  return x | 0;
}

/** murmur3-style hash of a list of 32-bit words with a 32-bit salt. */
function hashWords(words: readonly number[], salt: number): number {
  let h = salt | 0;
  for (const w of words) {
    let k = Math.imul(w | 0, 0xcc9e_2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b87_3593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe654_6b64) | 0;
  }
  h ^= words.length;
  return fmix32(h);
}

/** The words of a safe integer: low 32 bits of |x|, high 21 bits of |x| plus a sign bit. */
function integerWords(x: number): [number, number] {
  const a = Math.abs(x);
  const lo = (a % TWO_POW_32) | 0;
  const hi = Math.floor(a / TWO_POW_32) | (x < 0 ? 1 << 21 : 0);
  return [lo, hi];
}

function validateSeed(seed: number): void {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new ConfigError('seed', seed, 'must be a safe integer (|seed| ≤ 2^53 − 1)');
  }
}

function stateFromSeed(seed: number): number[] {
  const words = integerWords(seed);
  const state: number[] = [
    hashWords(words, 0x243f_6a88),
    hashWords(words, 0x85a3_08d3),
    hashWords(words, 0x1319_8a2e),
    hashWords(words, 0x0370_7344),
  ];
  if (state.every((w): boolean => w === 0)) state[0] = 0x9e37_79b9; // the all-zero state is a fixed point
  return state;
}

/** A non-negative 53-bit seed hashed from the parent's seed and the label words. */
function childSeed(parentSeed: number, labelWords: readonly number[]): number {
  const words = [...integerWords(parentSeed), ...labelWords];
  const lo = hashWords(words, 0x4528_21e6) >>> 0;
  const hi = (hashWords(words, 0x38d0_1377) >>> 0) & 0x1f_ffff; // 21 bits
  return hi * TWO_POW_32 + lo;
}

function labelWords(label: RngLabel): number[] {
  if (typeof label === 'string') {
    const words = [TAG_STRING, label.length];
    for (let i = 0; i < label.length; i++) words.push(label.charCodeAt(i));
    return words;
  }
  if (typeof label === 'number' && Number.isSafeInteger(label)) {
    return [TAG_NUMBER, ...integerWords(label)];
  }
  throw new ConfigError('label', label, 'a fork label must be a string or a safe integer');
}

function checkSafeInteger(field: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new ConfigError(field, value, 'must be a safe integer');
  }
}

class SeededRng implements Rng {
  readonly seed: number;
  readonly #gen: JumpableRandomGenerator;
  #spareNormal: number | undefined = undefined;
  #autoForks = 0;

  constructor(seed: number) {
    this.seed = seed;
    this.#gen = xoroshiro128plusFromState(stateFromSeed(seed));
  }

  uniform(): number {
    return uniformFloat64(this.#gen);
  }

  int(lo: number, hiExclusive: number): number {
    checkSafeInteger('lo', lo);
    checkSafeInteger('hiExclusive', hiExclusive);
    if (!(lo < hiExclusive)) {
      throw new ConfigError('hiExclusive', hiExclusive, `must be greater than lo = ${lo}`);
    }
    return uniformInt(this.#gen, lo, hiExclusive - 1);
  }

  normal(mean = 0, std = 1): number {
    if (!Number.isFinite(mean)) throw new ConfigError('mean', mean, 'must be finite');
    if (!Number.isFinite(std) || std < 0) {
      throw new ConfigError('std', std, 'must be finite and ≥ 0');
    }
    let z: number;
    if (this.#spareNormal !== undefined) {
      z = this.#spareNormal;
      this.#spareNormal = undefined;
    } else {
      const u1 = 1 - this.uniform(); // (0, 1]: log is finite
      const u2 = this.uniform();
      const r = Math.sqrt(-2 * Math.log(u1));
      const t = 2 * Math.PI * u2;
      z = r * Math.cos(t);
      this.#spareNormal = r * Math.sin(t);
    }
    return mean + std * z;
  }

  shuffle<T>(array: readonly T[]): T[] {
    return this.shuffleInPlace(array.slice());
  }

  shuffleInPlace<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = uniformInt(this.#gen, 0, i);
      const tmp = array[i] as T;
      array[i] = array[j] as T;
      array[j] = tmp;
    }
    return array;
  }

  sample<T>(array: readonly T[], k: number): T[] {
    const n = array.length;
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k > n) {
      throw new ConfigError(
        'k',
        k,
        `must be an integer in [0, ${n}] (the array has ${n} elements)`,
      );
    }
    const copy = array.slice();
    for (let i = 0; i < k; i++) {
      const j = uniformInt(this.#gen, i, n - 1);
      const tmp = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = tmp;
    }
    copy.length = k;
    return copy;
  }

  permutation(n: number): Int32Array {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0x7fff_ffff) {
      throw new ConfigError('n', n, 'must be an integer in [0, 2^31 − 1]');
    }
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = uniformInt(this.#gen, 0, i);
      const tmp = p[i] as number;
      p[i] = p[j] as number;
      p[j] = tmp;
    }
    return p;
  }

  fork(label?: RngLabel): Rng {
    const words = label === undefined ? [TAG_AUTO, this.#autoForks++] : labelWords(label);
    return new SeededRng(childSeed(this.seed, words));
  }

  split(): [Rng, Rng] {
    return [this.fork(), this.fork()];
  }

  tensorSeed(): number {
    return uniformInt(this.#gen, 0, TENSOR_SEED_MAX);
  }
}

/**
 * Creates a seeded random stream. `seed` must be a safe integer (negative allowed); anything else
 * throws {@link ConfigError}. Streams of equal seeds are identical.
 *
 * @param seed - Any safe integer.
 * @returns A fresh {@link Rng}.
 *
 * @example
 * ```ts
 * const rng = createRng(42);
 * const order = rng.permutation(10);          // Int32Array, a permutation of 0..9
 * const noise = rng.normal(0, 0.1);
 * const [a, b] = rng.split();                 // independent child streams
 * const taskRng = rng.fork('task:digits');    // same child every time for this label
 * const w = tf.randomNormal([3, 3], 0, 1, 'float32', rng.tensorSeed());
 * ```
 */
export function createRng(seed: number): Rng {
  validateSeed(seed);
  return new SeededRng(seed === 0 ? 0 : seed); // -0 → 0
}
