import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend, shutdownBackend, tf } from '@mtu/core-tensors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_GRID } from './__fixtures__/tiny.js';
import {
  CELL_FILES,
  canonicalJson,
  cellKeys,
  contentHash,
  modelPath,
  runCell,
  storedOutcome,
} from './cell.js';
import { expandGrid, parseGrid } from './grid.js';
import type { Cell } from './grid.js';
import { createRegistries } from './pipeline.js';
import type { CellSpec } from './types.js';

const registries = createRegistries();

describe('content hashes', () => {
  it('ignore key order and see every value', () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 0 })).toBe('{"a":0,"b":[1,{"c":2,"d":1}]}');
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1, b: 2 })).not.toBe(contentHash({ a: 1, b: 3 }));
    expect(contentHash({ a: 1 })).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('cellKeys', () => {
  let cells: readonly Cell[];
  beforeAll(async () => {
    cells = (await expandGrid(parseGrid(TINY_GRID), registries)).cells;
  });
  const variant = (spec: CellSpec, patch: Partial<CellSpec>): CellSpec => ({ ...spec, ...patch });

  it('share the original between settings and methods, the reference between methods', () => {
    const keys = cells.map((c) => cellKeys(c.spec, registries));
    expect(new Set(keys.map((k) => k.original)).size).toBe(1);
    expect(new Set(keys.map((k) => k.reference)).size).toBe(2); // full-task, partial-task
    expect(new Set(keys.map((k) => k.cell)).size).toBe(cells.length);
  });

  it('change with everything that determines the models, and only with that', () => {
    const spec = cells[0]!.spec;
    const k = cellKeys(spec, registries);
    // defaults written out explicitly resolve to the same models
    const explicit = cellKeys(
      variant(spec, {
        dataset: { id: 'scenes', options: { ...spec.dataset.options, noiseStd: undefined } },
        training: { ...spec.training, batchSize: 16, optimizer: 'adam' },
      }),
      registries,
    );
    expect(explicit.original).toBe(k.original);
    const epochs = cellKeys(variant(spec, { training: { epochs: 2 } }), registries);
    expect(epochs.original).not.toBe(k.original);
    expect(epochs.reference).not.toBe(k.reference);
    const seed = cellKeys(variant(spec, { seed: 1 }), registries);
    expect(seed.original).not.toBe(k.original);
    const ratio = cellKeys(variant(spec, { request: { ratio: 0.5, tasks: 'all' } }), registries);
    expect(ratio.original).toBe(k.original);
    expect(ratio.reference).not.toBe(k.reference);
    const config = cellKeys(
      variant(spec, { method: { id: spec.method.id, config: { epochs: 2 } } }),
      registries,
    );
    expect(config.reference).toBe(k.reference);
    expect(config.cell).not.toBe(k.cell);
  });

  it('name an invalid option', () => {
    const spec = cells[0]!.spec;
    expect(() => cellKeys(variant(spec, { training: { epochs: -1 } }), registries)).toThrow(
      /train\.epochs = -1/,
    );
  });
});

describe('runCell', () => {
  let dir: string;
  let cells: readonly Cell[];
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', threads: 1 });
    dir = await mkdtemp(join(tmpdir(), 'mtu-cell-'));
    cells = (await expandGrid(parseGrid(TINY_GRID), registries)).cells;
  });
  afterAll(async () => {
    shutdownBackend();
    await rm(dir, { recursive: true, force: true });
  });
  const ctx = (cell: Cell) => ({
    registries,
    cacheDir: join(dir, 'cache'),
    cellDir: join(dir, 'cells', cell.id),
  });

  it('writes config, request, result and outcome, builds the shared models once, and leaks nothing', async () => {
    const cell = cells.find((c) => c.id.includes('full__finetune'))!;
    const before = tf.memory().numTensors;
    const r = await runCell(cell.spec, ctx(cell));
    expect(r.status).toBe('done');
    expect(tf.memory().numTensors).toBe(before);
    for (const f of Object.values(CELL_FILES)) {
      expect(existsSync(join(ctx(cell).cellDir, f))).toBe(true);
    }
    const config = JSON.parse(await readFile(join(ctx(cell).cellDir, 'config.json'), 'utf8'));
    expect(config.spec).toEqual(cell.spec);
    expect(config.resolved.training.epochs).toBe(1);
    expect(config.versions['@mtu/unlearning']).toMatch(/^\d+\.\d+\.\d+/);
    expect(config.backend.name).toBe('wasm');
    const request = JSON.parse(await readFile(join(ctx(cell).cellDir, 'request.json'), 'utf8'));
    expect(request.instances).toHaveLength(6); // 25% of 24
    const keys = cellKeys(cell.spec, registries);
    expect(existsSync(modelPath(ctx(cell).cacheDir, keys.original))).toBe(true);
    expect(existsSync(modelPath(ctx(cell).cacheDir, keys.reference))).toBe(true);
    const record = r.record!;
    expect(record.method.id).toBe('finetune');
    expect(record.scores.uis?.value).toBeGreaterThanOrEqual(0);
    expect(record.scores.uisR?.value).toBeGreaterThanOrEqual(0);
    expect(record.evaluations.original).toBeDefined();
    expect(record.cost.retrainSeconds).toBeGreaterThan(0);
    const stored = await storedOutcome(ctx(cell).cellDir, keys.cell);
    expect(stored?.record).toEqual(JSON.parse(JSON.stringify(record)));
    // another configuration hash is not "finished"
    expect(await storedOutcome(ctx(cell).cellDir, 'ffffffffffffffff')).toBeUndefined();
  });

  it('retrain reuses the reference: its result is the retrained model, at the retrain cost', async () => {
    const cell = cells.find((c) => c.id.includes('full__retrain'))!;
    const r = await runCell(cell.spec, ctx(cell));
    expect(r.status).toBe('done');
    const record = r.record!;
    expect(record.evaluations.unlearned).toEqual(record.evaluations.retrained);
    expect(record.scores.uisR?.value).toBe(0);
    expect(record.cost.seconds).toBe(record.cost.retrainSeconds);
    expect(record.method.config).toMatchObject({ epochs: 1, initSeed: 0, shuffleSeed: 0 });
  });

  it('ends a method that does not support the request as not-applicable, and a broken one as failed', async () => {
    const base = cells.find((c) => c.id.includes('full__finetune'))!;
    const na = await runCell(
      { ...base.spec, method: { id: 'boundary-shrink', config: {} } },
      { ...ctx(base), cellDir: join(dir, 'cells', 'na') },
    );
    expect(na.status).toBe('not-applicable');
    expect(na.reason).toMatch(/depth/);
    const failed = await runCell(
      { ...base.spec, method: { id: 'finetune', config: { learningRate: -1 } } },
      { ...ctx(base), cellDir: join(dir, 'cells', 'failed') },
    );
    expect(failed.status).toBe('failed');
    expect(failed.reason).toMatch(/learningRate/);
    // a failed cell is rerun by the next run
    const keys = cellKeys(
      { ...base.spec, method: { id: 'finetune', config: { learningRate: -1 } } },
      registries,
    );
    expect(await storedOutcome(join(dir, 'cells', 'failed'), keys.cell)).toBeUndefined();
  });
});
