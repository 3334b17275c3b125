/**
 * `@mtu/unlearning`: the Unlearner contract, the one unlearning loop, the method registry, and the
 * interference-aware method with its ablations. The conformance kit is `@mtu/unlearning/testing`.
 *
 * @packageDocumentation
 */
export type {
  LoopConfig,
  MethodEvent,
  MethodReference,
  StepBatches,
  StepOutput,
  UnlearnContext,
  Unlearner,
} from './contract.js';
export { DEFAULT_LOOP_CONFIG, loopConfigFields, resolveConfig } from './config.js';
export { checkSupported, unlearn } from './loop.js';
export type { UnlearnEvent, UnlearnOptions, UnlearnResult } from './loop.js';
export { createUnlearnerRegistry } from './registry.js';
export type { AnyUnlearner, UnlearnerRegistry } from './registry.js';
export {
  INTERFERENCE_AWARE_DEFAULTS,
  INTERFERENCE_AWARE_METHODS,
  interferenceAware,
  interferenceAwareNone,
  interferenceAwareOrthogonalizationOnly,
  interferenceAwareProjectionOnly,
  protectedTasksFor,
  subspaceInstances,
} from './methods/interference-aware.js';
export type {
  InterferenceAwareConfig,
  InterferenceAwareState,
} from './methods/interference-aware.js';
export { registerInterferenceAware } from './methods/register.js';
