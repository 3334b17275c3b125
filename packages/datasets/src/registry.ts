/**
 * A registry of dataset descriptors. Nothing registers on import: build a registry with
 * {@link createDatasetRegistry} and add descriptors explicitly (`registerBuiltinDatasets` adds the
 * four sources of this package).
 *
 * @module
 */
import { ConfigError, NotRegisteredError } from '@mtu/core-tensors';
import { z } from 'zod';
import type { Dataset, TaskKind } from './types.js';

/** Progress of a long load, as an event (libraries never print). */
export interface LoadProgress {
  readonly dataset: string;
  /** What is being done, e.g. `'render train'`, `'read val/image'`. */
  readonly phase: string;
  readonly done: number;
  readonly total: number;
}

/** What a loader may use besides its options. */
export interface LoadContext {
  /** Called as the load advances. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Aborts the load (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/**
 * A dataset source: an id, a description, a zod schema of its options (with defaults), and `load`.
 *
 * @typeParam O - the resolved options type (the schema's output).
 */
export interface DatasetDescriptor<O extends object = object> {
  /** Stable id, e.g. `'scenes'`. */
  readonly id: string;
  /** One line for `mtu datasets`. */
  readonly description: string;
  /**
   * The tasks (name and kind) every dataset of this source has, whatever its options, so listings
   * and grid checks need not load it. Optional: a source whose tasks depend on its options omits it.
   */
  readonly tasks?: readonly { readonly name: string; readonly kind: TaskKind }[];
  /** The options schema; every option has a default or is required, and a description. */
  readonly options: z.ZodType<O, Record<string, unknown>>;
  /** Builds the dataset from resolved options. */
  load(options: O, context?: LoadContext): Promise<Dataset>;
}

/** One option of a descriptor, for help texts. */
export interface OptionInfo {
  readonly name: string;
  readonly type: string;
  readonly description: string | undefined;
  readonly default: unknown;
  readonly required: boolean;
}

/**
 * Validates raw options (e.g. parsed from a CLI or a JSON grid) against a descriptor's schema and
 * fills in defaults. Unknown options and invalid values raise a {@link ConfigError} whose field is
 * `<dataset id>.<option>`.
 *
 * @example
 * ```ts
 * resolveDatasetOptions(scenesDataset, { trainSize: 64 }); // { trainSize: 64, size: 64, ... }
 * ```
 */
export function resolveDatasetOptions<O extends object>(
  descriptor: DatasetDescriptor<O>,
  raw: unknown = {},
): O {
  const parsed = descriptor.options.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    let value: unknown = raw;
    for (const key of issue.path) {
      value =
        typeof value === 'object' && value !== null
          ? (value as Record<PropertyKey, unknown>)[key]
          : undefined;
    }
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      throw new ConfigError(
        `${descriptor.id}.${path === '' ? key : `${path}.${key}`}`,
        (raw as Record<string, unknown>)[key],
        `unknown option (options: ${optionInfo(descriptor)
          .map((o) => o.name)
          .join(', ')})`,
      );
    }
    throw new ConfigError(`${descriptor.id}.${path}`, value, issue.message);
  }
  return parsed.data;
}

/**
 * The options of a descriptor (name, type, description, default), from its JSON schema.
 *
 * @example
 * ```ts
 * optionInfo(scenesDataset).map((o) => `--${o.name} (default ${String(o.default)})`);
 * ```
 */
export function optionInfo(descriptor: DatasetDescriptor): OptionInfo[] {
  const schema = z.toJSONSchema(descriptor.options, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, p]) => ({
    name,
    type: describeType(p),
    description: typeof p['description'] === 'string' ? p['description'] : undefined,
    default: p['default'],
    required: required.has(name) && !('default' in p),
  }));
}

function describeType(p: Record<string, unknown>): string {
  if (Array.isArray(p['enum']))
    return (p['enum'] as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (p['type'] === 'array') return 'array';
  return typeof p['type'] === 'string' ? p['type'] : 'value';
}

/** A registry of dataset descriptors. */
export interface DatasetRegistry {
  /** Adds a descriptor; a second descriptor with the same id is an error. */
  register<O extends object>(descriptor: DatasetDescriptor<O>): void;
  /** The descriptor with this id, or a {@link NotRegisteredError} listing the known ids. */
  get(id: string): DatasetDescriptor;
  /** Whether the id is registered. */
  has(id: string): boolean;
  /** All descriptors, in registration order. */
  list(): DatasetDescriptor[];
  /** Resolves `rawOptions` and loads the dataset. */
  load(id: string, rawOptions?: unknown, context?: LoadContext): Promise<Dataset>;
}

/**
 * A new, empty registry.
 *
 * @example
 * ```ts
 * const registry = createDatasetRegistry();
 * registerBuiltinDatasets(registry);
 * const ds = await registry.load('scenes', { trainSize: 128, seed: 1 });
 * ```
 */
export function createDatasetRegistry(): DatasetRegistry {
  const byId = new Map<string, DatasetDescriptor>();
  const registry: DatasetRegistry = {
    register(descriptor) {
      if (byId.has(descriptor.id)) {
        throw new ConfigError('dataset id', descriptor.id, 'is already registered');
      }
      byId.set(descriptor.id, descriptor);
    },
    get(id) {
      const d = byId.get(id);
      if (d === undefined) throw new NotRegisteredError('dataset', id, [...byId.keys()]);
      return d;
    },
    has: (id) => byId.has(id),
    list: () => [...byId.values()],
    async load(id, rawOptions, context) {
      const d = registry.get(id);
      const options = resolveDatasetOptions(d, rawOptions);
      context?.signal?.throwIfAborted();
      return d.load(options, context);
    },
  };
  return registry;
}
