/**
 * Tensor-leak guards for tests: the number of live tensors must be the same before and after.
 *
 * @module
 */
import { MtuError } from '../errors.js';
import { tf } from '../tf.js';

/** Thrown when a guarded block leaves more (or fewer) live tensors than it found. */
export class TensorLeakError extends MtuError {
  /** Live tensors before the block. */
  readonly before: number;
  /** Live tensors after the block. */
  readonly after: number;
  constructor(label: string, before: number, after: number) {
    const delta = after - before;
    super(
      'E_TENSOR_LEAK',
      `${label}: ${Math.abs(delta)} tensor(s) ${delta > 0 ? 'leaked' : 'disposed that the block did not own'} (live before ${before}, after ${after})`,
    );
    this.before = before;
    this.after = after;
  }
}

/**
 * Runs `fn` and throws a {@link TensorLeakError} if the live tensor count changed.
 * The function's result is returned; a result holding tensors must be disposed inside `fn`.
 *
 * @example
 * ```ts
 * await expectNoLeaks(async () => {
 *   const y = tf.square(x);
 *   await y.data();
 *   y.dispose();
 * });
 * ```
 */
export async function expectNoLeaks<T>(
  fn: () => T | Promise<T>,
  label = 'expectNoLeaks',
): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new TensorLeakError(label, before, after);
  return result;
}

/** The two hooks of a test runner that {@link useLeakGuard} needs (vitest's, jest's, mocha's...). */
export interface LeakGuardHooks {
  /** Registers a callback run before each test. */
  readonly beforeEach: (fn: () => void) => unknown;
  /** Registers a callback run after each test. */
  readonly afterEach: (fn: () => void) => unknown;
}

/**
 * Makes every test of the enclosing suite fail if it leaks tensors. Pass the runner's hooks, so
 * this package does not depend on a test runner.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe } from 'vitest';
 * import { useLeakGuard } from '@mtu/core-tensors/testing';
 *
 * describe('my op', () => {
 *   useLeakGuard({ beforeEach, afterEach });
 *   // ... tests
 * });
 * ```
 */
export function useLeakGuard(hooks: LeakGuardHooks): void {
  let before = 0;
  hooks.beforeEach(() => {
    before = tf.memory().numTensors;
  });
  hooks.afterEach(() => {
    const after = tf.memory().numTensors;
    if (after !== before) throw new TensorLeakError('test', before, after);
  });
}
