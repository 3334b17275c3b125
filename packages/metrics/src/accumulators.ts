/**
 * Streaming per-task metrics: one accumulator per task and split takes the model's predictions
 * batch by batch and gives the metrics of `METRICS` (./definitions.ts) pooled over **every valid
 * label of the split** (never an average of per-batch values, the pre-2020 MTAN convention), so the
 * result does not depend on the batch size, on the order of the batches, or on how the split was
 * sharded across accumulators that are {@link MetricAccumulator.merge | merged} at the end.
 *
 * State is fixed-size per task (independent of the number of pixels seen) and held in float64:
 * - classification: two counters;
 * - segmentation: a `C × C` confusion matrix `H[g][p]` (`Float64Array`, exact counts up to 2⁵³);
 * - depth: compensated (Neumaier) float64 sums of `|p − g|` and `|p − g| / g`, three δ counters;
 * - normals: a compensated float64 sum of angles, three threshold counters and a 180 000-bin
 *   histogram of angles (0.001° bins over [0°, 180°], `Float64Array`, 1.4 MB) for the median.
 *
 * Every update is a tight loop over the typed arrays, with no allocation per pixel. An update is
 * atomic: when it throws (bad shape, out-of-range class id, non-finite prediction), the state is
 * unchanged.
 *
 * @module
 */
import { ConfigError, ShapeError } from '@mtu/core-tensors';
import type { Task, TaskKind } from '@mtu/datasets';
import { EmptySplitError } from './definitions.js';
import type { TaskMetrics } from './definitions.js';

/**
 * Accumulates one task's metrics over the batches of one split.
 *
 * Inputs of {@link MetricAccumulator.update} per task kind, for `B` instances (the label layout of
 * a `Batch` of `@mtu/datasets`, flattened):
 * - `classification`: `prediction` int32 `[B]` (arg-max class ids), `label` int32 `[B]`;
 * - `segmentation`: `prediction` int32 `[B·h·w]` (arg-max class ids per pixel), `label` int32
 *   `[B·h·w]`;
 * - `depth`: `prediction` float32 `[B·h·w]` (the model's raw output), `label` float32 `[B·h·w]`;
 * - `normals`: `prediction` float32 `[B·h·w·3]` (raw, normalised inside), `label` float32
 *   `[B·h·w·3]` (unit vectors).
 *
 * Valid labels: classification / segmentation labels in `[0, classes)` (so `ignoreIndex` is
 * skipped); depth labels `> 0` and finite; normal labels other than `(0, 0, 0)` (and finite).
 *
 * @example
 * ```ts
 * const acc = createAccumulator(task); // task.kind === 'segmentation', 13 classes
 * for (const { prediction, label } of batches) acc.update(prediction, label);
 * const { values, perClassIoU } = acc.result('test split');
 * values['mIoU']; // mean IoU over classes with a non-zero union, pooled over the split
 * ```
 */
export interface MetricAccumulator {
  readonly task: Task;
  /** Valid labels seen so far (instances for classification, pixels otherwise). */
  readonly count: number;
  /**
   * Adds a batch of `B` instances (see the interface for the layouts per kind). Throws
   * `ShapeError` when the lengths do not fit the task (label length not a multiple of
   * `task.labelSize`, prediction length ≠ label length), `ConfigError` for a wrong array type, a
   * predicted class id outside `[0, classes)` or a non-finite depth / normal prediction. A throwing
   * update leaves the state unchanged.
   */
  update(prediction: Int32Array | Float32Array, label: Int32Array | Float32Array): void;
  /**
   * Adds another accumulator's state (same task, same kind); order of updates/merges never
   * matters. Throws `ConfigError` when the tasks differ. `other` is not modified.
   */
  merge(other: MetricAccumulator): void;
  /**
   * The metrics so far; throws EmptySplitError (from './definitions.js') naming the task when
   * count is 0. `what` names the split in that error, e.g. `'forget split'` → `'forget split,
   * task depth'`.
   */
  result(what?: string): TaskMetrics;
  /** Forgets everything seen so far (back to a new accumulator's state). */
  reset(): void;
}

/** Histogram resolution of normal angles: bins per degree (0.001° bins). */
const BINS_PER_DEGREE = 1000;
/** 0.001° bins over [0°, 180°]; 180° itself falls in the last bin. */
const ANGLE_BINS = 180 * BINS_PER_DEGREE;
const RAD_TO_DEG = 180 / Math.PI;
/** Depth predictions are clamped to at least this before the δ ratio. */
const DEPTH_EPS = 1e-6;
/** δ thresholds 1.25, 1.25², 1.25³ (all exact in binary). */
const DELTA1 = 1.25;
const DELTA2 = 1.5625;
const DELTA3 = 1.953125;

type Prediction = Int32Array | Float32Array;
type Label = Int32Array | Float32Array;

function typeName(a: unknown): string {
  if (a === null || a === undefined) return String(a);
  const ctor = (a as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' ? ctor.name : typeof a;
}

function sameTask(a: Task, b: Task): boolean {
  return (
    a.name === b.name &&
    a.kind === b.kind &&
    a.classes === b.classes &&
    a.ignoreIndex === b.ignoreIndex &&
    a.labelSize === b.labelSize &&
    a.labelShape.length === b.labelShape.length &&
    a.labelShape.every((d, i) => d === b.labelShape[i])
  );
}

function freezeMetrics(
  kind: TaskKind,
  count: number,
  values: Record<string, number>,
  perClassIoU?: (number | null)[],
): TaskMetrics {
  const base: TaskMetrics = { kind, count, values: Object.freeze({ ...values }) };
  return Object.freeze(
    perClassIoU === undefined ? base : { ...base, perClassIoU: Object.freeze(perClassIoU) },
  );
}

/**
 * A compensated (Neumaier) float64 sum held as `[sum, compensation]`. Used to fold a batch's
 * partial sum (itself compensated) into the accumulator's state, so that the result is within a
 * few ulps of the exact sum whatever the batching.
 */
function neumaierAdd(state: Float64Array, x: number): void {
  const s = state[0]!;
  const t = s + x;
  state[1]! += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
  state[0] = t;
}

/** Index of the first non-finite value of `a`, or −1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) return i; // NaN and ±Infinity give NaN
  }
  return -1;
}

abstract class Accumulator implements MetricAccumulator {
  readonly task: Task;
  protected n = 0;

  constructor(task: Task) {
    this.task = task;
  }

  get count(): number {
    return this.n;
  }

  update(prediction: Prediction, label: Label): void {
    const { task } = this;
    const where = `task '${task.name}' (${task.kind})`;
    const categorical = task.kind === 'classification' || task.kind === 'segmentation';
    const want = categorical ? Int32Array : Float32Array;
    if (!(prediction instanceof want)) {
      throw new ConfigError(
        `${where} prediction`,
        typeName(prediction),
        categorical
          ? `must be an Int32Array of predicted class ids (the arg-max of the logits)`
          : `must be a Float32Array (the model's raw output)`,
      );
    }
    if (!(label instanceof want)) {
      throw new ConfigError(`${where} label`, typeName(label), `must be a ${want.name}`);
    }
    if (label.length % task.labelSize !== 0) {
      throw new ShapeError(
        `${where}: label length ${label.length} is not a multiple of the label size ` +
          `${task.labelSize} ([${task.labelShape.join(', ')}] per instance)`,
        { expected: [-1, ...task.labelShape], actual: [label.length] },
      );
    }
    if (prediction.length !== label.length) {
      const per =
        task.kind === 'classification'
          ? 'one class id per instance'
          : task.kind === 'segmentation'
            ? 'one class id per pixel, not logits'
            : task.kind === 'depth'
              ? 'one value per pixel, at the label resolution'
              : 'one 3-vector per pixel, at the label resolution';
      throw new ShapeError(
        `${where}: prediction has ${prediction.length} values but the label has ${label.length} ` +
          `(${label.length / task.labelSize} instances of [${task.labelShape.join(', ')}]); ` +
          `expected ${per}`,
        { expected: [label.length], actual: [prediction.length] },
      );
    }
    this.add(prediction, label);
  }

  merge(other: MetricAccumulator): void {
    if (!(other instanceof Accumulator) || other.constructor !== this.constructor) {
      throw new ConfigError(
        'other',
        typeName(other),
        `cannot merge into the ${this.task.kind} accumulator of task '${this.task.name}'`,
      );
    }
    if (!sameTask(this.task, other.task)) {
      throw new ConfigError(
        'other.task',
        `${other.task.name} (${other.task.kind})`,
        `cannot merge into the accumulator of task '${this.task.name}' (${this.task.kind}): ` +
          `the tasks differ`,
      );
    }
    this.absorb(other as this);
  }

  result(what?: string): TaskMetrics {
    if (this.n === 0) {
      const name = `task ${this.task.name}`;
      throw new EmptySplitError(what === undefined ? name : `${what}, ${name}`);
    }
    return this.compute();
  }

  reset(): void {
    this.n = 0;
    this.clear();
  }

  /** Adds a batch whose types and lengths were checked. Must leave the state as is if it throws. */
  protected abstract add(prediction: Prediction, label: Label): void;
  /** Adds `other`'s state; `other` may be `this`. */
  protected abstract absorb(other: this): void;
  /** The metrics, with `n > 0`. */
  protected abstract compute(): TaskMetrics;
  /** Zeroes everything but `n`. */
  protected abstract clear(): void;

  /** Throws when a predicted class id is outside `[0, classes)`. */
  protected checkClassIds(prediction: Int32Array): void {
    const c = this.task.classes;
    for (let i = 0; i < prediction.length; i++) {
      const p = prediction[i]!;
      if (p < 0 || p >= c) {
        throw new ConfigError(
          `task '${this.task.name}' prediction[${i}]`,
          p,
          `a predicted class id must be in [0, ${c})`,
        );
      }
    }
  }

  /** Throws when a float prediction is NaN or infinite. */
  protected checkFinite(prediction: Float32Array): void {
    const i = firstNonFinite(prediction);
    if (i >= 0) {
      throw new ConfigError(
        `task '${this.task.name}' prediction[${i}]`,
        String(prediction[i]),
        'predictions must be finite (a diverged model has no metrics)',
      );
    }
  }
}

class ClassificationAccumulator extends Accumulator {
  private correct = 0;

  protected add(prediction: Prediction, label: Label): void {
    const p = prediction as Int32Array;
    const g = label as Int32Array;
    this.checkClassIds(p);
    const c = this.task.classes;
    let n = 0;
    let correct = 0;
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      if (gi < 0 || gi >= c) continue;
      n++;
      if (p[i] === gi) correct++;
    }
    this.n += n;
    this.correct += correct;
  }

  protected absorb(other: this): void {
    const { n, correct } = other;
    this.n += n;
    this.correct += correct;
  }

  protected compute(): TaskMetrics {
    return freezeMetrics('classification', this.n, { accuracy: this.correct / this.n });
  }

  protected clear(): void {
    this.correct = 0;
  }
}

class SegmentationAccumulator extends Accumulator {
  /** `H[g·C + p]`: valid pixels with label `g` predicted as `p`. */
  private readonly confusion: Float64Array;

  constructor(task: Task) {
    super(task);
    this.confusion = new Float64Array(task.classes * task.classes);
  }

  protected add(prediction: Prediction, label: Label): void {
    const p = prediction as Int32Array;
    const g = label as Int32Array;
    this.checkClassIds(p);
    const c = this.task.classes;
    const h = this.confusion;
    let n = 0;
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      if (gi < 0 || gi >= c) continue;
      h[gi * c + p[i]!]!++;
      n++;
    }
    this.n += n;
  }

  protected absorb(other: this): void {
    const h = this.confusion;
    const o = other.confusion;
    for (let i = 0; i < h.length; i++) h[i]! += o[i]!;
    this.n += other.n;
  }

  protected compute(): TaskMetrics {
    const c = this.task.classes;
    const h = this.confusion;
    const perClass: (number | null)[] = [];
    let iouSum = 0;
    let present = 0;
    let diagonal = 0;
    for (let k = 0; k < c; k++) {
      let row = 0; // Σ_p H_kp: pixels labelled k
      let col = 0; // Σ_g H_gk: pixels predicted k
      for (let j = 0; j < c; j++) {
        row += h[k * c + j]!;
        col += h[j * c + k]!;
      }
      const hit = h[k * c + k]!;
      const union = row + col - hit;
      diagonal += hit;
      if (union > 0) {
        const iou = hit / union;
        perClass.push(iou);
        iouSum += iou;
        present++;
      } else {
        perClass.push(null);
      }
    }
    // n > 0 ⇒ some class has a labelled pixel ⇒ present ≥ 1.
    return freezeMetrics(
      'segmentation',
      this.n,
      { mIoU: iouSum / present, pixelAccuracy: diagonal / this.n },
      perClass,
    );
  }

  protected clear(): void {
    this.confusion.fill(0);
  }
}

class DepthAccumulator extends Accumulator {
  /** Compensated sums `[sum, compensation]` of `|p − g|` and of `|p − g| / g`. */
  private readonly absSum = new Float64Array(2);
  private readonly relSum = new Float64Array(2);
  private delta1 = 0;
  private delta2 = 0;
  private delta3 = 0;

  protected add(prediction: Prediction, label: Label): void {
    const p = prediction as Float32Array;
    const g = label as Float32Array;
    this.checkFinite(p);
    let n = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    // Neumaier sums over the batch; every term is ≥ 0.
    let abs = 0;
    let absC = 0;
    let rel = 0;
    let relC = 0;
    for (let i = 0; i < g.length; i++) {
      const gi = g[i]!;
      if (!(gi > 0) || gi === Infinity) continue; // 0 (and NaN, negatives) = no label
      const pi = p[i]!;
      const e = Math.abs(pi - gi);
      let t = abs + e;
      absC += abs >= e ? abs - t + e : e - t + abs;
      abs = t;
      const r = e / gi;
      t = rel + r;
      relC += rel >= r ? rel - t + r : r - t + rel;
      rel = t;
      const q = pi > DEPTH_EPS ? pi : DEPTH_EPS;
      const ratio = q > gi ? q / gi : gi / q; // max(q/g, g/q)
      if (ratio < DELTA1) d1++;
      if (ratio < DELTA2) d2++;
      if (ratio < DELTA3) d3++;
      n++;
    }
    neumaierAdd(this.absSum, abs);
    neumaierAdd(this.absSum, absC);
    neumaierAdd(this.relSum, rel);
    neumaierAdd(this.relSum, relC);
    this.n += n;
    this.delta1 += d1;
    this.delta2 += d2;
    this.delta3 += d3;
  }

  protected absorb(other: this): void {
    const [a0, a1] = other.absSum;
    const [r0, r1] = other.relSum;
    neumaierAdd(this.absSum, a0!);
    neumaierAdd(this.absSum, a1!);
    neumaierAdd(this.relSum, r0!);
    neumaierAdd(this.relSum, r1!);
    const { n, delta1, delta2, delta3 } = other;
    this.n += n;
    this.delta1 += delta1;
    this.delta2 += delta2;
    this.delta3 += delta3;
  }

  protected compute(): TaskMetrics {
    const n = this.n;
    return freezeMetrics('depth', n, {
      absErr: (this.absSum[0]! + this.absSum[1]!) / n,
      relErr: (this.relSum[0]! + this.relSum[1]!) / n,
      delta1: this.delta1 / n,
      delta2: this.delta2 / n,
      delta3: this.delta3 / n,
    });
  }

  protected clear(): void {
    this.absSum.fill(0);
    this.relSum.fill(0);
    this.delta1 = 0;
    this.delta2 = 0;
    this.delta3 = 0;
  }
}

class NormalsAccumulator extends Accumulator {
  /** Compensated sum `[sum, compensation]` of angles in degrees. */
  private readonly angleSum = new Float64Array(2);
  private within1 = 0;
  private within2 = 0;
  private within3 = 0;
  /** Angle histogram: bin `b` counts angles in `[b, b + 1) · 0.001°` (180° in the last bin). */
  private readonly histogram = new Float64Array(ANGLE_BINS);

  protected add(prediction: Prediction, label: Label): void {
    const p = prediction as Float32Array;
    const g = label as Float32Array;
    this.checkFinite(p); // before touching the histogram: a throwing update changes nothing
    const hist = this.histogram;
    let n = 0;
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    let sum = 0;
    let sumC = 0;
    for (let j = 0; j < g.length; j += 3) {
      const gx = g[j]!;
      const gy = g[j + 1]!;
      const gz = g[j + 2]!;
      const g2 = gx * gx + gy * gy + gz * gz;
      if (!(g2 > 0) || g2 === Infinity) continue; // (0, 0, 0) (or non-finite) = no label
      const px = p[j]!;
      const py = p[j + 1]!;
      const pz = p[j + 2]!;
      const p2 = px * px + py * py + pz * pz;
      let angle: number;
      if (p2 > 0) {
        let dot = (px * gx + py * gy + pz * gz) / Math.sqrt(p2);
        if (dot > 1) dot = 1;
        else if (dot < -1) dot = -1;
        angle = Math.acos(dot) * RAD_TO_DEG;
      } else {
        angle = 90; // a zero prediction has no direction: orthogonal to every label
      }
      const t = sum + angle;
      sumC += sum >= angle ? sum - t + angle : angle - t + sum;
      sum = t;
      if (angle < 11.25) w1++;
      if (angle < 22.5) w2++;
      if (angle < 30) w3++;
      const bin = (angle * BINS_PER_DEGREE) | 0; // angle ∈ [0, 180]
      hist[bin < ANGLE_BINS ? bin : ANGLE_BINS - 1]!++;
      n++;
    }
    neumaierAdd(this.angleSum, sum);
    neumaierAdd(this.angleSum, sumC);
    this.n += n;
    this.within1 += w1;
    this.within2 += w2;
    this.within3 += w3;
  }

  protected absorb(other: this): void {
    const [s0, s1] = other.angleSum;
    neumaierAdd(this.angleSum, s0!);
    neumaierAdd(this.angleSum, s1!);
    const h = this.histogram;
    const o = other.histogram;
    for (let i = 0; i < ANGLE_BINS; i++) h[i]! += o[i]!;
    const { n, within1, within2, within3 } = other;
    this.n += n;
    this.within1 += within1;
    this.within2 += within2;
    this.within3 += within3;
  }

  /**
   * The median: the midpoint of the bin of the middle order statistic (for an even count, the mean
   * of the two middle order statistics' bin midpoints), so within 0.0005° of the exact median.
   */
  private median(): number {
    const n = this.n;
    const lo = Math.floor((n - 1) / 2); // 0-based ranks of the middle order statistics
    const hi = Math.floor(n / 2);
    const h = this.histogram;
    let seen = 0;
    let loBin = -1;
    let hiBin = ANGLE_BINS - 1;
    for (let b = 0; b < ANGLE_BINS; b++) {
      seen += h[b]!;
      if (loBin < 0 && seen > lo) loBin = b;
      if (seen > hi) {
        hiBin = b;
        break;
      }
    }
    return (loBin + hiBin + 1) / (2 * BINS_PER_DEGREE);
  }

  protected compute(): TaskMetrics {
    const n = this.n;
    return freezeMetrics('normals', n, {
      meanAngle: (this.angleSum[0]! + this.angleSum[1]!) / n,
      medianAngle: this.median(),
      within11_25: this.within1 / n,
      within22_5: this.within2 / n,
      within30: this.within3 / n,
    });
  }

  protected clear(): void {
    this.angleSum.fill(0);
    this.within1 = 0;
    this.within2 = 0;
    this.within3 = 0;
    this.histogram.fill(0);
  }
}

/**
 * A new, empty {@link MetricAccumulator} for `task` (a resolved task of `@mtu/datasets`).
 *
 * Per kind (all pooled over every valid label of the split; names as in `METRICS`):
 * - `classification` → `accuracy`;
 * - `segmentation` → `mIoU` (mean IoU over the classes with a non-zero union, so a class absent
 *   from both the labels and the predictions of a small split never makes it NaN),
 *   `pixelAccuracy`, and `perClassIoU` (`null` for a zero-union class);
 * - `depth` → `absErr`, `relErr` (global per-pixel means, LibMTL pooling), `delta1` … `delta3`
 *   (the prediction is clamped to ≥ 1e-6 before `max(p/g, g/p)`, so a negative prediction is a
 *   miss, not NaN);
 * - `normals` → `meanAngle`, `medianAngle` (from a 0.001°-bin histogram: within 0.0005° of the
 *   exact median), `within11_25`, `within22_5`, `within30` (angle strictly below the threshold).
 *   The angle is `acos(clamp(⟨p/‖p‖, g⟩, −1, 1))` in degrees, `g` used as is (unit in the data); a
 *   zero prediction vector has no direction and counts as 90°.
 *
 * Categorical predictions are class ids (the arg-max of the logits); a class id outside
 * `[0, classes)` is an error, never dropped. Depth and normal predictions must be finite.
 *
 * @example
 * ```ts
 * const task = resolveTask({ name: 'depth', kind: 'depth', size: [1, 5] }, [1, 5, 3]);
 * const acc = createAccumulator(task);
 * acc.update(Float32Array.of(1.2, 1.5, 3, 4, 0.8), Float32Array.of(1, 2, 0, 4, 0.5));
 * acc.result().values['absErr']; // 0.25 (the pixel labelled 0 is skipped)
 * ```
 */
export function createAccumulator(task: Task): MetricAccumulator {
  const categorical = task.kind === 'classification' || task.kind === 'segmentation';
  if (categorical && !(Number.isInteger(task.classes) && task.classes >= 1)) {
    throw new ConfigError(
      `task '${task.name}'.classes`,
      task.classes,
      'must be a positive integer',
    );
  }
  if (!(Number.isInteger(task.labelSize) && task.labelSize >= 1)) {
    throw new ConfigError(
      `task '${task.name}'.labelSize`,
      task.labelSize,
      'must be a positive integer',
    );
  }
  switch (task.kind) {
    case 'classification':
      return new ClassificationAccumulator(task);
    case 'segmentation':
      return new SegmentationAccumulator(task);
    case 'depth':
      return new DepthAccumulator(task);
    case 'normals':
      if (task.labelSize % 3 !== 0) {
        throw new ConfigError(
          `task '${task.name}'.labelSize`,
          task.labelSize,
          'a normals label is a 3-vector per pixel',
        );
      }
      return new NormalsAccumulator(task);
    default:
      throw new ConfigError(`task '${task.name}'.kind`, task.kind, 'unknown task kind');
  }
}
