/**
 * Parameter layouts and flat gradient vectors.
 *
 * A {@link ParamLayout} fixes an order of named parameters (weights) and maps every parameter to a
 * range `[offset, offset + size)` of a flat vector of length `D` (the total number of scalars).
 * Every parameter belongs to one named group: {@link SHARED_GROUP} for the trunk shared by all tasks
 * and one group per task (e.g. its head).
 *
 * **Ordering.** The layout is ordered *by group*: groups in the order of their first appearance in
 * the entries, and inside a group the entries in their given order (a stable sort by group). Hence
 * every group occupies one contiguous range of the flat vector ({@link groupRange}), and the
 * group-restricted operations ({@link groupSlice}, {@link replaceGroup}, {@link embedGroup}) are plain
 * slices and concatenations. `layout.names` gives the resulting order; it may differ from the input
 * order when groups were interleaved there.
 *
 * Tensor ownership: every returned tensor is new and owned by the caller; no function disposes its
 * inputs. Flat vectors are float32.
 *
 * @module
 */
import { ConfigError, ShapeError } from './errors.js';
import { tf } from './tf.js';
import type { NamedTensorMap, Rank, Scalar, Tensor, Tensor1D } from './tf.js';

/** The conventional name of the group of parameters shared by all tasks. */
export const SHARED_GROUP = 'shared';

/** One parameter of a layout, as given to {@link createParamLayout}. */
export interface ParamSpec {
  /** Unique, non-empty name (e.g. the tf variable name). */
  readonly name: string;
  /** The tensor shape; `[]` for a scalar. Dimensions are non-negative integers. */
  readonly shape: readonly number[];
  /** Non-empty group name, e.g. {@link SHARED_GROUP} or a task id. */
  readonly group: string;
}

/** One parameter of a {@link ParamLayout}, with its place in the flat vector. */
export interface ParamEntry extends ParamSpec {
  /** Number of scalars (product of the shape; 1 for a scalar). */
  readonly size: number;
  /** Start of this parameter in the flat vector. */
  readonly offset: number;
  /** Position of this entry in {@link ParamLayout.entries}. */
  readonly index: number;
}

/** One group of a {@link ParamLayout}: a contiguous range of the flat vector. */
export interface ParamGroup {
  /** The group name. */
  readonly name: string;
  /** The names of its parameters, in layout order. */
  readonly names: readonly string[];
  /** Start of the group's range in the flat vector. */
  readonly offset: number;
  /** Number of scalars of the group (may be 0 if all its parameters are empty). */
  readonly size: number;
}

/** An immutable parameter layout; build with {@link createParamLayout} or {@link layoutFromTensors}. */
export interface ParamLayout {
  /** The entries in layout (flat-vector) order: grouped, see the module notes. */
  readonly entries: readonly ParamEntry[];
  /** Parameter names in layout order. */
  readonly names: readonly string[];
  /** Entry by parameter name. */
  readonly byName: ReadonlyMap<string, ParamEntry>;
  /** Group names in layout order (order of first appearance). */
  readonly groupNames: readonly string[];
  /** Group by name. */
  readonly groups: ReadonlyMap<string, ParamGroup>;
  /** Total number of scalars `D` (length of a flat vector). */
  readonly size: number;
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

class FrozenMap<K, V> extends Map<K, V> {
  #frozen = false;
  freeze(): this {
    this.#frozen = true;
    return this;
  }
  override set(key: K, value: V): this {
    if (this.#frozen) throw new TypeError('ParamLayout maps are read-only');
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    if (this.#frozen) throw new TypeError('ParamLayout maps are read-only');
    return super.delete(key);
  }
  override clear(): void {
    if (this.#frozen) throw new TypeError('ParamLayout maps are read-only');
    super.clear();
  }
}

/**
 * Builds an immutable layout from parameter specs. Entries are reordered by group (stable; groups
 * in order of first appearance), so each group is contiguous.
 *
 * Throws {@link ConfigError} for an empty or duplicate name or an empty group name, and
 * {@link ShapeError} for a shape that is not an array of non-negative integers; the message names the
 * entry.
 *
 * @param entries - `{ name, shape, group }` per parameter.
 * @returns The layout; `layout.size` is the flat length `D`.
 *
 * @example
 * ```ts
 * const layout = createParamLayout([
 *   { name: 'trunk/kernel', shape: [4, 8], group: 'shared' },
 *   { name: 'headA/kernel', shape: [8, 2], group: 'taskA' },
 *   { name: 'trunk/bias', shape: [8], group: 'shared' },
 * ]);
 * layout.names;                 // ['trunk/kernel', 'trunk/bias', 'headA/kernel']
 * layout.size;                  // 56
 * groupRange(layout, 'taskA');  // { offset: 40, size: 16 }
 * ```
 */
export function createParamLayout(entries: readonly ParamSpec[]): ParamLayout {
  const asUnknown: unknown = entries;
  if (!Array.isArray(asUnknown)) {
    throw new ConfigError(
      'entries',
      typeof asUnknown,
      'must be an array of { name, shape, group }',
    );
  }
  const seen = new Set<string>();
  const groupOrder: string[] = [];
  const byGroup = new Map<string, ParamSpec[]>();
  entries.forEach((spec, i) => {
    const where = `entries[${i}]`;
    const specUnknown: unknown = spec;
    if (specUnknown === null || typeof specUnknown !== 'object') {
      throw new ConfigError(where, specUnknown, 'must be an object { name, shape, group }');
    }
    const { name, shape, group } = spec;
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigError(`${where}.name`, name, 'must be a non-empty string');
    }
    if (seen.has(name)) {
      throw new ConfigError(`${where}.name`, name, 'duplicate parameter name');
    }
    seen.add(name);
    if (typeof group !== 'string' || group.length === 0) {
      throw new ConfigError(
        `${where}.group`,
        group,
        `parameter '${name}' needs a non-empty group name`,
      );
    }
    const shapeUnknown: unknown = shape;
    if (
      !Array.isArray(shapeUnknown) ||
      !shapeUnknown.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
    ) {
      const shown = Array.isArray(shapeUnknown)
        ? `[${shapeUnknown.map(String).join(', ')}]`
        : String(shapeUnknown);
      throw new ShapeError(
        `${where} ('${name}'): shape ${shown} must be an array of non-negative integers`,
      );
    }
    let list = byGroup.get(group);
    if (list === undefined) {
      list = [];
      byGroup.set(group, list);
      groupOrder.push(group);
    }
    list.push({ name, shape: Object.freeze(shape.slice()), group });
  });

  const ordered: ParamEntry[] = [];
  const byName = new FrozenMap<string, ParamEntry>();
  const groups = new FrozenMap<string, ParamGroup>();
  let offset = 0;
  for (const group of groupOrder) {
    const specs = byGroup.get(group) ?? [];
    const groupOffset = offset;
    const names: string[] = [];
    for (const spec of specs) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(offset + size)) {
        throw new ShapeError(`parameter '${spec.name}': the layout is too large (> 2^53 scalars)`);
      }
      const entry: ParamEntry = Object.freeze({
        name: spec.name,
        shape: spec.shape,
        group,
        size,
        offset,
        index: ordered.length,
      });
      ordered.push(entry);
      byName.set(entry.name, entry);
      names.push(entry.name);
      offset += size;
    }
    groups.set(
      group,
      Object.freeze({
        name: group,
        names: Object.freeze(names),
        offset: groupOffset,
        size: offset - groupOffset,
      }),
    );
  }
  return Object.freeze({
    entries: Object.freeze(ordered),
    names: Object.freeze(ordered.map((e) => e.name)),
    byName: byName.freeze(),
    groupNames: Object.freeze(groupOrder.slice()),
    groups: groups.freeze(),
    size: offset,
  });
}

/**
 * Builds a layout from the shapes of a tensor map (e.g. the model's trainable variables), in the
 * map's key order, assigning each name to the group `groupOf(name)`.
 *
 * @param tensors - Name → tensor; only shapes are read.
 * @param groupOf - The group of a parameter name (e.g. `name => name.startsWith('head_a/') ? 'a' : 'shared'`).
 * @returns The layout, grouped as in {@link createParamLayout}.
 *
 * @example
 * ```ts
 * const layout = layoutFromTensors(
 *   { 'trunk/w': tf.zeros([3, 4]), 'head_a/w': tf.zeros([4, 1]) },
 *   (name) => (name.startsWith('head_a/') ? 'a' : SHARED_GROUP),
 * );
 * layout.size; // 16
 * ```
 */
export function layoutFromTensors(
  tensors: NamedTensorMap,
  groupOf: (name: string) => string,
): ParamLayout {
  return createParamLayout(
    Object.keys(tensors).map((name) => ({
      name,
      shape: (tensors[name] as Tensor).shape,
      group: groupOf(name),
    })),
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkFlat(fn: string, arg: string, vec: Tensor, expected: number): void {
  if (vec.rank !== 1 || vec.shape[0] !== expected) {
    throw new ShapeError(
      `${fn}: ${arg} must be a 1-D tensor of length ${expected}, got shape ${shapeString(vec.shape)}`,
      { expected: [expected], actual: vec.shape },
    );
  }
}

function getGroup(fn: string, layout: ParamLayout, group: string): ParamGroup {
  const g = layout.groups.get(group);
  if (g === undefined) {
    throw new ConfigError(
      'group',
      group,
      `${fn}: unknown group (layout groups: ${layout.groupNames.join(', ') || 'none'})`,
    );
  }
  return g;
}

/** Options of {@link flatten}. */
export interface FlattenOptions {
  /** Ignore tensors whose names are not in the layout instead of throwing. Default `false`. */
  readonly allowExtra?: boolean;
}

/**
 * Concatenates the tensors of `tensors` into one float32 vector of length `layout.size`, in layout
 * order (each tensor flattened row-major). Non-float32 tensors are cast.
 *
 * Throws {@link ShapeError} naming the parameter when one is missing, has the wrong shape, or (unless
 * `allowExtra`) is not in the layout.
 *
 * @param layout - The layout.
 * @param tensors - Name → tensor of the entry's shape.
 * @returns `Tensor1D` of shape `[D]`, owned by the caller.
 *
 * @example
 * ```ts
 * const { grads } = tf.variableGrads(loss);      // NamedTensorMap
 * const g = flatten(layout, grads);              // [D]
 * ```
 */
export function flatten(
  layout: ParamLayout,
  tensors: NamedTensorMap,
  options: FlattenOptions = {},
): Tensor1D {
  for (const entry of layout.entries) {
    const t = tensors[entry.name];
    if (t === undefined) {
      throw new ShapeError(
        `flatten: parameter '${entry.name}' (shape ${shapeString(entry.shape)}, group '${entry.group}') is missing`,
        { expected: entry.shape },
      );
    }
    if (!sameShape(t.shape, entry.shape)) {
      throw new ShapeError(
        `flatten: parameter '${entry.name}' has shape ${shapeString(t.shape)}, the layout expects ${shapeString(entry.shape)}`,
        { expected: entry.shape, actual: t.shape },
      );
    }
  }
  if (options.allowExtra !== true) {
    for (const name of Object.keys(tensors)) {
      if (!layout.byName.has(name)) {
        throw new ShapeError(
          `flatten: tensor '${name}' (shape ${shapeString((tensors[name] as Tensor).shape)}) is not in the layout`,
        );
      }
    }
  }
  return tf.tidy(() => {
    if (layout.entries.length === 0) return tf.zeros<Rank.R1>([0], 'float32');
    const parts = layout.entries.map((entry) => {
      const t = tensors[entry.name] as Tensor;
      const flat = tf.reshape<Rank.R1>(t, [entry.size]);
      return flat.dtype === 'float32' ? flat : tf.cast(flat, 'float32');
    });
    return parts.length === 1 ? tf.clone(parts[0] as Tensor1D) : tf.concat<Tensor1D>(parts, 0);
  });
}

/**
 * Splits a flat vector into one tensor per parameter, shaped as in the layout (inverse of
 * {@link flatten}).
 *
 * @param layout - The layout.
 * @param vec - `Tensor1D` of shape `[D]`.
 * @returns Name → tensor (new tensors, owned by the caller), keys in layout order.
 *
 * @example
 * ```ts
 * const params = unflatten(layout, theta);   // { 'trunk/kernel': [4, 8], ... }
 * tf.dispose(params);
 * ```
 */
export function unflatten(layout: ParamLayout, vec: Tensor1D): NamedTensorMap {
  checkFlat('unflatten', 'vec', vec, layout.size);
  return tf.tidy(() => {
    const out: NamedTensorMap = {};
    for (const entry of layout.entries) {
      out[entry.name] = tf.reshape(
        tf.slice(vec, [entry.offset], [entry.size]),
        entry.shape.slice(),
      );
    }
    return out;
  });
}

/**
 * The range of a group in the flat vector.
 *
 * @param layout - The layout.
 * @param group - A group name of the layout ({@link ConfigError} otherwise).
 * @returns `{ offset, size }`: the group is `vec[offset, offset + size)`.
 *
 * @example
 * ```ts
 * const { offset, size } = groupRange(layout, SHARED_GROUP);
 * ```
 */
export function groupRange(layout: ParamLayout, group: string): { offset: number; size: number } {
  const g = getGroup('groupRange', layout, group);
  return { offset: g.offset, size: g.size };
}

/**
 * The part of a flat vector that belongs to one group (a copy).
 *
 * @param layout - The layout.
 * @param vec - `Tensor1D` of shape `[D]`.
 * @param group - A group name of the layout.
 * @returns `Tensor1D` of shape `[groupSize]`.
 *
 * @example
 * ```ts
 * const gShared = groupSlice(layout, g, SHARED_GROUP); // [D_shared]
 * ```
 */
export function groupSlice(layout: ParamLayout, vec: Tensor1D, group: string): Tensor1D {
  checkFlat('groupSlice', 'vec', vec, layout.size);
  const g = getGroup('groupSlice', layout, group);
  return tf.slice(vec, [g.offset], [g.size]);
}

/**
 * A copy of `vec` whose group part is replaced by `part` (the rest unchanged).
 *
 * @param layout - The layout.
 * @param vec - `Tensor1D` of shape `[D]`.
 * @param group - A group name of the layout.
 * @param part - `Tensor1D` of shape `[groupSize]`.
 * @returns `Tensor1D` of shape `[D]`.
 *
 * @example
 * ```ts
 * const gShared = groupSlice(layout, g, SHARED_GROUP);
 * const projected = projectOut(gShared, basis);
 * const g2 = replaceGroup(layout, g, SHARED_GROUP, projected);
 * ```
 */
export function replaceGroup(
  layout: ParamLayout,
  vec: Tensor1D,
  group: string,
  part: Tensor1D,
): Tensor1D {
  checkFlat('replaceGroup', 'vec', vec, layout.size);
  const g = getGroup('replaceGroup', layout, group);
  checkFlat('replaceGroup', `part (group '${group}')`, part, g.size);
  return tf.tidy(() => {
    const pieces: Tensor1D[] = [];
    if (g.offset > 0) pieces.push(tf.slice(vec, [0], [g.offset]));
    pieces.push(part.dtype === 'float32' ? part : tf.cast(part, 'float32'));
    const end = g.offset + g.size;
    if (end < layout.size) pieces.push(tf.slice(vec, [end], [layout.size - end]));
    return pieces.length === 1 ? tf.clone(pieces[0] as Tensor1D) : tf.concat<Tensor1D>(pieces, 0);
  });
}

/**
 * A flat vector that is `part` on the group's range and zero elsewhere.
 *
 * @param layout - The layout.
 * @param group - A group name of the layout.
 * @param part - `Tensor1D` of shape `[groupSize]`.
 * @returns `Tensor1D` of shape `[D]`.
 *
 * @example
 * ```ts
 * const onlyHead = embedGroup(layout, 'taskA', groupSlice(layout, g, 'taskA'));
 * ```
 */
export function embedGroup(layout: ParamLayout, group: string, part: Tensor1D): Tensor1D {
  const g = getGroup('embedGroup', layout, group);
  checkFlat('embedGroup', `part (group '${group}')`, part, g.size);
  return tf.tidy(() => {
    const p = part.dtype === 'float32' ? part : tf.cast(part, 'float32');
    return tf.pad(p, [[g.offset, layout.size - g.offset - g.size]]);
  });
}

function checkVector(fn: string, arg: string, v: Tensor): void {
  if (v.rank !== 1) {
    throw new ShapeError(`${fn}: ${arg} must be 1-D, got shape ${shapeString(v.shape)}`, {
      actual: v.shape,
    });
  }
}

/**
 * Inner product of two vectors of equal length.
 *
 * @param a - `Tensor1D` of shape `[D]`.
 * @param b - `Tensor1D` of shape `[D]`.
 * @returns `Scalar` ⟨a, b⟩ (0 for D = 0).
 *
 * @example
 * ```ts
 * const cos = dot(g1, g2).div(norm(g1).mul(norm(g2)));
 * ```
 */
export function dot(a: Tensor1D, b: Tensor1D): Scalar {
  checkVector('dot', 'a', a);
  checkVector('dot', 'b', b);
  if (a.shape[0] !== b.shape[0]) {
    throw new ShapeError(
      `dot: a has shape ${shapeString(a.shape)} but b has shape ${shapeString(b.shape)}`,
      { expected: a.shape, actual: b.shape },
    );
  }
  return tf.tidy(() => tf.sum<Scalar>(tf.mul(a, b)));
}

/**
 * Euclidean norm of a vector.
 *
 * @param v - `Tensor1D` of shape `[D]`.
 * @returns `Scalar` ‖v‖₂ (0 for D = 0).
 *
 * @example
 * ```ts
 * const n = norm(g).dataSync()[0];
 * ```
 */
export function norm(v: Tensor1D): Scalar {
  checkVector('norm', 'v', v);
  return tf.tidy(() => tf.sqrt(tf.sum<Scalar>(tf.square(v))));
}
