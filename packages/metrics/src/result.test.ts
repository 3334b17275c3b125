import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { requestViews } from '@mtu/datasets';
import { createToyDataset } from '@mtu/datasets/testing';
import { createModel, defaultModelSpec, train } from '@mtu/multitask-model';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import {
  createResultRecord,
  evaluate,
  membershipInference,
  readResultRecord,
  unlearningImpactScore,
  writeResultRecord,
} from './index.js';
import type { ResultInput } from './index.js';

useWasm();

const ds = createToyDataset({
  trainSize: 24,
  testSize: 12,
  size: 8,
  kinds: ['segmentation', 'depth'],
});
const views = requestViews(ds, { instances: [1, 4, 7, 10], tasks: ['segmentation'] });
const kinds = { segmentation: 'segmentation', depth: 'depth' } as const;
let input: ResultInput;
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtu-result-'));
  const spec = defaultModelSpec(ds, { backbone: { width: 4, stages: 1 } });
  const original = createModel(spec, { seed: 0 });
  await train(original, ds, { epochs: 3, batchSize: 8 });
  const unlearned = original.clone();
  await train(unlearned, ds, { epochs: 1, batchSize: 8, supervision: views.supervision, seed: 1 });
  const retrained = createModel(spec, { seed: 0 });
  await train(retrained, ds, { epochs: 3, batchSize: 8, supervision: views.supervision });
  input = {
    dataset: { id: ds.id, options: ds.options },
    request: views.request,
    setting: views.setting,
    targetTasks: views.targetTasks,
    nonTargetTasks: views.nonTargetTasks,
    kinds,
    method: { id: 'finetune', config: { epochs: 1 } },
    evaluations: {
      unlearned: evaluate(unlearned, ds, views),
      original: evaluate(original, ds, views),
      retrained: evaluate(retrained, ds, views),
    },
    mia: {
      unlearned: membershipInference(unlearned, ds, views),
      retrained: membershipInference(retrained, ds, views),
    },
    cost: { seconds: 1.5, gradientEvaluations: 24, retrainSeconds: 10, ratioToRetrain: 0.15 },
    provenance: {
      backend: 'wasm',
      threads: 1,
      seed: 0,
      versions: { '@mtu/metrics': '0.0.0' },
      node: process.version,
      platform: process.platform,
      createdAt: '2026-11-23T00:00:00.000Z',
    },
  };
  for (const m of [original, unlearned, retrained]) m.dispose();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
useLeakGuard({ beforeEach, afterEach });

describe('result records', () => {
  it('derive every score the evaluations allow', () => {
    const record = createResultRecord(input);
    expect(record.schema).toBe('mtu-result');
    expect(record.version).toBe(1);
    expect(record.scores.uis?.value).toBe(
      unlearningImpactScore(
        input.evaluations.original!,
        input.evaluations.unlearned,
        views,
        kinds,
        { variant: 'UIS' },
      ).value,
    );
    expect(record.scores.uis?.variant).toBe('UIS');
    expect(record.scores.uisR?.variant).toBe('UIS-R');
    expect(record.scores.avgGap?.terms.some((t) => t.task === null && t.metric === 'MIA AUC')).toBe(
      true,
    );
    expect(record.scores.deltaM?.maninis.positiveMeans).toBe('worse');
    expect(record.scores.deltaM?.libmtl.positiveMeans).toBe('better');
    expect(record.scores.interference?.task.summary).toBeTypeOf('number');
    const onlyUnlearned = createResultRecord({
      ...input,
      evaluations: { unlearned: input.evaluations.unlearned },
      mia: {},
    });
    expect(onlyUnlearned.scores).toEqual({});
  });

  it('round-trip through JSON files, atomically written', async () => {
    const record = createResultRecord(input);
    const path = join(dir, 'result.json');
    await writeResultRecord(path, record);
    expect(await readResultRecord(path)).toEqual(JSON.parse(JSON.stringify(record)));
  });

  it('refuse missing, malformed and foreign files naming the file', async () => {
    await expect(readResultRecord(join(dir, 'none.json'))).rejects.toThrow(CheckpointError);
    await writeFile(join(dir, 'bad.json'), '{"schema": "mtu-result", ');
    await expect(readResultRecord(join(dir, 'bad.json'))).rejects.toThrow(
      /bad\.json: not valid JSON/,
    );
    await writeFile(
      join(dir, 'old.json'),
      JSON.stringify({ ...createResultRecord(input), version: 0 }),
    );
    await expect(readResultRecord(join(dir, 'old.json'))).rejects.toThrow(
      /old\.json: invalid result\.version/,
    );
    await writeFile(join(dir, 'other.json'), JSON.stringify({ schema: 'x' }));
    await expect(readResultRecord(join(dir, 'other.json'))).rejects.toThrow(/result\.schema/);
  });
});
