/**
 * Membership inference (MIA) from per-instance scores: a threshold-free ROC-AUC (Mann–Whitney U)
 * and two small attackers (a 1-D threshold and a ridge logistic regression) fitted on members
 * (retain) vs non-members (test) and applied to the forget set (SalUn's MIA-Efficacy).
 *
 * Pure functions of plain numbers: no TensorFlow.js.
 *
 * Sources: `research/baselines.md` §3.3 (MIA variants) and §3.7 (implementation notes); SalUn
 * `Classification/evaluation/SVC_MIA.py` (MIA-Efficacy = fraction of D_f predicted non-member);
 * SCRUB (logistic regression, `class_weight='balanced'`, retain vs test); the NeurIPS'23
 * unlearning-challenge kit (members sub-sampled to the non-member count).
 *
 * @module
 */
import { ConfigError } from '@mtu/core-tensors';
import type { Rng } from '@mtu/core-tensors';

// ---------------------------------------------------------------------------------------------
// ROC-AUC
// ---------------------------------------------------------------------------------------------

function checkScores(name: string, xs: ArrayLike<number>): void {
  if (xs.length === 0) {
    throw new ConfigError(name, [], `rocAuc: the ${name} side is empty (need at least one score)`);
  }
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i] as number;
    if (typeof v !== 'number' || Number.isNaN(v)) {
      throw new ConfigError(`${name}[${i}]`, v, 'rocAuc: scores must be numbers, not NaN');
    }
  }
}

/**
 * ROC-AUC of `positives` against `negatives`: the probability that a random positive scores
 * strictly higher than a random negative, ties counting ½ (the Mann–Whitney U statistic divided by
 * n₁·n₀):
 *
 *   AUC = (1 / (n₁ n₀)) Σ_{i ∈ pos} Σ_{j ∈ neg} ( 1[s_i > s_j] + ½ · 1[s_i = s_j] )
 *       = (R₁ − n₁(n₁+1)/2) / (n₁ n₀),   R₁ = Σ tie-averaged 1-based ranks of the positives.
 *
 * Computed exactly (ties included) by one sort of the pooled scores, O((n+m) log(n+m)): every group
 * of tied scores contributes `pos_in_group · (neg_below + ½ · neg_in_group)` to U. ±Infinity are
 * ranked like any other value; NaN is rejected.
 *
 * MTU convention (baselines §3.3 (b), §3.7; OpenUnlearning's orientation): positives = the forget
 * instances (the candidate members), negatives = test instances (non-members), score = a
 * "member-ness" statistic such as −loss. AUC → 1 when forget instances look like training members
 * (the original model), ≈ 0.5 when they look like unseen test data (the retrained ideal).
 *
 * @param positives - Scores of the positive class (forget instances); at least one, no NaN.
 * @param negatives - Scores of the negative class (test instances); at least one, no NaN.
 * @returns The AUC in [0, 1]. `rocAuc(a, b) = 1 − rocAuc(b, a)`.
 * @throws {ConfigError} When either side is empty (the message names which) or holds NaN.
 *
 * @example
 * ```ts
 * // baselines §7.6: member losses vs non-member losses, score = −loss
 * const forgetLoss = [0.1, 0.2, 0.2, 0.05];
 * const testLoss = [0.3, 0.2, 0.5];
 * rocAuc(forgetLoss.map((l) => -l), testLoss.map((l) => -l)); // 11/12 = 0.91667
 * ```
 */
export function rocAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): number {
  checkScores('positives', positives);
  checkScores('negatives', negatives);
  const n1 = positives.length;
  const n0 = negatives.length;
  const n = n1 + n0;
  const scores = new Float64Array(n);
  for (let i = 0; i < n1; i++) scores[i] = positives[i] as number;
  for (let j = 0; j < n0; j++) scores[n1 + j] = negatives[j] as number;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
  // U counted in halves, so that the sum stays an exact integer.
  let twiceU = 0;
  let negBelow = 0;
  let k = 0;
  while (k < n) {
    const v = scores[order[k] as number] as number;
    let pos = 0;
    let neg = 0;
    while (k < n && scores[order[k] as number] === v) {
      if ((order[k] as number) < n1) pos++;
      else neg++;
      k++;
    }
    twiceU += pos * (2 * negBelow + neg);
    negBelow += neg;
  }
  return twiceU / 2 / (n1 * n0);
}

// ---------------------------------------------------------------------------------------------
// Attackers
// ---------------------------------------------------------------------------------------------

/**
 * Per-instance attack features: one vector per instance (e.g. the per-task losses of an image), or
 * one scalar per instance (`number[]`, `Float64Array`, ...).
 */
export type AttackFeatures = readonly (readonly number[])[] | ArrayLike<number>;

/** The kinds of attacker {@link fitAttacker} can fit. */
export type AttackerKind = 'threshold' | 'logistic';

/**
 * How the two classes were balanced while fitting: `'subsample'` (the larger class subsampled to
 * the smaller one's size with the given rng), `'class-weights'` (every instance weighted by
 * N / (2 N_class)), or `'none'` (plain, unweighted).
 */
export type AttackerWeighting = 'subsample' | 'class-weights' | 'none';

/** Options of {@link fitAttacker}. */
export interface FitAttackerOptions {
  /** `'threshold'` (1-D features only) or `'logistic'`. */
  readonly kind: AttackerKind;
  /** Seeded stream used (only) to subsample the larger class when `balance` is on. */
  readonly rng?: Rng;
  /**
   * Balance members and non-members (default `true`): with an `rng`, subsample the larger class to
   * the smaller class's size (the unlearning-challenge kit); without one, weight each class by
   * N / (2 N_class) instead (sklearn's `class_weight='balanced'`, as in SCRUB). `false`: fit the
   * data as given, unweighted.
   */
  readonly balance?: boolean;
}

/** JSON description of a fitted threshold attacker. */
export interface ThresholdAttackerDescription {
  readonly kind: 'threshold';
  /** Decision threshold in feature units. */
  readonly threshold: number;
  /** `'above'`: member iff x ≥ threshold; `'below'`: member iff x < threshold. */
  readonly side: 'above' | 'below';
  /** (Class-weighted) accuracy on the fitting data; balanced accuracy unless weighting = 'none'. */
  readonly fitAccuracy: number;
  readonly weighting: AttackerWeighting;
  /** Instances per class actually used for fitting (after any subsampling). */
  readonly fitCounts: { readonly members: number; readonly nonMembers: number };
}

/** JSON description of a fitted logistic attacker. */
export interface LogisticAttackerDescription {
  readonly kind: 'logistic';
  /** Per-feature mean used for standardisation z_j = (x_j − mean_j) / scale_j. */
  readonly mean: readonly number[];
  /** Per-feature standard deviation (population; 1 for a constant feature). */
  readonly scale: readonly number[];
  /** Weights on the standardised features. */
  readonly weights: readonly number[];
  /** Intercept on the standardised features. */
  readonly bias: number;
  /** The same decision function in raw feature units: logit = rawBias + Σ rawWeights_j x_j. */
  readonly rawWeights: readonly number[];
  readonly rawBias: number;
  /** L2 ridge λ on the weights (not the bias) of the mean weighted log-loss. */
  readonly lambda: number;
  /** Instance weight of each class in the log-loss. */
  readonly classWeights: { readonly member: number; readonly nonMember: number };
  readonly iterations: number;
  readonly converged: boolean;
  readonly weighting: AttackerWeighting;
  readonly fitCounts: { readonly members: number; readonly nonMembers: number };
}

/** JSON description of any fitted attacker (see {@link Attacker.describe}). */
export type AttackerDescription = ThresholdAttackerDescription | LogisticAttackerDescription;

/** A fitted membership-inference attacker. */
export interface Attacker {
  readonly kind: AttackerKind;
  /** Number of features per instance. */
  readonly dimension: number;
  /**
   * `true` when the attacker calls the instance a member. A scalar is accepted when
   * `dimension = 1`. Features must be finite.
   */
  predictMember(x: readonly number[] | number): boolean;
  /** The fitted parameters, as JSON-serialisable data. */
  describe(): AttackerDescription;
}

/**
 * The L2 ridge λ of the logistic attacker: objective = (Σ s_i ℓ_i) / (Σ s_i) + (λ/2) ‖w‖² on
 * standardised features, bias unpenalised (sklearn's C ≈ 1 / (λ N)). Small enough not to bias
 * non-separable fits, large enough to keep the optimum finite on separable data.
 */
export const LOGISTIC_RIDGE: number = 1e-4;

const MAX_NEWTON_ITERATIONS = 200;

interface Matrix {
  /** Row-major n × d. */
  readonly data: Float64Array;
  readonly n: number;
  readonly d: number;
}

function toMatrix(name: string, x: AttackFeatures): Matrix {
  if (x == null || typeof x.length !== 'number') {
    throw new ConfigError(name, x, 'must be an array of feature vectors or of scalars');
  }
  const n = x.length;
  if (n === 0) throw new ConfigError(name, [], 'is empty (need at least one instance)');
  const first: unknown = (x as ArrayLike<unknown>)[0];
  if (Array.isArray(first)) {
    const rows = x as readonly (readonly number[])[];
    const d = first.length;
    if (d === 0) throw new ConfigError(`${name}[0]`, first, 'a feature vector must not be empty');
    const data = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== d) {
        throw new ConfigError(`${name}[${i}]`, row, `must be a feature vector of length ${d}`);
      }
      for (let j = 0; j < d; j++) {
        const v = row[j] as number;
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          throw new ConfigError(`${name}[${i}][${j}]`, v, 'features must be finite numbers');
        }
        data[i * d + j] = v;
      }
    }
    return { data, n, d };
  }
  const scalars = x as ArrayLike<number>;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = scalars[i] as number;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ConfigError(`${name}[${i}]`, v, 'features must be finite numbers');
    }
    data[i] = v;
  }
  return { data, n, d: 1 };
}

function subsampleRows(m: Matrix, k: number, rng: Rng): Matrix {
  if (k >= m.n) return m;
  const idx = rng.sample(
    Array.from({ length: m.n }, (_, i) => i),
    k,
  );
  idx.sort((a, b) => a - b);
  const data = new Float64Array(k * m.d);
  idx.forEach((src, dst) => {
    data.set(m.data.subarray(src * m.d, (src + 1) * m.d), dst * m.d);
  });
  return { data, n: k, d: m.d };
}

function featureVector(x: readonly number[] | number, d: number): readonly number[] {
  const v: readonly number[] = typeof x === 'number' ? [x] : x;
  if (v == null || typeof v !== 'object' || v.length !== d) {
    throw new ConfigError('x', x, `predictMember: expected ${d} feature(s)`);
  }
  for (const e of v) {
    if (typeof e !== 'number' || !Number.isFinite(e)) {
      throw new ConfigError('x', x, 'predictMember: features must be finite numbers');
    }
  }
  return v;
}

function fitThreshold(
  mem: Matrix,
  non: Matrix,
  w1: number,
  w0: number,
  weighting: AttackerWeighting,
): Attacker {
  if (mem.d !== 1) {
    throw new ConfigError(
      'kind',
      'threshold',
      `the threshold attacker needs 1-D features, got ${mem.d} per instance (use 'logistic')`,
    );
  }
  const M = mem.n;
  const N = non.n;
  const total = w1 * M + w0 * N;
  // Pooled (value, isMember), sorted ascending.
  const vals = new Float64Array(M + N);
  vals.set(mem.data, 0);
  vals.set(non.data, M);
  const order = Array.from({ length: M + N }, (_, i) => i);
  order.sort((a, b) => (vals[a] as number) - (vals[b] as number) || a - b);
  // Candidate k = number of unique values strictly below the threshold. k = 0: t = min value
  // (every instance is ≥ t); k ≥ 1: t in (u_{k−1}, u_k], the midpoint when it is representable.
  let best = { threshold: vals[order[0] as number] as number, side: 'above' as 'above' | 'below' };
  let bestAcc = (w1 * M) / total;
  if ((w0 * N) / total > bestAcc) {
    best = { threshold: best.threshold, side: 'below' };
    bestAcc = (w0 * N) / total;
  }
  let memLo = 0;
  let nonLo = 0;
  let p = 0;
  while (p < order.length) {
    const v = vals[order[p] as number] as number;
    while (p < order.length && vals[order[p] as number] === v) {
      if ((order[p] as number) < M) memLo++;
      else nonLo++;
      p++;
    }
    if (p >= order.length) break;
    const next = vals[order[p] as number] as number;
    let t = v / 2 + next / 2;
    if (!(t > v && t <= next)) t = next;
    const accAbove = (w1 * (M - memLo) + w0 * nonLo) / total;
    const accBelow = (w1 * memLo + w0 * (N - nonLo)) / total;
    if (accAbove > bestAcc) {
      best = { threshold: t, side: 'above' };
      bestAcc = accAbove;
    }
    if (accBelow > bestAcc) {
      best = { threshold: t, side: 'below' };
      bestAcc = accBelow;
    }
  }
  const { threshold, side } = best;
  const description: ThresholdAttackerDescription = {
    kind: 'threshold',
    threshold,
    side,
    fitAccuracy: bestAcc,
    weighting,
    fitCounts: { members: M, nonMembers: N },
  };
  return {
    kind: 'threshold',
    dimension: 1,
    predictMember(x: readonly number[] | number): boolean {
      const v = featureVector(x, 1)[0] as number;
      return side === 'above' ? v >= threshold : v < threshold;
    },
    describe: (): ThresholdAttackerDescription => ({
      ...description,
      fitCounts: { ...description.fitCounts },
    }),
  };
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Solves A x = b (A symmetric positive definite, n × n row-major) by Gaussian elimination. */
function solve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const A = a.slice();
  const x = b.slice();
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) {
      if (Math.abs(A[r * n + c] as number) > Math.abs(A[piv * n + c] as number)) piv = r;
    }
    const pv = A[piv * n + c] as number;
    if (!(Math.abs(pv) > 0) || !Number.isFinite(pv)) {
      throw new ConfigError('features', null, 'logistic attacker: singular Newton system');
    }
    if (piv !== c) {
      for (let k = 0; k < n; k++) {
        const t = A[c * n + k] as number;
        A[c * n + k] = A[piv * n + k] as number;
        A[piv * n + k] = t;
      }
      const t = x[c] as number;
      x[c] = x[piv] as number;
      x[piv] = t;
    }
    for (let r = c + 1; r < n; r++) {
      const f = (A[r * n + c] as number) / pv;
      if (f === 0) continue;
      for (let k = c; k < n; k++)
        A[r * n + k] = (A[r * n + k] as number) - f * (A[c * n + k] as number);
      x[r] = (x[r] as number) - f * (x[c] as number);
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r] as number;
    for (let k = r + 1; k < n; k++) s -= (A[r * n + k] as number) * (x[k] as number);
    x[r] = s / (A[r * n + r] as number);
  }
  return x;
}

function fitLogistic(
  mem: Matrix,
  non: Matrix,
  w1: number,
  w0: number,
  weighting: AttackerWeighting,
): Attacker {
  if (mem.d !== non.d) {
    throw new ConfigError(
      'nonMembers',
      non.d,
      `feature dimension ${non.d} differs from the members' ${mem.d}`,
    );
  }
  const d = mem.d;
  const n = mem.n + non.n;
  const p = d + 1; // bias first
  // Standardise on the pooled fitting data (unweighted population moments).
  const mean = new Array<number>(d).fill(0);
  const scale = new Array<number>(d).fill(0);
  const rowOf = (i: number): Float64Array =>
    i < mem.n
      ? mem.data.subarray(i * d, (i + 1) * d)
      : non.data.subarray((i - mem.n) * d, (i - mem.n + 1) * d);
  for (let i = 0; i < n; i++) {
    const r = rowOf(i);
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (r[j] as number);
  }
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / n;
  for (let i = 0; i < n; i++) {
    const r = rowOf(i);
    for (let j = 0; j < d; j++)
      scale[j] = (scale[j] as number) + ((r[j] as number) - (mean[j] as number)) ** 2;
  }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt((scale[j] as number) / n);
    scale[j] = s > 0 && Number.isFinite(s) ? s : 1;
  }
  // Design matrix [1, z], labels, instance weights normalised to mean 1 (Σ s = n).
  const X = new Float64Array(n * p);
  const y = new Float64Array(n);
  const s = new Float64Array(n);
  let sumS = 0;
  for (let i = 0; i < n; i++) {
    const r = rowOf(i);
    X[i * p] = 1;
    for (let j = 0; j < d; j++)
      X[i * p + 1 + j] = ((r[j] as number) - (mean[j] as number)) / (scale[j] as number);
    y[i] = i < mem.n ? 1 : 0;
    s[i] = i < mem.n ? w1 : w0;
    sumS += s[i] as number;
  }
  const lambda = LOGISTIC_RIDGE;
  const beta = new Float64Array(p);
  const objective = (b: Float64Array): number => {
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let k = 0; k < p; k++) z += (X[i * p + k] as number) * (b[k] as number);
      loss += (s[i] as number) * ((y[i] as number) === 1 ? softplus(-z) : softplus(z));
    }
    let reg = 0;
    for (let k = 1; k < p; k++) reg += (b[k] as number) ** 2;
    return loss / sumS + (lambda / 2) * reg;
  };
  let f = objective(beta);
  let iterations = 0;
  let converged = false;
  while (iterations < MAX_NEWTON_ITERATIONS) {
    iterations++;
    const grad = new Float64Array(p);
    const H = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let k = 0; k < p; k++) z += (X[i * p + k] as number) * (beta[k] as number);
      const pr = sigmoid(z);
      const si = (s[i] as number) / sumS;
      const r = si * (pr - (y[i] as number));
      const h = si * pr * (1 - pr);
      for (let a = 0; a < p; a++) {
        const xa = X[i * p + a] as number;
        grad[a] = (grad[a] as number) + r * xa;
        for (let b = a; b < p; b++)
          H[a * p + b] = (H[a * p + b] as number) + h * xa * (X[i * p + b] as number);
      }
    }
    for (let a = 1; a < p; a++) {
      grad[a] = (grad[a] as number) + lambda * (beta[a] as number);
      H[a * p + a] = (H[a * p + a] as number) + lambda;
    }
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) H[a * p + b] = H[b * p + a] as number;
    const step = solve(H, grad, p);
    let decrement = 0;
    for (let a = 0; a < p; a++) decrement += (step[a] as number) * (grad[a] as number);
    if (!(decrement > 1e-24)) {
      converged = true;
      break;
    }
    // Backtracking (Armijo) line search on the penalised objective.
    let t = 1;
    let candidate = new Float64Array(p);
    let fNew = Infinity;
    for (let ls = 0; ls < 60; ls++) {
      candidate = new Float64Array(p);
      for (let a = 0; a < p; a++) candidate[a] = (beta[a] as number) - t * (step[a] as number);
      fNew = objective(candidate);
      if (fNew <= f - 0.25 * t * decrement) break;
      t /= 2;
    }
    if (!(fNew < f)) {
      // No further decrease representable: at the optimum to machine precision.
      converged = true;
      break;
    }
    beta.set(candidate);
    f = fNew;
  }
  const bias = beta[0] as number;
  const weights = Array.from(beta.subarray(1));
  const rawWeights = weights.map((w, j) => w / (scale[j] as number));
  let rawBias = bias;
  for (let j = 0; j < d; j++) rawBias -= (rawWeights[j] as number) * (mean[j] as number);
  const description: LogisticAttackerDescription = {
    kind: 'logistic',
    mean,
    scale,
    weights,
    bias,
    rawWeights,
    rawBias,
    lambda,
    classWeights: { member: w1, nonMember: w0 },
    iterations,
    converged,
    weighting,
    fitCounts: { members: mem.n, nonMembers: non.n },
  };
  return {
    kind: 'logistic',
    dimension: d,
    predictMember(x: readonly number[] | number): boolean {
      const v = featureVector(x, d);
      let z = bias;
      for (let j = 0; j < d; j++)
        z +=
          (weights[j] as number) *
          (((v[j] as number) - (mean[j] as number)) / (scale[j] as number));
      return z > 0;
    },
    describe: (): LogisticAttackerDescription => structuredClone(description),
  };
}

/**
 * Fits a membership-inference attacker on members (label 1; MTU: retain instances, subsampled or
 * weighted to the test count) vs non-members (label 0; test instances), to apply to the forget
 * set with {@link miaEfficacy}.
 *
 * - `'threshold'` (1-D features only; the documented TS stand-in for SalUn's 1-D RBF-SVC,
 *   baselines §3.7): the rule `member iff x ≥ t` (side `'above'`) or `member iff x < t` (side
 *   `'below'`) maximising the class-weighted accuracy on the fitting data — the balanced accuracy
 *   ½(TPR + TNR) when balanced — by an exact search over every split of the sorted unique values
 *   (t = the midpoint of two neighbours, or the minimum value for the trivial split). Ties: the
 *   smallest threshold, `'above'` before `'below'`.
 * - `'logistic'` (SCRUB / the challenge kit): p(member | x) = σ(b + w·z), z the features
 *   standardised by the pooled fitting mean and (population) std, minimising
 *   (Σ s_i ℓ_i)/(Σ s_i) + (λ/2)‖w‖² with λ = {@link LOGISTIC_RIDGE} = 1e-4 (bias unpenalised) by
 *   damped Newton / IRLS to machine precision: deterministic, no randomness. Predicts member iff
 *   b + w·z > 0.
 *
 * Balancing (`balance`, default `true`): with `rng`, the larger class is subsampled without
 * replacement to the smaller class's size (then all weights are 1); without `rng`, all instances
 * are kept and weighted s = N / (2 N_class) (sklearn `class_weight='balanced'`). `balance: false`
 * fits the data as given with unit weights (plain accuracy / plain log-likelihood).
 *
 * @param members - Member features (one vector or scalar per instance); finite.
 * @param nonMembers - Non-member features, same dimension; finite.
 * @param options - Attacker kind, rng and balancing.
 * @returns The fitted {@link Attacker}.
 * @throws {ConfigError} On empty or non-finite input, ragged or mismatched dimensions, or
 *   multi-dimensional features for the threshold attacker.
 *
 * @example
 * ```ts
 * // member-ness = −loss of the unlearned model
 * const attacker = fitAttacker(retainLoss.map((l) => -l), testLoss.map((l) => -l), {
 *   kind: 'threshold',
 *   rng: createRng(0),
 * });
 * const efficacy = miaEfficacy(attacker, forgetLoss.map((l) => -l)); // compare with Retrain's
 * ```
 */
export function fitAttacker(
  members: AttackFeatures,
  nonMembers: AttackFeatures,
  options: FitAttackerOptions,
): Attacker {
  const kind = options.kind;
  if (kind !== 'threshold' && kind !== 'logistic') {
    throw new ConfigError('kind', kind, "must be 'threshold' or 'logistic'");
  }
  let mem = toMatrix('members', members);
  let non = toMatrix('nonMembers', nonMembers);
  if (mem.d !== non.d) {
    throw new ConfigError(
      'nonMembers',
      nonMembers,
      `feature dimension ${non.d} differs from the members' ${mem.d}`,
    );
  }
  const balance = options.balance ?? true;
  let weighting: AttackerWeighting;
  let w1 = 1;
  let w0 = 1;
  if (!balance) {
    weighting = 'none';
  } else if (options.rng !== undefined) {
    weighting = 'subsample';
    const k = Math.min(mem.n, non.n);
    mem = subsampleRows(mem, k, options.rng);
    non = subsampleRows(non, k, options.rng);
  } else {
    weighting = 'class-weights';
    const total = mem.n + non.n;
    w1 = total / (2 * mem.n);
    w0 = total / (2 * non.n);
  }
  return kind === 'threshold'
    ? fitThreshold(mem, non, w1, w0, weighting)
    : fitLogistic(mem, non, w1, w0, weighting);
}

function rowsOf(name: string, x: AttackFeatures, d: number): Matrix {
  const m = toMatrix(name, x);
  if (m.d !== d) {
    throw new ConfigError(name, x, `feature dimension ${m.d} differs from the attacker's ${d}`);
  }
  return m;
}

function countMembers(attacker: Attacker, m: Matrix): number {
  let c = 0;
  for (let i = 0; i < m.n; i++) {
    if (attacker.predictMember(Array.from(m.data.subarray(i * m.d, (i + 1) * m.d)))) c++;
  }
  return c;
}

/**
 * SalUn's MIA-Efficacy: the fraction of forget instances the attacker calls NON-members,
 *
 *   MIA-Efficacy = 1 − (1/|D_f|) Σ_{x ∈ D_f} 1[attacker(x) = member]   (in [0, 1]; ×100 for %).
 *
 * Higher = more forgotten; the target is the retrained model's value (not 1). Source: SalUn
 * `SVC_MIA.py` (baselines §3.3 (a)).
 *
 * @param attacker - A fitted attacker (e.g. retain vs test).
 * @param forgetFeatures - Features of the forget instances, same dimension; non-empty, finite.
 * @returns The fraction in [0, 1].
 * @throws {ConfigError} On empty, non-finite or mismatched features.
 *
 * @example
 * ```ts
 * const attacker = fitAttacker([[-0.1], [-0.2]], [[-1.0], [-2.0]], { kind: 'logistic' });
 * miaEfficacy(attacker, [[-1.5], [-0.15]]); // 0.5
 * ```
 */
export function miaEfficacy(attacker: Attacker, forgetFeatures: AttackFeatures): number {
  const m = rowsOf('forgetFeatures', forgetFeatures, attacker.dimension);
  return 1 - countMembers(attacker, m) / m.n;
}

/** Accuracy figures of an attacker on labelled data (see {@link attackAccuracy}). */
export interface AttackAccuracy {
  /** Fraction of all instances classified correctly. */
  readonly accuracy: number;
  /** ½ (TPR + TNR): insensitive to class sizes; 0.5 = chance. */
  readonly balancedAccuracy: number;
  /** Fraction of members called members. */
  readonly truePositiveRate: number;
  /** Fraction of non-members called non-members. */
  readonly trueNegativeRate: number;
}

/**
 * How well an attacker separates labelled members from non-members (for reporting, e.g. on
 * held-out retain / test instances): accuracy = (TP + TN)/(M + N), balanced accuracy =
 * ½(TP/M + TN/N).
 *
 * @param attacker - A fitted attacker.
 * @param members - Member features; non-empty.
 * @param nonMembers - Non-member features; non-empty.
 * @returns {@link AttackAccuracy}.
 * @throws {ConfigError} On empty, non-finite or mismatched features.
 *
 * @example
 * ```ts
 * const attacker = fitAttacker([2, 3, 4], [0, 1], { kind: 'threshold' });
 * attackAccuracy(attacker, [2.5, 0.5], [0.2]).balancedAccuracy; // 0.75
 * ```
 */
export function attackAccuracy(
  attacker: Attacker,
  members: AttackFeatures,
  nonMembers: AttackFeatures,
): AttackAccuracy {
  const mem = rowsOf('members', members, attacker.dimension);
  const non = rowsOf('nonMembers', nonMembers, attacker.dimension);
  const tp = countMembers(attacker, mem);
  const tn = non.n - countMembers(attacker, non);
  const tpr = tp / mem.n;
  const tnr = tn / non.n;
  return {
    accuracy: (tp + tn) / (mem.n + non.n),
    balancedAccuracy: (tpr + tnr) / 2,
    truePositiveRate: tpr,
    trueNegativeRate: tnr,
  };
}
