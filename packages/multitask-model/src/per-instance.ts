/**
 * Per-instance gradients of a batch from one batched forward/backward pass.
 *
 * The model has no batch coupling (no batch norm), so the backward pass of `Σ_i ℓ_i` carries each
 * instance's own output gradient at every layer. The conv and dense layers are swapped (through
 * `forwardWith`) for ones whose gradient functions hand each instance's `(x[i], dy[i])` to
 * `conv2dPerExampleGradients` / `densePerExampleGradients` of `@mtu/core-tensors`, keep the
 * `[B, …]` results, and return zero weight gradients (the summed ones are never needed). The
 * input gradient is propagated as usual, except into the model input.
 *
 * @module
 */
import { conv2dPerExampleGradients, densePerExampleGradients, tf } from '@mtu/core-tensors';
import type { NamedTensorMap, Tensor, Tensor2D, Tensor4D } from '@mtu/core-tensors';
import type { Batch, Dataset } from '@mtu/datasets';
import { getTask } from '@mtu/datasets';
import { instanceLosses } from './losses.js';
import type { LayerOps, MultiTaskModel } from './model.js';
import { STANDARD_LAYERS, backboneWith, forwardWith, headsWith, selectHeads } from './model.js';
import { usedParams } from './spec.js';

/** What {@link perInstanceGradientRows} returns; the caller owns `rows`. */
export interface PerInstanceRows {
  /** `[B, D]`: row `i` is instance `i`'s gradient over `names` (in that order, flattened). */
  readonly rows: Tensor2D;
  /** Instance `i`'s weighted loss `Σ_t w_t · m_{t,i} · ℓ_{t,i}` (0 without a supervised label). */
  readonly losses: Float32Array;
}

/**
 * Each instance's gradient of its own weighted loss `Σ_t w_t · m_{t,i} · ℓ_{t,i}` (what
 * `lossAndGradients` gives for a batch of that instance alone), for the parameters `names`, from
 * one forward and one backward pass over the whole batch.
 *
 * @param names - Parameter names in the order of the row layout (e.g. a group layout's `names`).
 * @param tasks - The tasks whose losses are summed (already validated).
 */
export function perInstanceGradientRows(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  names: readonly string[],
  tasks: readonly string[],
  weights: Readonly<Record<string, number>>,
  params?: NamedTensorMap,
): PerInstanceRows {
  const base: NamedTensorMap = params ?? model.variables;
  const used = usedParams(model.spec, tasks);
  const wanted = new Set(names.filter((n) => used.has(n)));
  const n = batch.ids.length;
  const records = new Map<string, Tensor>();
  let losses: Tensor | undefined;
  try {
    const rows = tf.tidy(() => {
      const ops = recordingLayers(wanted, records);
      // Differentiate w.r.t. the filters / weights of the recorded layers: tfjs then runs the
      // backward pass from the loss down to the earliest of them, and no further.
      const xsNames = [...used].filter(
        (p) => p.endsWith('/w') && (wanted.has(p) || wanted.has(`${p.slice(0, -2)}/b`)),
      );
      const f = (...xs: Tensor[]): tf.Scalar => {
        const p: NamedTensorMap = { ...base };
        xsNames.forEach((name, i) => (p[name] = xs[i]!));
        const out = forwardWith(model.spec, p, batch.x, tasks, ops);
        let perInstance: Tensor = tf.zeros([n]);
        for (const t of tasks) {
          const loss = supervisedLosses(dataset, t, out[t]!, batch);
          perInstance = tf.add(perInstance, tf.mul(loss, weights[t] ?? 1));
        }
        losses = tf.keep(tf.clone(perInstance));
        return tf.sum(perInstance);
      };
      if (xsNames.length > 0) {
        tf.grads(f)(xsNames.map((name) => base[name]!));
      } else {
        f();
      }
      const parts = names.map((name) => {
        const size = model.layout.byName.get(name)?.size ?? 0;
        const r = records.get(name);
        return r === undefined ? tf.zeros([n, size]) : tf.reshape(r, [n, size]);
      });
      return (parts.length === 0 ? tf.zeros([n, 0]) : tf.concat(parts, 1)) as Tensor2D;
    });
    const values = losses!.dataSync() as Float32Array;
    return { rows, losses: Float32Array.from(values) };
  } finally {
    tf.dispose([...records.values()]);
    losses?.dispose();
  }
}

/**
 * Each instance's loss of task `t` times its supervision weight `m_{t,i}` (the batch mask where
 * there is one, times whether the instance has a valid label): `[B]`.
 */
function supervisedLosses(dataset: Dataset, t: string, output: Tensor, batch: Batch): Tensor {
  const { loss, count } = instanceLosses(getTask(dataset, t), output, batch.labels[t]!);
  const has = tf.cast(tf.greater(count, 0), 'float32');
  const mask = batch.mask[t];
  return tf.mul(loss, mask === undefined ? has : tf.mul(mask, has));
}

/**
 * Layers recording per-example weight gradients into `records` (kept tensors, by parameter name)
 * for the parameters in `wanted`, and zero weight gradients for every layer.
 */
function recordingLayers(wanted: ReadonlySet<string>, records: Map<string, Tensor>): LayerOps {
  const keep = (name: string, t: Tensor): void => {
    if (wanted.has(name)) records.set(name, tf.keep(t));
  };
  return {
    conv(x, filter, bias, name, stride, relu, first) {
      const op = tf.customGrad((xIn, wIn, bIn, save) => {
        const [x4, w4] = [xIn as Tensor4D, wIn as Tensor4D];
        const z = STANDARD_LAYERS.conv(x4, w4, bIn as Tensor, name, stride, relu, first);
        (save as tf.GradSaveFunc)([x4, w4, z]);
        return {
          value: z,
          gradFunc: (dy: Tensor4D, saved: Tensor[]) => {
            const [xs, ws, ys] = saved as [Tensor4D, Tensor4D, Tensor4D];
            const dz = relu ? tf.mul<Tensor4D>(dy, tf.step(ys)) : dy;
            if (wanted.has(`${name}/w`) || wanted.has(`${name}/b`)) {
              const shape = ws.shape;
              const g = conv2dPerExampleGradients(xs, dz, shape, stride, 'same');
              keep(`${name}/w`, g.filter);
              keep(`${name}/b`, g.bias);
            }
            const dx = first
              ? tf.zerosLike(xs)
              : tf.conv2dTranspose(
                  dz,
                  ws,
                  [...xs.shape] as [number, number, number, number],
                  stride,
                  'same',
                );
            return [dx, tf.zerosLike(ws), tf.zerosLike(bIn as Tensor)];
          },
        };
      });
      return op(x, filter, bias);
    },
    dense(x, weight, bias, name, relu) {
      const op = tf.customGrad((xIn, wIn, bIn, save) => {
        const [x2, w2] = [xIn as Tensor2D, wIn as Tensor2D];
        const z = tf.fused.matMul({
          a: x2,
          b: w2,
          bias: bIn as Tensor,
          activation: relu ? 'relu' : 'linear',
        }) as Tensor2D;
        (save as tf.GradSaveFunc)([x2, w2, z]);
        return {
          value: z,
          gradFunc: (dy: Tensor2D, saved: Tensor[]) => {
            const [xs, ws, ys] = saved as [Tensor2D, Tensor2D, Tensor2D];
            const dz = relu ? tf.mul<Tensor2D>(dy, tf.step(ys)) : dy;
            if (wanted.has(`${name}/w`) || wanted.has(`${name}/b`)) {
              const g = densePerExampleGradients(xs, dz);
              keep(`${name}/w`, g.weight);
              keep(`${name}/b`, g.bias);
            }
            const dx = tf.matMul(dz, ws, false, true);
            return [dx, tf.zerosLike(ws), tf.zerosLike(bIn as Tensor)];
          },
        };
      });
      return op(x, weight, bias);
    },
  };
}

/** The batched objective of {@link sharedPassRows}: its heads, what it differentiates, its loss. */
export interface SharedPassObjective {
  /** The heads the loss reads (their outputs on the batch are passed to `loss`). */
  readonly tasks: readonly string[];
  /** Parameters to differentiate (each reached by `tasks`; see `usedParams`). */
  readonly names: readonly string[];
  /** The scalar objective from the heads' outputs on the batch. */
  readonly loss: (outputs: Record<string, Tensor>) => tf.Scalar;
}

/** One per-instance gradient of {@link sharedPassRows}: a task's loss over parameters `names`. */
export interface SharedPassRequest {
  readonly task: string;
  /** Parameter names in the order of the row layout. */
  readonly names: readonly string[];
  /**
   * Positions in the batch (0 ≤ i < B, at least one) whose gradients the request wants, in the
   * order of its rows; every instance when absent.
   */
  readonly rows?: Int32Array;
  /** The request's instances with the labels and masks its per-instance losses use. */
  readonly supervised: Batch;
}

/** What {@link sharedPassRows} returns; the caller owns `grads` and `rows`. */
export interface SharedPassResult {
  readonly value: number;
  /** The objective's gradients, in the order of `objective.names`. */
  readonly grads: Tensor[];
  /**
   * Per request, `[B_k, D_k]`: row `j` is the gradient of its own loss of that task of the instance
   * at batch position `rows[j]` (`B_k = B` and position `j` without `rows`).
   */
  readonly rows: Tensor2D[];
}

/**
 * The gradient of a batched objective and per-instance gradients of single tasks on the same batch,
 * from **one forward pass of the backbone** and one backward pass: what {@link valueAndGradients}
 * of `objective` and one {@link perInstanceGradientRows} per request compute separately, to the
 * same bits.
 *
 * The batch is tiled K + 1 times (K requests): copy 0 carries the objective, copy k request k. The
 * backbone's conv layers compute their B distinct rows once and repeat them (the copies are equal
 * up to the heads), so the forward pass costs one backbone; in the backward pass every copy carries
 * its own head's gradient, each layer's input gradient is computed for all (K + 1)·B rows at once,
 * and its weight gradients per copy: batched for copy 0 (the kernels tfjs' own conv2d and bias
 * gradients run), per example for the others. Each head runs on its own copy only (tfjs' layers
 * for copy 0, recording layers for the others).
 *
 * A request with `rows` tiles only those instances: its copy costs what a batch of that many does.
 *
 * @param batch - The objective's batch (labels as its loss needs them).
 */
export function sharedPassRows(
  model: MultiTaskModel,
  dataset: Dataset,
  batch: Batch,
  objective: SharedPassObjective,
  requests: readonly SharedPassRequest[],
): SharedPassResult {
  const base: NamedTensorMap = model.variables;
  const n = batch.ids.length;
  // The batch positions of each copy (copy 0: the whole batch, for the objective).
  const picks: (Int32Array | undefined)[] = [undefined, ...requests.map((r) => r.rows)];
  const sizes = picks.map((p) => p?.length ?? n);
  const records = requests.map(() => new Map<string, Tensor>());
  const wanted = requests.map((r) => {
    const used = usedParams(model.spec, [r.task]);
    return new Set(r.names.filter((name) => used.has(name)));
  });
  const objectiveNames = new Set(objective.names);
  // Differentiate the objective's parameters and the filters of every recorded layer (tfjs then
  // runs the backward pass down to the earliest of them).
  const extra = new Set<string>();
  wanted.forEach((w) => {
    for (const name of w) {
      const filter = name.endsWith('/b') ? `${name.slice(0, -2)}/w` : name;
      if (!objectiveNames.has(filter)) extra.add(filter);
    }
  });
  const xsNames = [...objective.names, ...extra];
  let value: tf.Scalar | undefined;
  try {
    const { grads, rows } = tf.tidy(() => {
      const f = (...xs: Tensor[]): tf.Scalar => {
        const p: NamedTensorMap = { ...base };
        xsNames.forEach((name, i) => (p[name] = xs[i]!));
        const tiled = tf.concat<Tensor4D>(
          picks.map((rows) => (rows === undefined ? batch.x : rowsAt(batch.x, rows))),
        );
        const heads = [objective.tasks, ...requests.map((r) => [r.task])].map((t) =>
          selectHeads(model.spec, t),
        );
        const features = backboneWith(
          model.spec,
          p,
          tiled,
          sharedBackboneLayers(n, picks, objectiveNames, wanted, records),
          heads.flat().some((h) => h.kind !== 'classification'),
        );
        // Copy k's rows of the features its heads read.
        const segment = (k: number): typeof features => {
          const rowsOf = (t: Tensor4D): Tensor4D =>
            tf.slice(t, [offsetOf(sizes, k), 0, 0, 0], [sizes[k]!, -1, -1, -1]);
          const dense = heads[k]!.some((h) => h.kind !== 'classification');
          const classify = heads[k]!.some((h) => h.kind === 'classification');
          return {
            bottleneck: classify ? rowsOf(features.bottleneck) : features.bottleneck,
            ...(dense ? { decoded: rowsOf(features.decoded!) } : {}),
          };
        };
        const out = headsWith(model.spec, p, segment(0), heads[0]!, STANDARD_LAYERS);
        let total = objective.loss(out);
        value = tf.keep(tf.clone(total));
        requests.forEach((r, k) => {
          const o = headsWith(
            model.spec,
            p,
            segment(k + 1),
            heads[k + 1]!,
            recordingLayers(wanted[k]!, records[k]!),
          );
          total = tf.add(
            total,
            tf.sum(supervisedLosses(dataset, r.task, o[r.task]!, r.supervised)),
          );
        });
        return total;
      };
      const all = tf.grads(f)(xsNames.map((name) => base[name]!));
      const rows = requests.map((r, k) => {
        const parts = r.names.map((name) => {
          const size = model.layout.byName.get(name)?.size ?? 0;
          const rec = records[k]!.get(name);
          const m = sizes[k + 1]!;
          return rec === undefined ? tf.zeros([m, size]) : tf.reshape(rec, [m, size]);
        });
        const m = sizes[k + 1]!;
        return (parts.length === 0 ? tf.zeros([m, 0]) : tf.concat(parts, 1)) as Tensor2D;
      });
      return { grads: all.slice(0, objective.names.length), rows };
    });
    return { value: value!.dataSync()[0]!, grads, rows };
  } finally {
    for (const r of records) tf.dispose([...r.values()]);
    value?.dispose();
  }
}

/**
 * Rows `rows` of `x` (first axis), in that order: slices of the runs of consecutive rows, joined
 * (tfjs' wasm `gather` copies element by element; slices and concat copy blocks).
 */
function rowsAt<T extends Tensor>(x: T, rows: Int32Array): T {
  const parts: T[] = [];
  const rest = x.shape.slice(1).map(() => -1);
  const zeros = rest.map(() => 0);
  for (let start = 0; start < rows.length;) {
    let end = start + 1;
    while (end < rows.length && rows[end] === rows[end - 1]! + 1) end++;
    parts.push(tf.slice(x, [rows[start]!, ...zeros], [end - start, ...rest]));
    start = end;
  }
  return parts.length === 1 ? parts[0]! : tf.concat(parts);
}

/** The first row of copy `k` in a tiled batch whose copies have `sizes` rows. */
function offsetOf(sizes: readonly number[], k: number): number {
  let offset = 0;
  for (let j = 0; j < k; j++) offset += sizes[j]!;
  return offset;
}

/**
 * The backbone's conv layers of {@link sharedPassRows}: input made of copies of the batch, copy k
 * holding the batch positions `picks[k]` (all `n` when undefined; copy 0 always all); the layer
 * computes its `n` distinct rows (copy 0) and gathers the others from them. Backward: the input
 * gradient of all rows; the weight gradients of copy 0 batched (returned to tfjs, for the
 * objective's parameters), and of copy k ≥ 1 per example (recorded into `records[k − 1]` for the
 * parameters it wants).
 */
function sharedBackboneLayers(
  n: number,
  picks: readonly (Int32Array | undefined)[],
  objectiveNames: ReadonlySet<string>,
  wanted: readonly ReadonlySet<string>[],
  records: readonly Map<string, Tensor>[],
): LayerOps {
  return {
    conv(x, filter, bias, name, stride, relu, first) {
      const op = tf.customGrad((xIn, wIn, bIn, save) => {
        const x4 = xIn as Tensor4D;
        const w4 = wIn as Tensor4D;
        const distinct = tf.slice(x4, [0, 0, 0, 0], [n, -1, -1, -1]);
        const zn = STANDARD_LAYERS.conv(distinct, w4, bIn as Tensor, name, stride, relu, first);
        const z =
          picks.length === 1
            ? zn
            : tf.concat(picks.map((rows) => (rows === undefined ? zn : rowsAt(zn, rows))));
        (save as tf.GradSaveFunc)([distinct, w4, z]);
        return {
          value: z,
          gradFunc: (dy: Tensor4D, saved: Tensor[]) => {
            const [xs, ws, ys] = saved as [Tensor4D, Tensor4D, Tensor4D];
            const dz = relu ? tf.mul<Tensor4D>(dy, tf.step(ys)) : dy;
            const sizes = picks.map((rows) => rows?.length ?? n);
            const rowsOf = (k: number): Tensor4D =>
              tf.slice(dz, [offsetOf(sizes, k), 0, 0, 0], [sizes[k]!, -1, -1, -1]);
            let dw: Tensor = tf.zerosLike(ws);
            let db: Tensor = tf.zerosLike(bIn as Tensor);
            if (objectiveNames.has(`${name}/w`) || objectiveNames.has(`${name}/b`)) {
              // What tfjs' own gradients of conv2d and the bias add compute for copy 0 alone (inside
              // a gradient, tfjs runs the fused layer as conv2d + add + relu).
              const d0 = rowsOf(0);
              dw = tf.engine().runKernel<Tensor>(tf.Conv2DBackpropFilter, { x: xs, dy: d0 }, {
                strides: stride,
                pad: 'same',
                dataFormat: 'NHWC',
                dimRoundingMode: undefined,
                filterShape: ws.shape,
              } as unknown as tf.NamedAttrMap);
              db = tf.reshape(tf.sum(d0, [0, 1, 2]), (bIn as Tensor).shape);
            }
            const recorded = wanted
              .map((_, k) => k)
              .filter((k) => wanted[k]!.has(`${name}/w`) || wanted[k]!.has(`${name}/b`));
            for (const k of recorded) {
              const rows = picks[k + 1];
              const xk = rows === undefined ? xs : rowsAt(xs, rows);
              const g = conv2dPerExampleGradients(xk, rowsOf(k + 1), ws.shape, stride, 'same');
              if (wanted[k]!.has(`${name}/w`)) records[k]!.set(`${name}/w`, tf.keep(g.filter));
              if (wanted[k]!.has(`${name}/b`)) records[k]!.set(`${name}/b`, tf.keep(g.bias));
            }
            const dx = first
              ? tf.zerosLike(xIn as Tensor4D)
              : tf.conv2dTranspose(
                  dz,
                  ws,
                  [dz.shape[0], ...xs.shape.slice(1)] as [number, number, number, number],
                  stride,
                  'same',
                );
            return [dx, dw, db];
          },
        };
      });
      return op(x, filter, bias);
    },
    dense() {
      throw new Error('sharedPassRows: the backbone has no dense layers');
    },
  };
}
