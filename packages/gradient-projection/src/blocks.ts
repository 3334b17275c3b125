/**
 * Blocks: the unit of task-aware projection. A block is one parameter tensor of a
 * {@link ParamLayout} (one entry, e.g. `'shared/enc1/w'` or `'shared/enc1/b'`), i.e. one contiguous
 * range of the flat vector.
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import type { ParamLayout } from '@mtu/core-tensors';

/** One block of a layout: a parameter tensor and its range `[offset, offset + size)` of the flat vector. */
export interface BlockSlice {
  /** The parameter name (the block name). */
  name: string;
  /** Start of the block in the flat vector of the layout. */
  offset: number;
  /** Number of scalars of the block. */
  size: number;
}

/** Lists at most a few names for an error message. */
export function listNames(names: readonly string[], max: number = 8): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, max).map((n) => `'${n}'`);
  return names.length > max ? `${shown.join(', ')}, … (${names.length} in all)` : shown.join(', ');
}

/**
 * The blocks of a layout with their ranges in the flat vector, in layout order.
 *
 * @param layout - The layout of the flat vectors.
 * @param blocks - Parameter names to keep (default: every entry of the layout). The result is in
 *   layout order whatever the order here. An unknown or repeated name throws `ConfigError`.
 * @returns One `{ name, offset, size }` per selected block, in layout order (new array).
 *
 * @example
 * ```ts
 * const layout = createParamLayout([
 *   { name: 'shared/enc1/w', shape: [4, 8], group: SHARED_GROUP },
 *   { name: 'shared/enc1/b', shape: [8], group: SHARED_GROUP },
 *   { name: 'seg/head/w', shape: [8, 3], group: 'seg' },
 * ]);
 * blockSlices(layout);
 * // [{ name: 'shared/enc1/w', offset: 0, size: 32 },
 * //  { name: 'shared/enc1/b', offset: 32, size: 8 },
 * //  { name: 'seg/head/w', offset: 40, size: 24 }]
 * blockSlices(layout, layout.groups.get(SHARED_GROUP)?.names); // the shared blocks only
 * ```
 */
export function blockSlices(layout: ParamLayout, blocks?: readonly string[]): BlockSlice[] {
  if (blocks === undefined) {
    return layout.entries.map((e) => ({ name: e.name, offset: e.offset, size: e.size }));
  }
  const asUnknown: unknown = blocks;
  if (!Array.isArray(asUnknown)) {
    throw new ConfigError('blocks', typeof asUnknown, 'must be an array of parameter names');
  }
  const wanted = new Set<string>();
  for (const name of blocks) {
    if (!layout.byName.has(name)) {
      throw new ConfigError(
        'blocks',
        name,
        `not a parameter of the layout (parameters: ${listNames(layout.names)})`,
      );
    }
    if (wanted.has(name)) throw new ConfigError('blocks', name, 'repeated block name');
    wanted.add(name);
  }
  return layout.entries
    .filter((e) => wanted.has(e.name))
    .map((e) => ({ name: e.name, offset: e.offset, size: e.size }));
}
