/**
 * `BatchMatMul` for the wasm backend: the stock kernel, with transposed operands made fast.
 *
 * The stock wasm kernel runs XNNPACK's fully-connected operator only when neither operand is
 * transposed (and the batch is 1); `transposeA` or `transposeB` fall back to a scalar loop, about
 * 10× slower. Those are exactly the products in the gradient of a dense layer (`dA = dY·Bᵀ`,
 * `dB = Aᵀ·dY`), e.g. the 1×1 heads of a dense-prediction network. This kernel transposes the
 * operand physically (one wasm `Transpose`, linear time) and runs the stock kernel without
 * transposes; batched products (batch > 1 on either side) go to the stock kernel unchanged.
 *
 * @module
 */
import { tf } from '../tf.js';
import {
  asWasmBackend,
  disposeInfos,
  requireInputs,
  runWasmKernel,
  stockKernel,
  type StockKernel,
  withShape,
  type KernelArgs,
  type TensorInfo,
  type WasmBackend,
} from './wasm-backend.js';

/**
 * The stock wasm `BatchMatMul` that MTU's kernel falls back to (captured by
 * `registerWasmGradientKernels` before it registers MTU's).
 */
export const stockBatchMatMul: StockKernel = stockKernel(tf.BatchMatMul);

function callStock(
  backend: WasmBackend,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown>,
): TensorInfo {
  return stockBatchMatMul.run(backend, inputs, attrs as tf.NamedAttrMap);
}

function batchSize(shape: readonly number[]): number {
  let size = 1;
  for (let i = 0; i < shape.length - 2; i++) size *= shape[i] ?? 1;
  return size;
}

/** The largest divisor of `rows` not above its square root (1 for primes). */
function rowSplit(rows: number): number {
  for (let a = Math.floor(Math.sqrt(rows)); a > 1; a--) {
    if (rows % a === 0) return a;
  }
  return 1;
}

/**
 * `x` (batch 1, rank ≥ 2) as its transposed `[cols, rows]` matrix; caller owns the result.
 *
 * The wasm `Transpose` is about 10× slower with the 2-D permutation `[1, 0]` than on the same data
 * viewed as `[a, rows / a, cols]` with permutation `[2, 0, 1]` (same result; measured 1.8 ms vs
 * 0.17 ms for `[4096, 64]`), so the rows are split whenever they have a divisor.
 */
function transposed(backend: WasmBackend, x: TensorInfo): TensorInfo {
  const rows = x.shape[x.shape.length - 2] ?? 1;
  const cols = x.shape[x.shape.length - 1] ?? 1;
  const a = rowSplit(rows);
  if (a === 1) {
    return runWasmKernel(backend, 'Transpose', { x: withShape(x, [rows, cols]) }, { perm: [1, 0] });
  }
  const t = runWasmKernel(
    backend,
    'Transpose',
    { x: withShape(x, [a, rows / a, cols]) },
    { perm: [2, 0, 1] },
  );
  return withShape(t, [cols, rows]);
}

function batchMatMulKernel(args: KernelArgs): TensorInfo {
  const backend = asWasmBackend(args.backend, tf.BatchMatMul);
  const [a, b] = requireInputs(tf.BatchMatMul, args.inputs, ['a', 'b']);
  const attrs = (args.attrs ?? {}) as unknown as tf.BatchMatMulAttrs;
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  if (
    (!transposeA && !transposeB) ||
    batchSize(a.shape) !== 1 ||
    batchSize(b.shape) !== 1 ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32'
  ) {
    return callStock(backend, { a, b }, { transposeA, transposeB });
  }
  const owned: TensorInfo[] = [];
  try {
    const a2 = transposeA ? transposed(backend, a) : a;
    if (transposeA) owned.push(a2);
    const b2 = transposeB ? transposed(backend, b) : b;
    if (transposeB) owned.push(b2);
    const out = callStock(backend, { a: a2, b: b2 }, { transposeA: false, transposeB: false });
    // Same output shape as the stock kernel: broadcast outer dims (all 1 here), then [M, N].
    const rank = Math.max(a.shape.length, b.shape.length);
    const outShape = [...Array<number>(rank - 2).fill(1), ...out.shape.slice(-2)];
    return withShape(out, outShape);
  } finally {
    disposeInfos(backend, ...owned);
  }
}

/** `BatchMatMul` kernel config (wraps the stock wasm one; see the module documentation). */
export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  // The stock kernel looks its wasm function up in its setup; run it for every new backend.
  setupFunc: (backend) => stockBatchMatMul.setup(backend),
  kernelFunc: batchMatMulKernel,
};
