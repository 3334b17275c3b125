/**
 * `@mtu/core-tensors/testing`: helpers for tests of MTU packages and of code built on them.
 *
 * @packageDocumentation
 */
export { expectNoLeaks, TensorLeakError, useLeakGuard } from './leak-guard.js';
export type { LeakGuardHooks } from './leak-guard.js';
