/**
 * The reference training step `ref-step-v1`: a small dense-prediction multi-task network and one
 * plain-SGD step on fixed random data. It is the yardstick for backend speed (`pnpm bench:step`)
 * and for cross-backend agreement (wasm vs cpu losses).
 *
 * Architecture (NHWC, 'same' padding, every conv with bias + ReLU):
 *
 * | layer | op                 | output (batch 16, 64×64 input) |
 * | ----- | ------------------ | ------------------------------ |
 * | enc1  | conv 3×3 s2 3→32   | 16×32×32×32                    |
 * | enc2  | conv 3×3 s2 32→64  | 16×16×16×64                    |
 * | enc3  | conv 3×3 s1 64→64  | 16×16×16×64                    |
 * | enc4  | conv 3×3 s1 64→64  | 16×16×16×64                    |
 *
 * Three 1×1 heads (with bias, no activation) on the enc4 features:
 * - 13-class semantic segmentation, softmax cross-entropy (mean over pixels);
 * - 1-channel depth, L1 (mean);
 * - 3-channel surface normals, cosine loss `1 − ⟨p/‖p‖, n⟩` with unit targets `n` (mean).
 *
 * Loss = sum of the three. Update: plain SGD, learning rate 0.01. Initialisation: He-normal
 * weights (std `sqrt(2 / fan_in)`), zero biases. Inputs, labels and targets are fixed seeded
 * random tensors drawn once. At batch 16 and 64×64 one step is 2.348 GFLOP (forward 0.792,
 * backward 1.556: every conv/head needs its filter gradient, all but the first layer their input
 * gradient); see {@link refStepFlops}.
 *
 * @module
 */
import { ConfigError } from './errors.js';
import { CONV2D_BACKPROP_FILTER_BIAS } from './kernels/conv2d-backprop-filter.js';
import { tf } from './tf.js';

/** The reference step's model id, as reported by `pnpm bench:step`. */
export const REF_STEP_MODEL = 'ref-step-v1';

/** Classes of the segmentation head. */
const SEG_CLASSES = 13;
/** Encoder layers: [input channels, output channels, stride]. */
const ENCODER: readonly (readonly [number, number, number])[] = [
  [3, 32, 2],
  [32, 64, 2],
  [64, 64, 1],
  [64, 64, 1],
];
const FEATURES = 64;
/** Output channels of the three heads: segmentation, depth, normals. */
const HEADS = [SEG_CLASSES, 1, 3] as const;

/** Options of {@link createRefStep}. */
export interface RefStepOptions {
  /** Batch size. Default 16. */
  readonly batch?: number;
  /** Input height and width, a multiple of 4. Default 64. */
  readonly size?: number;
  /** Seed of the weights and of the fixed data. Default 0. */
  readonly seed?: number;
  /** SGD learning rate. Default 0.01. */
  readonly learningRate?: number;
  /**
   * Compute the loss from stock tfjs ops and let tfjs differentiate it, instead of the default
   * hand-written gradients (fused conv+bias+ReLU, transpose-free heads, single-pass losses) that
   * are much faster on the wasm backend. Same mathematics; used to check the hand-written
   * gradients. Default false.
   */
  readonly autodiff?: boolean;
}

/** A ready-to-run reference step; see {@link createRefStep}. */
export interface RefStep {
  /**
   * Runs one forward/backward pass and SGD update on the active backend and returns the loss
   * of this step (computed before the update). Reading the loss synchronises with the backend,
   * so the call's duration is the step's full cost.
   */
  step(): number;
  /** Floating-point operations of one step at this batch and size (see {@link refStepFlops}). */
  readonly flops: number;
  /** The trainable variables, in a fixed order (weights and biases of enc1..enc4, then heads). */
  readonly variables: readonly tf.Variable[];
  /** Disposes the variables and the fixed data. */
  dispose(): void;
}

/** FLOPs of one reference step (a multiply-add counts 2; only convolutions/heads counted). */
export interface RefStepFlops {
  /** Forward convolutions and heads. */
  readonly forward: number;
  /** Filter gradients of every layer plus input gradients of all but the first. */
  readonly backward: number;
  /** `forward + backward`. */
  readonly total: number;
}

/**
 * FLOPs of one reference step at the given batch and input size. For batch 16 at 64×64:
 * forward 0.792 GFLOP, backward 1.556, total 2.348.
 *
 * @param batch - batch size N (inputs are N×size×size×3).
 * @param size - input height and width.
 * @example
 * ```ts
 * const { total } = refStepFlops(); // 2.348e9
 * const gflops = total / 1e9 / (msPerStep / 1000);
 * ```
 */
export function refStepFlops(batch = 16, size = 64): RefStepFlops {
  validate(batch, size);
  let forward = 0;
  let firstLayer = 0;
  let side = size;
  for (const [cin, cout, stride] of ENCODER) {
    side = side / stride;
    const flops = 2 * batch * side * side * cout * cin * 9;
    if (forward === 0) firstLayer = flops;
    forward += flops;
  }
  const heads = HEADS.reduce((a, b) => a + b, 0);
  forward += 2 * batch * side * side * FEATURES * heads;
  const backward = 2 * forward - firstLayer;
  return { forward, backward, total: forward + backward };
}

/**
 * Builds the reference step on the active backend: He-normal variables and fixed seeded data.
 * Call {@link initBackend} first; the step's tensors live on the backend active at creation.
 *
 * @example
 * ```ts
 * await initBackend({ prefer: 'wasm' });
 * const ref = createRefStep({ batch: 2, size: 16, seed: 1 });
 * const losses = [ref.step(), ref.step()];
 * ref.dispose();
 * ```
 */
export function createRefStep(options: RefStepOptions = {}): RefStep {
  const batch = options.batch ?? 16;
  const size = options.size ?? 64;
  const seed = options.seed ?? 0;
  const learningRate = options.learningRate ?? 0.01;
  validate(batch, size);
  if (!Number.isInteger(seed)) throw new ConfigError('seed', seed, 'must be an integer');
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) {
    throw new ConfigError('learningRate', learningRate, 'must be a positive number');
  }

  // Seeds of the individual draws: weights first, then data. tfjs treats seed 0 as "unseeded"
  // (Math.random), so the draws' seeds start at 1.
  let nextSeed = seed * 1000 + 1;
  const draw = (shape: number[], std: number): tf.Tensor =>
    tf.randomNormal(shape, 0, std, 'float32', nextSeed++);

  // tidy disposes the initial values; the variables survive it.
  const encoder = tf.tidy(() =>
    ENCODER.map(([cin, cout]) => ({
      w: tf.variable(draw([3, 3, cin, cout], Math.sqrt(2 / (9 * cin))), true),
      b: tf.variable(tf.zeros([cout]), true),
    })),
  );
  const heads = tf.tidy(() =>
    HEADS.map((cout) => ({
      w: tf.variable(draw([FEATURES, cout], Math.sqrt(2 / FEATURES)), true),
      b: tf.variable(tf.zeros([cout]), true),
    })),
  );
  const variables = [...encoder, ...heads].flatMap((l) => [l.w, l.b]);

  const side = size / 4;
  const pixels = batch * side * side;
  const data = tf.tidy(() => {
    const x = draw([batch, size, size, 3], 1) as tf.Tensor4D;
    // A float draw floored: int32 draws round, which would yield SEG_CLASSES itself.
    const classes = tf.randomUniform([pixels], 0, SEG_CLASSES, 'float32', nextSeed++).floor();
    const segOneHot = tf
      .oneHot(classes.toInt() as tf.Tensor1D, SEG_CLASSES)
      .toFloat() as tf.Tensor2D;
    const depth = draw([pixels, 1], 1) as tf.Tensor2D;
    const raw = draw([pixels, 3], 1);
    const normals = raw.div<tf.Tensor2D>(raw.square().sum(1, true).sqrt());
    return { x, segOneHot, depth, normals };
  });

  const fast = (): tf.Scalar => {
    let h: tf.Tensor4D = data.x;
    ENCODER.forEach(([, , stride], i) => {
      const layer = encoder[i];
      if (layer === undefined) throw new Error('unreachable');
      // The input image needs no gradient: skip the first layer's input gradient.
      h = convBiasRelu(h, layer.w as tf.Tensor4D, layer.b as tf.Tensor1D, stride, i > 0);
    });
    const features = h.reshape<tf.Tensor2D>([pixels, FEATURES]);
    return headsAndLosses(
      features,
      heads.map((head) => ({ w: head.w as tf.Tensor2D, b: head.b as tf.Tensor1D })),
      data,
      batch,
    );
  };

  // The same loss from stock tfjs ops, differentiated by tfjs: the reference for the above.
  const autodiff = (): tf.Scalar => {
    let h: tf.Tensor4D = data.x;
    ENCODER.forEach(([, , stride], i) => {
      const layer = encoder[i];
      if (layer === undefined) throw new Error('unreachable');
      h = tf.relu(
        tf.add(tf.conv2d(h, layer.w as tf.Tensor4D, stride, 'same'), layer.b),
      ) as tf.Tensor4D;
    });
    const features = h.reshape([pixels, FEATURES]);
    const [seg, depth, normals] = heads.map((head) =>
      tf.add(tf.matMul(features, head.w), head.b),
    ) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const ce = tf.losses.softmaxCrossEntropy(data.segOneHot, seg);
    const l1 = tf.losses.absoluteDifference(data.depth, depth);
    const norm = tf.sqrt(tf.add(tf.sum(tf.square(normals), 1), 1e-12));
    const cosine = tf.sub(1, tf.mean(tf.div(tf.sum(tf.mul(normals, data.normals), 1), norm)));
    return tf.addN([ce, l1, cosine]) as tf.Scalar;
  };
  const loss = options.autodiff === true ? autodiff : fast;

  const optimizer = tf.train.sgd(learningRate);
  let disposed = false;
  return {
    step(): number {
      if (disposed) throw new Error('createRefStep: step() after dispose()');
      const cost = optimizer.minimize(loss, true, variables);
      if (cost === null) throw new Error('createRefStep: optimizer returned no loss');
      const value = cost.dataSync()[0] ?? Number.NaN;
      cost.dispose();
      return value;
    },
    flops: refStepFlops(batch, size).total,
    variables,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      optimizer.dispose();
      tf.dispose(variables);
      tf.dispose(data);
    },
  };
}

/**
 * `relu(conv2d(x, w, stride, 'same') + b)` with a hand-written gradient.
 *
 * tfjs' own `tf.fused.conv2d` does not fuse while gradients are recorded (it falls back to
 * Conv2D + Add + Relu, whose gradients add a Cast and a broadcast-Sum), so this runs the
 * FusedConv2D kernel directly and back-propagates with one Step×dy mask, Sum for the bias and the
 * two conv-gradient kernels (on wasm, MTU's `MtuConv2DBackpropFilterBias` kernel computes the
 * filter and bias gradients in one matrix product). With `inputGradient` false (the first layer,
 * whose input is data) the input gradient is not computed; a placeholder is returned that the
 * engine never reads, since it prunes gradients of inputs that do not depend on the variables.
 */
function convBiasRelu(
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  b: tf.Tensor1D,
  stride: number,
  inputGradient: boolean,
): tf.Tensor4D {
  const engine = tf.engine();
  const conv = { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC' } as const;
  const f = tf.customGrad((xIn, wIn, bIn, save) => {
    const [x4, w4, b1] = [xIn, wIn, bIn] as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
    const y = engine.runKernel<tf.Tensor4D>(
      'FusedConv2D',
      { x: x4, filter: w4, bias: b1 },
      { ...conv, dilations: [1, 1], activation: 'relu' },
    );
    (save as tf.GradSaveFunc)([x4, w4, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws, ys] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dz = tf.mul<tf.Tensor4D>(dy, tf.step(ys));
        const filterAttrs = { ...conv, filterShape: ws.shape };
        let dw: tf.Tensor4D;
        let db: tf.Tensor1D;
        if (tf.getKernel(CONV2D_BACKPROP_FILTER_BIAS, tf.getBackend()) !== undefined) {
          // wasm: both from one matrix product.
          [dw, db] = engine.runKernel(
            CONV2D_BACKPROP_FILTER_BIAS,
            { x: xs, dy: dz },
            filterAttrs,
          ) as unknown as [tf.Tensor4D, tf.Tensor1D];
        } else {
          dw = engine.runKernel<tf.Tensor4D>(
            'Conv2DBackpropFilter',
            { x: xs, dy: dz },
            filterAttrs,
          );
          db = biasGradient(dz);
        }
        const dx = inputGradient
          ? engine.runKernel<tf.Tensor4D>(
              'Conv2DBackpropInput',
              { dy: dz, filter: ws },
              { ...conv, inputShape: xs.shape },
            )
          : tf.zeros([0]);
        return [dx, dw, db];
      },
    };
  });
  return f(x, w, b);
}

/** The fixed targets of the three tasks, one row per feature pixel. */
interface Targets {
  readonly segOneHot: tf.Tensor2D;
  readonly depth: tf.Tensor2D;
  readonly normals: tf.Tensor2D;
}

/**
 * What {@link headsAndLosses} saves for its gradient: features, the 3 head weights, then the
 * losses' intermediates (exp, its row sums, depth error, normals prediction, 1/‖p‖, cos).
 */
type SavedForHeads = [
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
  tf.Tensor2D,
];

/**
 * The three 1×1 heads on `features` `[pixels, 64]` and the sum of their losses, as one operation
 * with a hand-written gradient:
 *
 * - each head is `features · w + b` (a fused matrix product);
 * - segmentation: mean softmax cross-entropy; the gradient reuses the forward exponentials
 *   (`(softmax − onehot) / N`), where tfjs' own loss computes `exp` three times;
 * - depth: mean absolute error, gradient `sign(p − d) / N`;
 * - normals: mean `1 − ⟨p, n⟩ / ‖p‖` (with `‖p‖ = sqrt(‖p‖² + 1e-12)`), gradient
 *   `−(n − cos · p/‖p‖) / (‖p‖ · N)`.
 *
 * Back through the heads it avoids transposed matrix products: `dw = featuresᵀ · dy` transposes
 * `features` once for the three heads, and the right operand, which the wasm backend packs
 * (single-threaded, ~2 ns per element) for every new tensor, is the small `dy` rather than
 * `features`. Doing all of this in one
 * operation also saves `features` for the backward pass once instead of three times, and keeps the
 * engine's per-op overhead (~25 µs per op on wasm) low.
 */
function headsAndLosses(
  features: tf.Tensor2D,
  heads: readonly { readonly w: tf.Tensor2D; readonly b: tf.Tensor1D }[],
  targets: Targets,
  batch: number,
): tf.Scalar {
  const engine = tf.engine();
  const f = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [a, ...params] = args as tf.Tensor[] as [tf.Tensor2D, ...tf.Tensor[]];
    const ws = [0, 2, 4].map((i) => params[i] as tf.Tensor2D);
    const a3 = a.reshape([1, ...a.shape]);
    const [seg, depth, normals] = ws.map((w, k) =>
      engine
        .runKernel<tf.Tensor>(
          '_FusedMatMul',
          { a: a3, b: w.reshape([1, ...w.shape]), bias: params[2 * k + 1] as tf.Tensor1D },
          { transposeA: false, transposeB: false, activation: 'linear' },
        )
        .reshape<tf.Tensor2D>([a.shape[0], w.shape[1]]),
    ) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    // Softmax cross-entropy.
    const z = tf.sub(seg, tf.max(seg, 1, true));
    const e = tf.exp(z);
    const s = tf.sum(e, 1, true);
    const ce = tf.mean<tf.Scalar>(tf.sub(tf.log(s), tf.sum(tf.mul(targets.segOneHot, z), 1, true)));
    // L1.
    const diff = tf.sub(depth, targets.depth);
    const l1 = tf.mean<tf.Scalar>(tf.abs(diff));
    // Cosine.
    const invNorm = tf.rsqrt(tf.add(tf.sum(tf.square(normals), 1, true), 1e-12));
    const cos = tf.mul(tf.sum(tf.mul(normals, targets.normals), 1, true), invNorm);
    const cosine = tf.sub<tf.Scalar>(1, tf.mean(cos));
    save([a, ...ws, e, s, diff, normals, invNorm, cos]);
    return {
      value: tf.addN<tf.Scalar>([ce, l1, cosine]),
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => {
        const [as, w0, w1, w2, es, ss, ds, ps, inv, c] = saved as SavedForHeads;
        const scale = tf.div(dy, as.shape[0]);
        const dys: [tf.Tensor2D, tf.Tensor2D][] = [
          [w0, tf.mul(tf.sub(tf.div(es, ss), targets.segOneHot), scale)],
          [w1, tf.mul(tf.sign(ds), scale)],
          [
            w2,
            tf.mul(tf.sub(targets.normals, tf.mul(tf.mul(c, inv), ps)), tf.mul(inv, tf.neg(scale))),
          ],
        ];
        // `featuresᵀ`, once for the three heads; `features` is `[batch, side², 64]` seen as 3-D,
        // which the wasm Transpose runs ~10× faster than the 2-D `[pixels, 64]` (same result).
        const [pixels, channels] = as.shape;
        const asT = as
          .reshape([batch, pixels / batch, channels])
          .transpose([2, 0, 1])
          .reshape<tf.Tensor2D>([channels, pixels]);
        const paramGrads = dys.flatMap(([, g]) => [tf.matMul(asT, g), tf.sum(g, 0)]);
        const da = tf.addN(dys.map(([w, g]) => tf.matMul(g, w.transpose())));
        return [da, ...paramGrads];
      },
    };
  });
  return f(features, ...heads.flatMap((head) => [head.w, head.b]));
}

/**
 * `sum(dz, [0, 1, 2])` for an NHWC tensor. On the wasm backend a reduction over the outer axes
 * transposes first; a full-window average pool (XNNPACK, multithreaded) is about twice as fast.
 */
function biasGradient(dz: tf.Tensor4D): tf.Tensor1D {
  const [, height, width, channels] = dz.shape;
  const pooled = tf.avgPool(dz, [height, width], [height, width], 'valid');
  return tf.mul<tf.Tensor1D>(tf.sum(pooled.reshape([-1, channels]), 0), height * width);
}

function validate(batch: number, size: number): void {
  if (!Number.isInteger(batch) || batch < 1) {
    throw new ConfigError('batch', batch, 'must be a positive integer');
  }
  if (!Number.isInteger(size) || size < 4 || size % 4 !== 0) {
    throw new ConfigError('size', size, 'must be a positive multiple of 4');
  }
}
