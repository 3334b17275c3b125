/**
 * The method registry. Nothing registers on import: create a registry and register methods
 * explicitly (`registerInterferenceAware`, and the baselines package's own function).
 *
 * @module
 */
import { ConfigError, NotRegisteredError } from '@mtu/core-tensors';
import type { LoopConfig, Unlearner } from './contract.js';

/** Any unlearner, whatever its config and state types. */
export type AnyUnlearner = Unlearner<LoopConfig, unknown>;

/** A registry of unlearning methods by id. */
export interface UnlearnerRegistry {
  /** Adds a method; a second method with the same id is an error. */
  register<C extends LoopConfig, S>(unlearner: Unlearner<C, S>): void;
  /** The method with this id, or a {@link NotRegisteredError} listing the known ids. */
  get(id: string): AnyUnlearner;
  has(id: string): boolean;
  /** All methods in registration order. */
  list(): AnyUnlearner[];
}

/**
 * A new, empty registry.
 *
 * @example
 * ```ts
 * const registry = createUnlearnerRegistry();
 * registerInterferenceAware(registry);
 * registry.list().map((m) => m.id);
 * // ['interference-aware', 'interference-aware/projection-only', ...]
 * ```
 */
export function createUnlearnerRegistry(): UnlearnerRegistry {
  const byId = new Map<string, AnyUnlearner>();
  return {
    register(unlearner) {
      if (byId.has(unlearner.id))
        throw new ConfigError('method id', unlearner.id, 'is already registered');
      byId.set(unlearner.id, unlearner);
    },
    get(id) {
      const u = byId.get(id);
      if (u === undefined) throw new NotRegisteredError('method', id, [...byId.keys()]);
      return u;
    },
    has: (id) => byId.has(id),
    list: () => [...byId.values()],
  };
}
