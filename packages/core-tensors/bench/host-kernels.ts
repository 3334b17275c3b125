// Times the float64 host kernels, wasm against the JavaScript reference loops, interleaved in one
// process (A/B, alternating which goes first), and checks on the way that both give the same bits.
//
//   pnpm --filter @mtu/core-tensors bench:host              # readable table
//   pnpm --filter @mtu/core-tensors bench:host --reps 15    # more repetitions (default 9)
//
// Sizes: the constraint passes of an interference-aware unlearning step (C = D × M float32,
// D = 106824, M = 24), Gram-route bases of D × n float32 matrices (n = 24, 32, 64), and the
// README's D = 1e5, n = 100.
import {
  combineF64,
  createRng,
  gramProductsF64,
  orthonormalBasisF64,
  residualProductsF64,
  setHostKernels,
} from '../src/index.js';
import type { HostKernels } from '../src/index.js';
import { basisStage } from '../src/host-kernels/index.js';

const repsArg = process.argv.indexOf('--reps');
const REPS = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 9;
const D = 106824;
const M = 24;

const rng = createRng(2026);
const randn = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

/** Flattens a result into numbers for the bit-identity check. */
type Flat = ArrayLike<number>[];

function same(a: Flat, b: Flat): boolean {
  return (
    a.length === b.length &&
    a.every((x, i) => {
      const y = b[i] as ArrayLike<number>;
      if (x.length !== y.length) return false;
      for (let t = 0; t < x.length; t++) if (!Object.is(x[t], y[t])) return false;
      return true;
    })
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[s.length >> 1] as number;
}

interface Row {
  readonly name: string;
  readonly js: number;
  readonly wasm: number;
  readonly identical: boolean;
}

function ab(name: string, f: () => Flat, reps = REPS): Row {
  const times: Record<HostKernels, number[]> = { js: [], wasm: [] };
  const last: Partial<Record<HostKernels, Flat>> = {};
  // One untimed round each (instantiation, JIT), then REPS interleaved rounds.
  for (let r = -1; r < reps; r++) {
    const order: HostKernels[] = r % 2 === 0 ? ['js', 'wasm'] : ['wasm', 'js'];
    for (const kind of order) {
      setHostKernels(kind);
      const t0 = performance.now();
      last[kind] = f();
      const ms = performance.now() - t0;
      if (r >= 0) times[kind].push(ms);
    }
  }
  setHostKernels('wasm');
  return {
    name,
    js: median(times.js),
    wasm: median(times.wasm),
    identical: same(last.js as Flat, last.wasm as Flat),
  };
}

const C = randn(D * M);
const g = randn(D);
const a = Float64Array.from({ length: M }, () => rng.normal());

const rows: Row[] = [
  ab(`hostProducts (gramProductsF64), D=${D}, M=${M}`, () => {
    const r = gramProductsF64(C, g, D, M);
    return [r.G, r.b, [r.gg]];
  }),
  ab(`residualProducts (residualProductsF64), D=${D}, M=${M}`, () => [
    residualProductsF64(C, g, D, M, a),
  ]),
  ab(`combineHost (combineF64), D=${D}, M=${M}`, () => {
    const r = combineF64(g, C, D, M, a);
    return [r.u, [r.uu]];
  }),
];

for (const n of [24, 32, 64]) {
  const G = randn(D * n);
  // Steps 2, 5, 6 and the row-major float32 output of basisCore (the tensor path), with a fixed
  // well-conditioned W (the eigendecomposition between the steps is the same ml-matrix code either
  // way and is not timed here).
  const Wt = Float64Array.from({ length: n * n }, () => rng.normal() / Math.sqrt(D));
  rows.push(
    ab(`basisCore steps 2+5+6+output, D=${D}, n=${n}`, () => {
      const stage = basisStage(G, D, n, 0.25, 0.5);
      try {
        const gram = stage.gram();
        stage.columns(Wt, n);
        const k = stage.mgs();
        return [gram, stage.rowMajorF32(k)];
      } finally {
        stage.release();
      }
    }),
  );
  rows.push(
    ab(`orthonormalBasisF64 end to end, D=${D}, n=${n}`, () => {
      const r = orthonormalBasisF64(G, D, n);
      return [r.basis, r.singularValues];
    }),
  );
}

// The size quoted in the README's linear-algebra section (fewer repetitions: ~2 s per JS call).
{
  const n = 100;
  const Dl = 100_000;
  const G = randn(Dl * n);
  rows.push(
    ab(
      `orthonormalBasisF64 end to end, D=${Dl}, n=${n}`,
      () => {
        const r = orthonormalBasisF64(G, Dl, n);
        return [r.basis, r.singularValues];
      },
      Math.max(3, Math.floor(REPS / 3)),
    ),
  );
}

const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${'function'.padEnd(width)}  JS (ms)  wasm (ms)  speedup  identical`);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(width)}  ${r.js.toFixed(2).padStart(7)}  ${r.wasm.toFixed(2).padStart(9)}  ${(r.js / r.wasm).toFixed(2).padStart(6)}×  ${r.identical ? 'yes' : 'NO'}`,
  );
}
console.log(
  `median of ${REPS} interleaved repetitions (the last row: ${Math.max(3, Math.floor(REPS / 3))}); node ${process.version}`,
);
