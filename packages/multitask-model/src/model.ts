/**
 * The multi-task model: explicit tfjs variables, one parameter group per task plus `shared`, and a
 * pure forward function of a parameter map (so any group can be read, replaced or differentiated).
 *
 * @module
 */
import {
  ConfigError,
  ShapeError,
  createParamLayout,
  createRng,
  flatten,
  tf,
  unflatten,
} from '@mtu/core-tensors';
import type {
  NamedTensorMap,
  ParamLayout,
  Tensor,
  Tensor1D,
  Tensor4D,
  Variable,
} from '@mtu/core-tensors';
import type { HeadSpec, ModelSpec } from './spec.js';
import { levelSize, modelParams, validateModelSpec } from './spec.js';

/** Options of {@link createModel}. */
export interface CreateModelOptions {
  /** Seed of the initial weights (He-normal weights, zero biases). */
  readonly seed: number;
}

/**
 * A model: its spec, its parameter layout and its variables (owned by the model; release them with
 * `dispose`). Parameter names are stable (`shared/stem/w`, `depth/out/b`, ...); groups are
 * `'shared'` and one per task.
 */
export interface MultiTaskModel {
  readonly spec: ModelSpec;
  /** The layout of every parameter (see `@mtu/core-tensors` layouts): groups `shared`, tasks. */
  readonly layout: ParamLayout;
  /** The variables by parameter name. Do not dispose them; use {@link MultiTaskModel.dispose}. */
  readonly variables: Readonly<Record<string, Variable>>;
  /** Task names in head order. */
  readonly tasks: readonly string[];
  /**
   * Runs the model without recording gradients. Returns one new tensor per requested task
   * (default: all), owned by the caller; see {@link forward} for the shapes.
   */
  predict(x: Tensor4D, tasks?: readonly string[]): Record<string, Tensor>;
  /** Copies of the current weights by parameter name (caller owns them). */
  weights(): NamedTensorMap;
  /** Assigns weights by name (every given name must exist with the same shape; others are kept). */
  setWeights(weights: NamedTensorMap): void;
  /** The weights of the given groups (default all) as one float32 vector in layout order. */
  flatWeights(groups?: readonly string[]): Tensor1D;
  /** Assigns the weights of the given groups (default all) from one vector in layout order. */
  setFlatWeights(vector: Tensor1D, groups?: readonly string[]): void;
  /** An independent copy (new variables with the same values). */
  clone(): MultiTaskModel;
  /** Disposes the variables. */
  dispose(): void;
  /** Whether `dispose` was called. */
  readonly disposed: boolean;
}

let modelCounter = 0;

/**
 * How {@link forwardWith} computes its parameterised layers: a 'same'-padded 3×3 / 1×1 conv + bias
 * (+ ReLU) and a dense layer + bias (+ ReLU). `first` marks the conv that reads the model input
 * (whose input gradient nobody needs). The default is {@link STANDARD_LAYERS}; per-instance
 * gradients substitute layers whose gradient functions keep each example's gradients.
 */
export interface LayerOps {
  conv(
    x: Tensor4D,
    filter: Tensor4D,
    bias: Tensor,
    name: string,
    stride: number,
    relu: boolean,
    first: boolean,
  ): Tensor4D;
  dense(
    x: tf.Tensor2D,
    weight: tf.Tensor2D,
    bias: Tensor,
    name: string,
    relu: boolean,
  ): tf.Tensor2D;
}

/** The layers of {@link forward}: tfjs' fused conv2d and matMul. */
export const STANDARD_LAYERS: LayerOps = {
  conv: (x, filter, bias, _name, stride, relu) =>
    tf.fused.conv2d({
      x,
      filter,
      strides: stride,
      pad: 'same',
      bias,
      activation: relu ? 'relu' : 'linear',
    }),
  dense: (a, b, bias, _name, relu) =>
    tf.fused.matMul({ a, b, bias, activation: relu ? 'relu' : 'linear' }) as tf.Tensor2D,
};

function conv(
  x: Tensor4D,
  p: NamedTensorMap,
  name: string,
  stride: number,
  relu: boolean,
  ops: LayerOps,
  first = false,
): Tensor4D {
  const filter = p[`${name}/w`] as Tensor4D | undefined;
  const bias = p[`${name}/b`];
  if (filter === undefined || bias === undefined) {
    throw new ConfigError('params', name, 'is missing from the parameter map');
  }
  return ops.conv(x, filter, bias, name, stride, relu, first);
}

function denseLayer(
  x: tf.Tensor2D,
  p: NamedTensorMap,
  name: string,
  relu: boolean,
  ops: LayerOps,
): tf.Tensor2D {
  const w = p[`${name}/w`] as tf.Tensor2D | undefined;
  const b = p[`${name}/b`];
  if (w === undefined || b === undefined) {
    throw new ConfigError('params', name, 'is missing from the parameter map');
  }
  return ops.dense(x, w, b, name, relu);
}

function upsampleTo(x: Tensor4D, size: readonly [number, number]): Tensor4D {
  if (x.shape[1] === size[0] && x.shape[2] === size[1]) return x;
  return tf.image.resizeNearestNeighbor(x, [size[0], size[1]]);
}

function denseHead(features: Tensor4D, p: NamedTensorMap, head: HeadSpec, ops: LayerOps): Tensor {
  let y = conv(features, p, `${head.task}/conv`, 1, true, ops);
  y = conv(y, p, `${head.task}/out`, 1, false, ops);
  const size = head.size!;
  if (y.shape[1] !== size[0] || y.shape[2] !== size[1]) {
    y = tf.image.resizeBilinear(y, [size[0], size[1]], false, true);
  }
  if (head.kind === 'normals') {
    // p / √(‖p‖² + ε²), ε = 1e-6: unit normals, with a finite gradient where p = 0 (e.g. dead
    // ReLUs at initialisation).
    return tf.div(y, tf.sqrt(tf.add(tf.sum(tf.square(y), -1, true), 1e-12)));
  }
  return y;
}

/**
 * The forward pass as a pure function of a parameter map (tensors or variables). Call it inside
 * `tf.tidy` / a gradient function; it creates intermediate tensors.
 *
 * Shapes (input `x`: float32 `[B, H, W, C]`): segmentation logits `[B, h, w, classes]`; depth
 * `[B, h, w, 1]` (linear); normals `[B, h, w, 3]` (unit length); classification logits
 * `[B, classes]`.
 *
 * @example
 * ```ts
 * const out = tf.tidy(() => forward(model.spec, model.variables, x, ['depth']));
 * out.depth.shape; // [B, h, w, 1]
 * ```
 */
export function forward(
  spec: ModelSpec,
  params: NamedTensorMap,
  x: Tensor4D,
  tasks?: readonly string[],
): Record<string, Tensor> {
  return forwardWith(spec, params, x, tasks, STANDARD_LAYERS);
}

/**
 * {@link forward} with the parameterised layers computed by `ops` (same shapes and values for any
 * correct `ops`; see {@link LayerOps}). Internal to the package.
 */
export function forwardWith(
  spec: ModelSpec,
  params: NamedTensorMap,
  x: Tensor4D,
  tasks: readonly string[] | undefined,
  ops: LayerOps,
): Record<string, Tensor> {
  const [H, W, C] = spec.inputShape;
  if (x.rank !== 4 || x.shape[1] !== H || x.shape[2] !== W || x.shape[3] !== C) {
    throw new ShapeError(
      `forward: expected input [B, ${H}, ${W}, ${C}], got [${x.shape.join(', ')}]`,
      {
        expected: [-1, H, W, C],
        actual: x.shape,
      },
    );
  }
  const heads = selectHeads(spec, tasks);
  const features = backboneWith(
    spec,
    params,
    x,
    ops,
    heads.some((hd) => hd.kind !== 'classification'),
  );
  return headsWith(spec, params, features, heads, ops);
}

/** The backbone's outputs: the bottleneck, and the decoder's output when a dense head needs it. */
export interface BackboneFeatures {
  /** `[B, h_s, w_s, C_s]`, input of the classification heads. */
  readonly bottleneck: Tensor4D;
  /** `[B, H, W, width]`, input of the dense heads (encoder–decoder, when asked for). */
  readonly decoded?: Tensor4D;
}

/**
 * The shared backbone of {@link forwardWith}, its conv layers computed by `ops`; with `decode`, also
 * the decoder (skip connections, upsampling). Internal to the package.
 */
export function backboneWith(
  spec: ModelSpec,
  params: NamedTensorMap,
  x: Tensor4D,
  ops: LayerOps,
  decode: boolean,
): BackboneFeatures {
  const s = spec.backbone.stages;
  const skips: Tensor4D[] = [];
  let h = conv(x, params, 'shared/stem', 1, true, ops, true);
  for (let i = 1; i <= s; i++) {
    skips.push(h);
    h = conv(h, params, `shared/down${i}`, 2, true, ops);
    h = conv(h, params, `shared/enc${i}`, 1, true, ops);
  }
  if (!decode) return { bottleneck: h };
  let d = h;
  for (let i = s; i >= 1; i--) {
    const skip = skips[i - 1]!;
    d = upsampleTo(d, [skip.shape[1], skip.shape[2]]);
    d = conv(tf.concat([d, skip], 3), params, `shared/up${i}`, 1, true, ops);
  }
  return { bottleneck: h, decoded: d };
}

/**
 * The outputs of `heads` on backbone features (see {@link backboneWith}), their layers computed by
 * `ops`, by task name. Internal to the package.
 */
export function headsWith(
  spec: ModelSpec,
  params: NamedTensorMap,
  features: BackboneFeatures,
  heads: readonly HeadSpec[],
  ops: LayerOps,
): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const head of heads) {
    if (head.kind === 'classification') continue;
    if (features.decoded === undefined) {
      throw new ConfigError('features', head.task, 'a dense head needs the decoder output');
    }
    out[head.task] = denseHead(features.decoded, params, head, ops);
  }
  const s = spec.backbone.stages;
  const [bh, bw] = levelSize(spec, s);
  const bottleneck = features.bottleneck;
  for (const head of heads) {
    if (head.kind !== 'classification') continue;
    const flat = tf.reshape<tf.Rank.R2>(bottleneck, [-1, bh * bw * bottleneck.shape[3]]);
    const hidden = denseLayer(flat, params, `${head.task}/fc1`, true, ops);
    out[head.task] = denseLayer(hidden, params, `${head.task}/fc2`, false, ops);
  }
  return out;
}

/** The heads for `tasks` (default: all), with a clear error for unknown names. */
export function selectHeads(spec: ModelSpec, tasks?: readonly string[]): HeadSpec[] {
  if (tasks === undefined) return [...spec.heads];
  return tasks.map((t) => {
    const head = spec.heads.find((h) => h.task === t);
    if (head === undefined) {
      throw new ConfigError(
        'task',
        t,
        `the model has no head for it (heads: ${spec.heads.map((h) => h.task).join(', ')})`,
      );
    }
    return head;
  });
}

/**
 * Creates a model with freshly initialised weights: He-normal weights (std √(2/fan-in)) from the
 * seeded stream `createRng(seed).fork(<parameter name>)`, zero biases. The same spec and seed give
 * the same weights on every backend.
 *
 * @example
 * ```ts
 * const model = createModel(defaultModelSpec(dataset), { seed: 0 });
 * try { ... } finally { model.dispose(); }
 * ```
 */
export function createModel(spec: ModelSpec, options: CreateModelOptions): MultiTaskModel {
  validateModelSpec(spec);
  if (!Number.isInteger(options.seed))
    throw new ConfigError('seed', options.seed, 'must be an integer');
  const params = modelParams(spec);
  const root = createRng(options.seed).fork('init');
  const initial: NamedTensorMap = {};
  for (const p of params) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (p.init === 'he-normal') {
      const rng = root.fork(p.name);
      const std = Math.sqrt(2 / p.fanIn);
      for (let i = 0; i < size; i++) values[i] = rng.normal(0, std);
    }
    initial[p.name] = tf.tensor(values, [...p.shape], 'float32');
  }
  try {
    return modelFromWeights(spec, initial);
  } finally {
    tf.dispose(initial);
  }
}

/**
 * A model with the given weights (copied; the inputs are not disposed). Every parameter of the
 * spec must be present with its exact shape, and no other name.
 */
export function modelFromWeights(spec: ModelSpec, weights: NamedTensorMap): MultiTaskModel {
  validateModelSpec(spec);
  const params = modelParams(spec);
  const layout = createParamLayout(
    params.map(({ name, shape, group }) => ({ name, shape, group })),
  );
  const expected = new Set(params.map((p) => p.name));
  for (const name of Object.keys(weights)) {
    if (!expected.has(name))
      throw new ConfigError('weights', name, 'is not a parameter of this architecture');
  }
  const prefix = `mtu-model-${++modelCounter}`;
  const variables: Record<string, Variable> = {};
  for (const p of params) {
    const w = weights[p.name];
    if (w === undefined) throw new ConfigError('weights', p.name, 'is missing');
    checkShape(p.name, p.shape, w.shape);
    variables[p.name] = tf.variable(w, true, `${prefix}/${p.name}`, 'float32');
  }
  let disposed = false;
  const groupsOrAll = (groups?: readonly string[]): readonly string[] =>
    groups ?? layout.groupNames;
  const namesOf = (groups?: readonly string[]): string[] => {
    const gs = groupsOrAll(groups);
    for (const g of gs) {
      if (!layout.groups.has(g)) {
        throw new ConfigError(
          'group',
          g,
          `unknown parameter group (groups: ${layout.groupNames.join(', ')})`,
        );
      }
    }
    return layout.names.filter((n) => gs.includes(layout.byName.get(n)!.group));
  };
  const model: MultiTaskModel = {
    spec,
    layout,
    variables,
    tasks: spec.heads.map((h) => h.task),
    predict(x, tasks) {
      return tf.tidy(() => forward(spec, variables, x, tasks));
    },
    weights() {
      const out: NamedTensorMap = {};
      for (const name of layout.names) out[name] = tf.clone(variables[name]!);
      return out;
    },
    setWeights(map) {
      for (const [name, value] of Object.entries(map)) {
        const v = variables[name];
        if (v === undefined)
          throw new ConfigError('weights', name, 'is not a parameter of this model');
        checkShape(name, v.shape, value.shape);
        v.assign(value);
      }
    },
    flatWeights(groups) {
      const names = namesOf(groups);
      const sub = createParamLayout(names.map((n) => layout.byName.get(n)!));
      return flatten(sub, variables, { allowExtra: true });
    },
    setFlatWeights(vector, groups) {
      const names = namesOf(groups);
      const sub = createParamLayout(names.map((n) => layout.byName.get(n)!));
      const parts = unflatten(sub, vector);
      try {
        model.setWeights(parts);
      } finally {
        tf.dispose(parts);
      }
    },
    clone() {
      return modelFromWeights(spec, variables);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const v of Object.values(variables)) v.dispose();
    },
    get disposed() {
      return disposed;
    },
  };
  return model;
}

function checkShape(name: string, expected: readonly number[], actual: readonly number[]): void {
  if (expected.length !== actual.length || expected.some((d, i) => d !== actual[i])) {
    throw new ShapeError(
      `parameter '${name}': expected [${expected.join(', ')}], got [${actual.join(', ')}]`,
      {
        expected,
        actual,
      },
    );
  }
}

/**
 * The sub-layout of the given parameter groups of a model (in the model's layout order): the layout
 * of flat gradient vectors restricted to those groups.
 *
 * @example
 * ```ts
 * groupLayout(model, ['shared']).size; // number of shared parameters
 * ```
 */
export function groupLayout(model: MultiTaskModel, groups: readonly string[]): ParamLayout {
  for (const g of groups) {
    if (!model.layout.groups.has(g)) {
      throw new ConfigError(
        'group',
        g,
        `unknown parameter group (groups: ${model.layout.groupNames.join(', ')})`,
      );
    }
  }
  return createParamLayout(model.layout.entries.filter((e) => groups.includes(e.group)));
}
