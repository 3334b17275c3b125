import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import {
  activeBackend,
  initBackend,
  MAX_WASM_THREADS,
  shutdownBackend,
  type ModuleImporter,
} from './backend.js';
import { BackendError, ConfigError } from './errors.js';
import { tf } from './tf.js';

/** An importer for which no native package is installed (the ESM loader's error). */
const notInstalled: ModuleImporter = (specifier) => {
  const error = new Error(`Cannot find package '${specifier}' imported from /x.js`);
  Object.assign(error, { code: 'ERR_MODULE_NOT_FOUND' });
  return Promise.reject(error);
};

/** An importer where `pkg` "installs" and registers a stand-in 'tensorflow' backend. */
function fakeNative(pkg: string, usingGpu?: boolean): ModuleImporter {
  return async (specifier) => {
    if (specifier !== pkg) return notInstalled(specifier);
    const cpuFactory = tf.findBackendFactory('cpu');
    tf.registerBackend(
      'tensorflow',
      async () => {
        const backend = await cpuFactory();
        if (usingGpu !== undefined) Object.assign(backend, { isUsingGpuDevice: usingGpu });
        return backend;
      },
      3,
    );
    return {};
  };
}

function removeFakeNative(): void {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
}

/** A 3x3 'same' convolution whose result is checked on every backend. */
function convSum(): number {
  return tf.tidy(() => {
    const x = tf
      .range(0, 2 * 6 * 6 * 3)
      .reshape([2, 6, 6, 3])
      .div<tf.Tensor4D>(50);
    const w = tf
      .range(0, 3 * 3 * 3 * 4)
      .reshape([3, 3, 3, 4])
      .div<tf.Tensor4D>(100);
    return tf.conv2d(x, w, 1, 'same').sum().dataSync()[0] ?? Number.NaN;
  });
}

afterEach(() => {
  vi.unstubAllEnvs();
});

afterAll(() => {
  shutdownBackend();
  removeFakeNative();
});

describe('initBackend: nothing on import', () => {
  it('importing the package instantiates no backend', () => {
    // This test runs first in a fresh module graph (vitest isolates test files).
    expect(Object.keys(tf.engine().registry)).toEqual([]);
    expect(activeBackend()).toBeUndefined();
  });
});

describe('initBackend: validation', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2'])(
    'rejects threads = %s with a ConfigError naming threads',
    async (threads) => {
      const error = await initBackend({ prefer: 'cpu', threads: threads as number }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('threads');
    },
  );

  it('rejects an unknown prefer', async () => {
    const error = await initBackend({ prefer: 'gpu' as 'cpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('prefer');
  });

  it('MTU_BACKEND overrides prefer', async () => {
    vi.stubEnv('MTU_BACKEND', 'cpu');
    const info = await initBackend({ prefer: 'wasm' });
    expect(info).toEqual({ name: 'cpu', threads: 1, gpu: false });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects an invalid MTU_BACKEND with a ConfigError naming MTU_BACKEND', async () => {
    vi.stubEnv('MTU_BACKEND', 'webgpu');
    const error = await initBackend({ prefer: 'cpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('MTU_BACKEND');
    expect((error as Error).message).toContain('MTU_BACKEND');
  });

  it('an empty MTU_BACKEND is ignored', async () => {
    vi.stubEnv('MTU_BACKEND', '');
    expect((await initBackend({ prefer: 'cpu' })).name).toBe('cpu');
  });
});

describe('initBackend: native detection (injected importer)', () => {
  afterEach(() => {
    removeFakeNative();
  });

  it("'tensorflow' fails clearly when neither native package is installed", async () => {
    const error = await initBackend({ prefer: 'tensorflow', importer: notInstalled }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toContain('@tensorflow/tfjs-node-gpu is not installed');
    expect((error as Error).message).toContain('npm i @tensorflow/tfjs-node');
  });

  it("'tensorflow' fails clearly with the real importer (not installed in this workspace)", async () => {
    const error = await initBackend({ prefer: 'tensorflow' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as Error).message).toContain('@tensorflow/tfjs-node is not installed');
  });

  it("'auto' uses tfjs-node when it is installed", async () => {
    const info = await initBackend({ importer: fakeNative('@tensorflow/tfjs-node') });
    expect(info.name).toBe('tensorflow');
    expect(info.gpu).toBe(false);
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it("'auto' prefers tfjs-node-gpu and reports whether it found a GPU", async () => {
    const importer = vi.fn(fakeNative('@tensorflow/tfjs-node-gpu', true));
    const info = await initBackend({ importer });
    expect(info).toMatchObject({ name: 'tensorflow', gpu: true });
    expect(importer).toHaveBeenCalledTimes(1);
    expect(importer).toHaveBeenCalledWith('@tensorflow/tfjs-node-gpu');
    removeFakeNative();
    const noGpu = await initBackend({
      prefer: 'tensorflow',
      importer: fakeNative('@tensorflow/tfjs-node-gpu', false),
    });
    expect(noGpu.gpu).toBe(false);
  });

  it("'auto' falls back to wasm when no native package is installed, silently", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const importer = vi.fn(notInstalled);
    const info = await initBackend({ importer, threads: 1 });
    expect(info).toEqual({ name: 'wasm', threads: 1, gpu: false });
    expect(importer.mock.calls.map((c) => c[0])).toEqual([
      '@tensorflow/tfjs-node-gpu',
      '@tensorflow/tfjs-node',
    ]);
    expect(warn).not.toHaveBeenCalled();
  });

  it("'auto' warns and falls back to wasm when a native package is installed but broken", async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const broken: ModuleImporter = (specifier) =>
      specifier === '@tensorflow/tfjs-node'
        ? Promise.reject(
            new Error('The Node.js native addon module (tfjs_binding.node) can not be found'),
          )
        : notInstalled(specifier);
    const info = await initBackend({ importer: broken, threads: 1 });
    expect(info.name).toBe('wasm');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('tfjs_binding.node');
  });
});

describe('initBackend: switching and wasm threads', () => {
  it('switches cpu -> wasm(1) -> wasm(2) -> cpu -> wasm(2) with identical results', async () => {
    expect((await initBackend({ prefer: 'cpu' })).name).toBe('cpu');
    const reference = convSum();

    expect(await initBackend({ prefer: 'wasm', threads: 1 })).toEqual({
      name: 'wasm',
      threads: 1,
      gpu: false,
    });
    expect(convSum()).toBeCloseTo(reference, 2);

    const two = await initBackend({ prefer: 'wasm', threads: 2 });
    expect(two).toEqual({ name: 'wasm', threads: 2, gpu: false });
    const backend = tf.backend() as unknown as { wasm: { tfjs: { getThreadsCount(): number } } };
    expect(backend.wasm.tfjs.getThreadsCount()).toBe(2);
    expect(convSum()).toBeCloseTo(reference, 2);

    // Same request again: a no-op that keeps the live instance.
    const instance = tf.backend();
    expect(await initBackend({ prefer: 'wasm', threads: 2 })).toEqual(two);
    expect(tf.backend()).toBe(instance);

    expect((await initBackend({ prefer: 'cpu' })).name).toBe('cpu');
    expect((await initBackend({ prefer: 'wasm', threads: 2 })).threads).toBe(2);
    expect(tf.backend()).toBe(instance);
    expect(convSum()).toBeCloseTo(reference, 2);
  });

  it(`caps threads at ${MAX_WASM_THREADS}`, async () => {
    const info = await initBackend({ prefer: 'wasm', threads: 64 });
    expect(info.threads).toBe(MAX_WASM_THREADS);
    shutdownBackend();
  });

  it('defaults to one thread per core', async () => {
    const { availableParallelism } = await import('node:os');
    const info = await initBackend({ prefer: 'wasm' });
    expect(info.threads).toBe(Math.min(availableParallelism(), MAX_WASM_THREADS));
  });

  it('shutdownBackend terminates the pool, is idempotent, and allows a fresh init', async () => {
    await initBackend({ prefer: 'wasm', threads: 2 });
    const module = (tf.backend() as unknown as { wasm: { PThread: { runningWorkers: unknown[] } } })
      .wasm;
    expect(module.PThread.runningWorkers.length).toBe(1);
    shutdownBackend();
    expect(module.PThread.runningWorkers.length).toBe(0);
    expect(activeBackend()).toBeUndefined();
    shutdownBackend();
    const again = await initBackend({ prefer: 'wasm', threads: 2 });
    expect(again.threads).toBe(2);
    expect(activeBackend()).toEqual(again);
    expect(Number.isFinite(convSum())).toBe(true);
  });
});

describe('process exit with a multithreaded wasm backend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtu-backend-exit-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const backendUrl = new URL('./backend.ts', import.meta.url).href;
  const tsx = createRequire(import.meta.url).resolve('tsx');

  function runChild(shutdown: boolean): Promise<{ code: number | null; ms: number; out: string }> {
    const script = join(dir, `child-${String(shutdown)}.mts`);
    writeFileSync(
      script,
      [
        `import { initBackend, shutdownBackend } from ${JSON.stringify(backendUrl)};`,
        `import { tf } from ${JSON.stringify(new URL('./tf.ts', import.meta.url).href)};`,
        `const info = await initBackend({ prefer: 'wasm', threads: 2 });`,
        `const y = tf.conv2d(tf.ones([4, 32, 32, 8]) as tf.Tensor4D, tf.ones([3, 3, 8, 16]) as tf.Tensor4D, 1, 'same');`,
        `console.log(JSON.stringify({ threads: info.threads, sum: (await y.sum().data())[0] }));`,
        shutdown ? 'shutdownBackend();' : '',
      ].join('\n'),
    );
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', tsx, script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, MTU_BACKEND: '' },
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 20_000,
        killSignal: 'SIGKILL',
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, ms: Date.now() - started, out }));
    });
  }

  it.each([true, false])(
    'a child that inits 2 threads and runs a conv exits by itself (shutdownBackend: %s)',
    async (shutdown) => {
      const { code, ms, out } = await runChild(shutdown);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(15_000);
      expect(JSON.parse(out)).toEqual({
        threads: 2,
        sum: 4 * 16 * (30 * 30 * 72 + 4 * 30 * 48 + 4 * 32),
      });
    },
    30_000,
  );
});
