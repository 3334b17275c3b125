import { afterAll, describe, expect, it } from 'vitest';

import { initBackend, shutdownBackend } from './backend.js';
import { ConfigError } from './errors.js';
import { createRefStep, REF_STEP_MODEL, refStepFlops, type RefStepOptions } from './ref-step.js';
import { tf } from './tf.js';

/** The CI size: the reference architecture at batch 2, 16×16 (the cpu backend is ~1 min/step at full size). */
const SMALL: RefStepOptions = { batch: 2, size: 16, seed: 7 };

function losses(options: RefStepOptions, steps = 5): number[] {
  const ref = createRefStep(options);
  try {
    return Array.from({ length: steps }, () => ref.step());
  } finally {
    ref.dispose();
  }
}

function expectClose(actual: readonly number[], expected: readonly number[], rel: number): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i] ?? Number.NaN;
    expect(Math.abs(a - e) / Math.abs(e), `step ${i + 1}: ${a} vs ${e}`).toBeLessThanOrEqual(rel);
  });
}

afterAll(() => {
  shutdownBackend();
});

describe('refStepFlops', () => {
  it('is 2.348 GFLOP at batch 16, 64×64 (forward 0.792, backward 1.556)', () => {
    const f = refStepFlops();
    expect(f.forward / 1e9).toBeCloseTo(0.792, 3);
    expect(f.backward / 1e9).toBeCloseTo(1.556, 3);
    expect(f.total / 1e9).toBeCloseTo(2.348, 3);
    expect(REF_STEP_MODEL).toBe('ref-step-v1');
  });

  it('scales with batch and pixels', () => {
    expect(refStepFlops(2, 16).total).toBeCloseTo(refStepFlops().total / 8 / 16, 0);
  });

  it.each([
    [{ batch: 0 }, 'batch'],
    [{ batch: 1.5 }, 'batch'],
    [{ size: 18 }, 'size'],
    [{ size: 0 }, 'size'],
    [{ seed: 0.5 }, 'seed'],
    [{ learningRate: 0 }, 'learningRate'],
  ] as const)('rejects %o with a ConfigError naming %s', (options, field) => {
    const error = (() => {
      try {
        createRefStep(options);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});

describe('createRefStep on cpu', () => {
  it('trains (loss decreases), leaks no tensors and is deterministic', async () => {
    await initBackend({ prefer: 'cpu' });
    const before = tf.memory().numTensors;
    const ref = createRefStep(SMALL);
    expect(ref.flops).toBe(refStepFlops(2, 16).total);
    expect(ref.variables).toHaveLength(14);
    const first = ref.step();
    const afterFirst = tf.memory().numTensors;
    const rest = [ref.step(), ref.step(), ref.step()];
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(rest[2]).toBeLessThan(first);
    ref.dispose();
    ref.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => ref.step()).toThrow(/after dispose/);
    expect(losses(SMALL, 4)).toEqual([first, ...rest]);
  });

  it('hand-written gradients match tfjs autodiff over 5 steps', async () => {
    await initBackend({ prefer: 'cpu' });
    expectClose(losses(SMALL), losses({ ...SMALL, autodiff: true }), 1e-5);
  });
});

describe('createRefStep: wasm vs cpu', () => {
  it('the wasm backend (2 threads) matches cpu to 1e-3 relative over 5 steps', async () => {
    await initBackend({ prefer: 'cpu' });
    const cpu = losses(SMALL);
    await initBackend({ prefer: 'wasm', threads: 2 });
    const wasm = losses(SMALL);
    expectClose(wasm, cpu, 1e-3);
    expectClose(losses({ ...SMALL, autodiff: true }), cpu, 1e-3);
  });
});
