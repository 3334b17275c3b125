/**
 * `@mtu/core-tensors/testing`: helpers for tests of MTU packages and of code built on them.
 *
 * @packageDocumentation
 */
export { expectNoLeaks, TensorLeakError, useLeakGuard } from './leak-guard.js';
export type { LeakGuardHooks } from './leak-guard.js';
export {
  adjointCheck,
  compareToReference,
  directionalDerivativeCheck,
  finiteDifferenceGrad,
  FLOAT32_UNIT_ROUNDOFF,
  vjpAdjointCheck,
} from './grad-check.js';
export type {
  AdjointCheckOptions,
  AdjointCheckResult,
  DirectionalDerivativeOptions,
  DirectionalDerivativeResult,
  FiniteDifferenceOptions,
  ReferenceComparison,
  ReferenceComparisonOptions,
  ScalarFn,
} from './grad-check.js';
