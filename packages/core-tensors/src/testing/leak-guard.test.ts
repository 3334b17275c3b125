import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { tf } from '../tf.js';
import { expectNoLeaks, TensorLeakError, useLeakGuard } from './leak-guard.js';

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
});

describe('expectNoLeaks', () => {
  it('passes a block that disposes what it creates and returns its result', async () => {
    const x = tf.ones([3]);
    const sum = await expectNoLeaks(async () => {
      const y = tf.square(x);
      const v = (await y.data())[0];
      y.dispose();
      return v;
    });
    expect(sum).toBe(1);
    x.dispose();
  });

  it('throws a TensorLeakError naming the counts when a block leaks (negative control)', async () => {
    let leaked: tf.Tensor | undefined;
    const err = await expectNoLeaks(() => {
      leaked = tf.zeros([2]);
    }, 'leaky block').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TensorLeakError);
    expect((err as TensorLeakError).after - (err as TensorLeakError).before).toBe(1);
    expect((err as Error).message).toMatch(/leaky block: 1 tensor\(s\) leaked/);
    leaked?.dispose();
  });
});

describe('useLeakGuard', () => {
  it('registers hooks that throw when a test leaves a tensor behind', () => {
    const hooks: { before?: () => void; after?: () => void } = {};
    useLeakGuard({
      beforeEach: (fn) => (hooks.before = fn),
      afterEach: (fn) => (hooks.after = fn),
    });
    hooks.before!();
    const t = tf.scalar(1);
    expect(() => hooks.after!()).toThrow(TensorLeakError);
    t.dispose();
    hooks.before!();
    expect(() => hooks.after!()).not.toThrow();
  });
});
