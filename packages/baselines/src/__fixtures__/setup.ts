/**
 * Shared test setup: a single-threaded wasm backend (the default backend, with MTU's gradient
 * kernels) for the whole file.
 */
import { initBackend, shutdownBackend } from '@mtu/core-tensors';
import { afterAll, beforeAll } from 'vitest';

export function useWasm(): void {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', threads: 1 });
  });
  afterAll(() => shutdownBackend());
}
