/**
 * Model specifications: everything that determines a model's architecture, as plain JSON.
 *
 * @module
 */
import { ConfigError, SHARED_GROUP } from '@mtu/core-tensors';
import type { ParamSpec } from '@mtu/core-tensors';
import type { Dataset, TaskKind } from '@mtu/datasets';

/** The spec format marker and version (stored in checkpoints). */
export const MODEL_FORMAT = 'mtu-multitask-model';
/** The spec version this build reads and writes. */
export const MODEL_SPEC_VERSION = 1;

/**
 * The shared backbone.
 *
 * - `'encoder-decoder'` (dense tasks): a stem conv, then `stages` times [3×3 conv stride 2
 *   doubling the channels, 3×3 conv], then a decoder that upsamples (nearest) back through every
 *   stage, concatenating the encoder features of the same resolution (U-Net style skips) and
 *   applying a 3×3 conv. Output: `[B, H, W, width]` features for the dense heads, and the
 *   bottleneck `[B, ⌈H/2^s⌉, ⌈W/2^s⌉, width·2^s]` for classification heads.
 * - `'conv-net'` (classification only): the encoder alone.
 *
 * Every conv has a bias and a ReLU and 'same' padding.
 */
export interface BackboneSpec {
  readonly kind: 'encoder-decoder' | 'conv-net';
  /** Channels of the stem; stage `i` has `width·2^i`. */
  readonly width: number;
  /** Number of stride-2 stages (≥ 1). */
  readonly stages: number;
}

/**
 * One task head (its parameters form the group named after the task).
 *
 * - dense kinds (segmentation, depth, normals): a 3×3 conv (`hidden` channels, ReLU) and a 1×1
 *   conv to `outputs` channels on the full-resolution features, resized (bilinear) to `size` when
 *   the label resolution differs from the input; normals are L2-normalised.
 * - classification: the bottleneck flattened, a dense layer (`hidden`, ReLU), a dense layer to
 *   `outputs` logits (flattening keeps the spatial layout, which MultiMNIST's left/right needs).
 */
export interface HeadSpec {
  /** Task name (= the parameter group of the head). */
  readonly task: string;
  readonly kind: TaskKind;
  /** Output channels: the classes, 1 for depth, 3 for normals. */
  readonly outputs: number;
  /** Hidden width of the head. */
  readonly hidden: number;
  /** Label `[h, w]` for dense heads (absent for classification). */
  readonly size?: readonly [number, number];
}

/** A complete architecture; JSON-serialisable and stored in every checkpoint. */
export interface ModelSpec {
  readonly format: typeof MODEL_FORMAT;
  readonly version: typeof MODEL_SPEC_VERSION;
  /** `[H, W, C]`. */
  readonly inputShape: readonly [number, number, number];
  readonly backbone: BackboneSpec;
  /** One head per task, in the dataset's task order. */
  readonly heads: readonly HeadSpec[];
}

/** Overrides accepted by {@link defaultModelSpec}. */
export interface ModelSpecOverrides {
  readonly backbone?: Partial<BackboneSpec>;
  /** Hidden width of every head (default: backbone width for dense heads, 64 for classifiers). */
  readonly hidden?: number;
}

/**
 * The default architecture for a dataset: an encoder–decoder when any task is dense, otherwise a
 * conv net; width 16 and 2 stages (the sizes the package README's training figures use).
 *
 * @example
 * ```ts
 * const spec = defaultModelSpec(dataset, { backbone: { width: 8 } });
 * const model = createModel(spec, { seed: 0 });
 * ```
 */
export function defaultModelSpec(dataset: Dataset, overrides: ModelSpecOverrides = {}): ModelSpec {
  const dense = dataset.tasks.some((t) => t.kind !== 'classification');
  const backbone: BackboneSpec = {
    kind: dense ? 'encoder-decoder' : 'conv-net',
    width: 16,
    stages: 2,
    ...overrides.backbone,
  };
  const heads: HeadSpec[] = dataset.tasks.map((t) => {
    if (t.kind === 'classification') {
      return { task: t.name, kind: t.kind, outputs: t.classes, hidden: overrides.hidden ?? 64 };
    }
    return {
      task: t.name,
      kind: t.kind,
      outputs: t.kind === 'segmentation' ? t.classes : t.kind === 'depth' ? 1 : 3,
      hidden: overrides.hidden ?? backbone.width,
      size: [t.labelShape[0]!, t.labelShape[1]!] as const,
    };
  });
  return validateModelSpec({
    format: MODEL_FORMAT,
    version: MODEL_SPEC_VERSION,
    inputShape: [...dataset.inputShape] as [number, number, number],
    backbone,
    heads,
  });
}

function posInt(field: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ConfigError(field, v, 'must be a positive integer');
  }
}

/**
 * Checks a spec (e.g. read from a checkpoint or a JSON file) and returns it typed. Throws a
 * {@link ConfigError} naming the field.
 */
export function validateModelSpec(spec: unknown): ModelSpec {
  if (typeof spec !== 'object' || spec === null) {
    throw new ConfigError('spec', spec, 'must be an object');
  }
  const s = spec as Record<string, unknown>;
  if (s['format'] !== MODEL_FORMAT) {
    throw new ConfigError('spec.format', s['format'], `must be '${MODEL_FORMAT}'`);
  }
  if (s['version'] !== MODEL_SPEC_VERSION) {
    throw new ConfigError(
      'spec.version',
      s['version'],
      `this build reads version ${MODEL_SPEC_VERSION}`,
    );
  }
  const input = s['inputShape'];
  if (!Array.isArray(input) || input.length !== 3) {
    throw new ConfigError('spec.inputShape', input, 'must be [H, W, C]');
  }
  input.forEach((d, i) => posInt(`spec.inputShape[${i}]`, d));
  const b = s['backbone'] as Record<string, unknown> | undefined;
  if (typeof b !== 'object' || b === null) throw new ConfigError('spec.backbone', b, 'is missing');
  if (b['kind'] !== 'encoder-decoder' && b['kind'] !== 'conv-net') {
    throw new ConfigError(
      'spec.backbone.kind',
      b['kind'],
      "must be 'encoder-decoder' or 'conv-net'",
    );
  }
  posInt('spec.backbone.width', b['width']);
  posInt('spec.backbone.stages', b['stages']);
  if ((b['stages'] as number) > 6)
    throw new ConfigError('spec.backbone.stages', b['stages'], 'at most 6');
  const heads = s['heads'];
  if (!Array.isArray(heads) || heads.length === 0) {
    throw new ConfigError('spec.heads', heads, 'must be a non-empty array');
  }
  const names = new Set<string>();
  heads.forEach((h: Record<string, unknown>, i) => {
    const where = `spec.heads[${i}]`;
    const task = h['task'];
    if (typeof task !== 'string' || task === '' || task === SHARED_GROUP) {
      throw new ConfigError(
        `${where}.task`,
        task,
        `must be a task name other than '${SHARED_GROUP}'`,
      );
    }
    if (names.has(task)) throw new ConfigError(`${where}.task`, task, 'duplicate head');
    names.add(task);
    const kind = h['kind'];
    if (!['classification', 'segmentation', 'depth', 'normals'].includes(kind as string)) {
      throw new ConfigError(`${where}.kind`, kind, 'unknown task kind');
    }
    posInt(`${where}.outputs`, h['outputs']);
    posInt(`${where}.hidden`, h['hidden']);
    const want = kind === 'depth' ? 1 : kind === 'normals' ? 3 : undefined;
    if (want !== undefined && h['outputs'] !== want) {
      throw new ConfigError(`${where}.outputs`, h['outputs'], `a ${String(kind)} head has ${want}`);
    }
    if (kind === 'classification') {
      if (h['size'] !== undefined)
        throw new ConfigError(`${where}.size`, h['size'], 'not for classification');
    } else {
      const size = h['size'];
      if (!Array.isArray(size) || size.length !== 2) {
        throw new ConfigError(`${where}.size`, size, 'a dense head needs its label size [h, w]');
      }
      size.forEach((d, k) => posInt(`${where}.size[${k}]`, d));
      if (b['kind'] === 'conv-net') {
        throw new ConfigError(
          `${where}.kind`,
          kind,
          "a dense head needs the 'encoder-decoder' backbone",
        );
      }
    }
  });
  return spec as ModelSpec;
}

/** How a parameter is initialised. */
export type ParamInit = 'he-normal' | 'zeros';

/** A parameter of a spec: its layout entry plus its initialiser and fan-in. */
export interface ModelParam extends ParamSpec {
  readonly init: ParamInit;
  /** Fan-in for He initialisation. */
  readonly fanIn: number;
}

/** Channels of encoder level `i` (0 = stem). */
function levelChannels(spec: ModelSpec, i: number): number {
  return spec.backbone.width * 2 ** i;
}

/** Spatial size after `i` stride-2 'same' convs. */
export function levelSize(spec: ModelSpec, i: number): [number, number] {
  let [h, w] = spec.inputShape;
  for (let k = 0; k < i; k++) {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  return [h, w];
}

/**
 * The parameters of a spec, in a fixed order: the shared backbone first (group `'shared'`), then
 * each head (group = task name). Names are `<group>/<layer>/<w|b>`; shapes follow tfjs (conv
 * filters `[kh, kw, in, out]`, dense `[in, out]`).
 *
 * @example
 * ```ts
 * modelParams(spec).filter((p) => p.group === 'shared').length; // backbone tensors
 * ```
 */
export function modelParams(spec: ModelSpec): ModelParam[] {
  const out: ModelParam[] = [];
  const conv = (group: string, name: string, k: number, cin: number, cout: number): void => {
    out.push({
      name: `${group}/${name}/w`,
      shape: [k, k, cin, cout],
      group,
      init: 'he-normal',
      fanIn: k * k * cin,
    });
    out.push({ name: `${group}/${name}/b`, shape: [cout], group, init: 'zeros', fanIn: 0 });
  };
  const dense = (group: string, name: string, cin: number, cout: number): void => {
    out.push({
      name: `${group}/${name}/w`,
      shape: [cin, cout],
      group,
      init: 'he-normal',
      fanIn: cin,
    });
    out.push({ name: `${group}/${name}/b`, shape: [cout], group, init: 'zeros', fanIn: 0 });
  };
  const s = spec.backbone.stages;
  const c = spec.inputShape[2];
  conv(SHARED_GROUP, 'stem', 3, c, levelChannels(spec, 0));
  for (let i = 1; i <= s; i++) {
    conv(SHARED_GROUP, `down${i}`, 3, levelChannels(spec, i - 1), levelChannels(spec, i));
    conv(SHARED_GROUP, `enc${i}`, 3, levelChannels(spec, i), levelChannels(spec, i));
  }
  if (spec.backbone.kind === 'encoder-decoder') {
    for (let i = s; i >= 1; i--) {
      const cin =
        (i === s ? levelChannels(spec, s) : levelChannels(spec, i)) + levelChannels(spec, i - 1);
      conv(SHARED_GROUP, `up${i}`, 3, cin, levelChannels(spec, i - 1));
    }
  }
  const [bh, bw] = levelSize(spec, s);
  for (const head of spec.heads) {
    if (head.kind === 'classification') {
      dense(head.task, 'fc1', bh * bw * levelChannels(spec, s), head.hidden);
      dense(head.task, 'fc2', head.hidden, head.outputs);
    } else {
      conv(head.task, 'conv', 3, levelChannels(spec, 0), head.hidden);
      conv(head.task, 'out', 1, head.hidden, head.outputs);
    }
  }
  return out;
}

/**
 * The names of the parameters that the outputs of `tasks` depend on: the encoder, the decoder when
 * a dense head is among them, and those heads. Gradients of other parameters are zero.
 *
 * @example
 * ```ts
 * usedParams(spec, ['left']); // shared encoder + left head (no decoder, no right head)
 * ```
 */
export function usedParams(spec: ModelSpec, tasks: readonly string[]): Set<string> {
  const wanted = new Set(tasks);
  const dense = spec.heads.some((h) => wanted.has(h.task) && h.kind !== 'classification');
  const used = new Set<string>();
  for (const p of modelParams(spec)) {
    const layer = p.name.split('/')[1]!;
    if (p.group === SHARED_GROUP ? dense || !layer.startsWith('up') : wanted.has(p.group)) {
      used.add(p.name);
    }
  }
  return used;
}
