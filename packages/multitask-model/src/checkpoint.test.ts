import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointError, saveTensors, tf } from '@mtu/core-tensors';
import { useLeakGuard } from '@mtu/core-tensors/testing';
import { createToyDataset } from '@mtu/datasets/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import {
  createModel,
  defaultModelSpec,
  loadModel,
  resolveTrainConfig,
  saveModel,
  specDifference,
} from './index.js';

useWasm();
useLeakGuard({ beforeEach, afterEach });

const ds = createToyDataset({ trainSize: 4, testSize: 2, size: 8 });
const spec = defaultModelSpec(ds, { backbone: { width: 4, stages: 1 } });
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtu-model-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('saveModel / loadModel', () => {
  it('round-trips weights, spec and provenance exactly', async () => {
    const model = createModel(spec, { seed: 5 });
    const path = join(dir, 'a.safetensors');
    const provenance = {
      training: resolveTrainConfig({ epochs: 3 }),
      dataset: { id: ds.id, options: ds.options },
      request: { instances: [1, 2], tasks: ['depth'] },
      extra: { backend: 'wasm' },
    };
    await saveModel(path, model, provenance);
    const loaded = await loadModel(path, { expectSpec: spec });
    try {
      expect(loaded.model.spec).toEqual(spec);
      expect(loaded.provenance).toEqual(JSON.parse(JSON.stringify(provenance)));
      const [a, b] = [model.flatWeights(), loaded.model.flatWeights()];
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([a, b]);
    } finally {
      model.dispose();
      loaded.model.dispose();
    }
  });

  it('refuses a checkpoint of another architecture, saying what differs', async () => {
    const model = createModel(spec, { seed: 5 });
    const path = join(dir, 'b.safetensors');
    await saveModel(path, model);
    model.dispose();
    const wider = defaultModelSpec(ds, { backbone: { width: 8, stages: 1 } });
    await expect(loadModel(path, { expectSpec: wider })).rejects.toThrow(CheckpointError);
    await expect(loadModel(path, { expectSpec: wider })).rejects.toThrow(
      /b\.safetensors: checkpoint of another architecture: spec\.backbone\.width is 4, expected 8/,
    );
    expect(specDifference(spec, spec)).toBeUndefined();
  });

  it('refuses corrupt, truncated, foreign and missing files naming the file', async () => {
    const model = createModel(spec, { seed: 5 });
    const path = join(dir, 'c.safetensors');
    await saveModel(path, model);
    const bytes = await readFile(path);
    const corrupt = Uint8Array.from(bytes);
    corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0xff;
    await writeFile(join(dir, 'corrupt.safetensors'), corrupt);
    await expect(loadModel(join(dir, 'corrupt.safetensors'))).rejects.toThrow(
      /corrupt\.safetensors/,
    );
    await writeFile(join(dir, 'short.safetensors'), bytes.subarray(0, bytes.length - 100));
    await expect(loadModel(join(dir, 'short.safetensors'))).rejects.toThrow(/short\.safetensors/);
    await saveTensors(join(dir, 'plain.safetensors'), model.variables, {
      note: 'x',
    });
    await expect(loadModel(join(dir, 'plain.safetensors'))).rejects.toThrow(
      /not an MTU model checkpoint/,
    );
    const some = { 'shared/stem/w': model.variables['shared/stem/w']! };
    await saveTensors(join(dir, 'partial.safetensors'), some, {
      format: 'mtu-multitask-model',
      spec,
    });
    await expect(loadModel(join(dir, 'partial.safetensors'))).rejects.toThrow(
      /missing parameter 'shared\/stem\/b'/,
    );
    await expect(loadModel(join(dir, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors/);
    model.dispose();
  });
});
