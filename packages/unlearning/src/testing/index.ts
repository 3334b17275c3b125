/**
 * `@mtu/unlearning/testing`: the conformance kit every registered method must pass.
 *
 * @packageDocumentation
 */
export { ConformanceError, conformanceChecks, createConformanceFixture } from './conformance.js';
export type { ConformanceCheck, ConformanceFixture, ConformanceOptions } from './conformance.js';
export { createStepContext, readStepBatches } from './harness.js';
export type { StepContextOptions } from './harness.js';
