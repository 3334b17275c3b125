/**
 * Explicit registration of this package's methods.
 *
 * @module
 */
import type { UnlearnerRegistry } from '../registry.js';
import { INTERFERENCE_AWARE_METHODS } from './interference-aware.js';

/**
 * Registers `interference-aware` and its ablations `interference-aware/projection-only`,
 * `interference-aware/orthogonalization-only` and `interference-aware/none`.
 *
 * @example
 * ```ts
 * const registry = createUnlearnerRegistry();
 * registerInterferenceAware(registry);
 * ```
 */
export function registerInterferenceAware(registry: UnlearnerRegistry): void {
  for (const method of INTERFERENCE_AWARE_METHODS) registry.register(method);
}
