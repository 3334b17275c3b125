import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY, TRAIN_TINY, mtu, pool } from './helpers.js';

let dir: string;
let trainJson: any;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtu-cli-'));
  const r = await mtu(dir, [...TRAIN_TINY, '--json']);
  expect(r.stderr).not.toMatch(/^mtu:/m);
  expect(r.code).toBe(0);
  trainJson = JSON.parse(r.stdout);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mtu listings', () => {
  it('datasets and methods, as text and JSON', async () => {
    const [ds, dsJson, ms, msJson, one, help] = await pool(
      [
        () => mtu(dir, ['datasets']),
        () => mtu(dir, ['datasets', '--json']),
        () => mtu(dir, ['methods']),
        () => mtu(dir, ['methods', '--json']),
        () => mtu(dir, ['methods', 'salun', '--json']),
        () => mtu(dir, ['unlearn', '--help']),
      ],
      3,
    );
    for (const r of [ds, dsJson, ms, msJson, one, help]) expect(r!.code).toBe(0);
    expect(ds!.stdout).toContain('scenes');
    expect(ds!.stdout).toContain('trainSize');
    const datasets = JSON.parse(dsJson!.stdout) as {
      id: string;
      tasks: unknown;
      options: { name: string }[];
    }[];
    const scenes = datasets.find((d) => d.id === 'scenes')!;
    expect(scenes.tasks).toEqual([
      { name: 'segmentation', kind: 'segmentation' },
      { name: 'depth', kind: 'depth' },
      { name: 'normals', kind: 'normals' },
    ]);
    expect(scenes.options.find((o) => o.name === 'trainSize')).toMatchObject({
      type: 'integer',
      default: 512,
    });
    expect(datasets.map((d) => d.id)).toContain('multi-mnist');
    expect(ms!.stdout).toContain('interference-aware');
    const methods = JSON.parse(msJson!.stdout) as { id: string; reference: { title: unknown } }[];
    expect(methods.find((m) => m.id === 'salun')).toMatchObject({
      settings: ['full-task', 'partial-task'],
    });
    expect(methods.every((m) => typeof m.reference.title === 'string')).toBe(true);
    const salun = JSON.parse(one!.stdout);
    expect(salun.defaults).toHaveProperty('epochs');
    expect(help!.stdout).toContain('Examples:');
  });
});

describe('train → unlearn → eval → inspect', () => {
  it('train --json summarises the run and writes the checkpoint', () => {
    expect(trainJson).toMatchObject({
      out: 'original.safetensors',
      dataset: { id: 'scenes', options: { trainSize: 24, height: 16 } },
      training: { epochs: 1 },
      instances: 24,
    });
    expect(trainJson.parameters).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'original.safetensors'))).toBe(true);
  });

  it('unlearn with --ratio writes the checkpoint, the result and the request', async () => {
    const r = await mtu(dir, [
      'unlearn',
      '--model',
      'original.safetensors',
      '--method',
      'gradient-ascent',
      '--ratio',
      '0.1',
      '--tasks',
      'segmentation',
      '--set',
      'epochs=1',
      '--out',
      'ga.safetensors',
      '--result',
      'ga.json',
      '--save-request',
      'forget.json',
    ]);
    expect(r.stderr).not.toMatch(/^mtu:/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('gradient-ascent on scenes, partial-task');
    expect(r.stdout).toMatch(/segmentation\s+target\s+mIoU/);
    expect(r.stdout).toContain('MIA AUC');
    expect(r.stdout).toContain('UIS');
    expect(r.stderr).toContain('backend: wasm');
    const request = JSON.parse(await readFile(join(dir, 'forget.json'), 'utf8'));
    expect(request.tasks).toEqual(['segmentation']);
    expect(request.instances).toHaveLength(2); // round(0.1 · 24)
    const record = JSON.parse(await readFile(join(dir, 'ga.json'), 'utf8'));
    expect(record).toMatchObject({
      schema: 'mtu-result',
      setting: 'partial-task',
      targetTasks: ['segmentation'],
      method: { id: 'gradient-ascent', config: { epochs: 1 } },
    });
    expect(record.scores.uis.value).toEqual(expect.any(Number));
    expect(record.scores.uisR).toBeUndefined();
  });

  it('train --request retrains the reference; unlearn --request --reference --json gives UIS-R', async () => {
    const t = await mtu(dir, [
      'train',
      '--dataset',
      'scenes',
      ...TINY,
      '--epochs',
      '1',
      '--request',
      'forget.json',
      '--out',
      'retrained.safetensors',
      '--quiet',
    ]);
    expect(t.code).toBe(0);
    expect(t.stderr).toBe('');
    expect(t.stdout).toContain('without the 2 forgotten');
    const r = await mtu(dir, [
      'unlearn',
      '--model',
      'original.safetensors',
      '--method',
      'finetune',
      '--request',
      'forget.json',
      '--config',
      '{"epochs":1}',
      '--reference',
      'retrained.safetensors',
      '--out',
      'ft.safetensors',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const record = JSON.parse(r.stdout);
    expect(record.method.id).toBe('finetune');
    expect(record.request.instances).toHaveLength(2);
    expect(record.scores.uisR.value).toEqual(expect.any(Number));
    expect(record.evaluations.retrained).toBeDefined();
    expect(existsSync(join(dir, 'ft.safetensors'))).toBe(true);
  });

  it('eval: metrics, MIA, UIS with --original and UIS-R with --reference', async () => {
    const [json, text, drawn] = await pool(
      [
        () =>
          mtu(dir, [
            'eval',
            '--model',
            'ga.safetensors',
            '--original',
            'original.safetensors',
            '--reference',
            'retrained.safetensors',
            '--json',
          ]),
        () => mtu(dir, ['eval', '--model', 'ga.safetensors', '--original', 'original.safetensors']),
        () => mtu(dir, ['eval', '--model', 'original.safetensors', '--count', '3', '--json']),
      ],
      2,
    );
    expect(json!.code).toBe(0);
    const record = JSON.parse(json!.stdout);
    // The request defaults to the one the unlearned checkpoint records.
    expect(record.request).toEqual(JSON.parse(await readFile(join(dir, 'forget.json'), 'utf8')));
    expect(record.method.id).toBe('gradient-ascent');
    for (const split of ['forget', 'retain', 'test']) {
      expect(record.evaluations.unlearned.splits[split].segmentation.values.mIoU).toEqual(
        expect.any(Number),
      );
    }
    expect(record.mia.unlearned.combined.auc).toEqual(expect.any(Number));
    expect(record.scores.uis.value).toEqual(expect.any(Number));
    expect(record.scores.uisR.value).toEqual(expect.any(Number));
    expect(text!.code).toBe(0);
    expect(text!.stdout).toContain('UIS');
    expect(text!.stdout).not.toContain('UIS-R');
    expect(drawn!.code).toBe(0);
    const d = JSON.parse(drawn!.stdout);
    expect(d.setting).toBe('full-task');
    expect(d.request.instances).toHaveLength(3);
    expect(d.scores.uis).toBeUndefined();
  });

  it('inspect: spec, provenance and parameter counts', async () => {
    const [json, text] = await pool(
      [
        () => mtu(dir, ['inspect', 'ga.safetensors', '--json']),
        () => mtu(dir, ['inspect', 'original.safetensors']),
      ],
      2,
    );
    expect(json!.code).toBe(0);
    const info = JSON.parse(json!.stdout);
    expect(info.spec.inputShape).toEqual([16, 16, 3]);
    expect((info.spec.heads as { task: string }[]).map((h) => h.task)).toEqual([
      'segmentation',
      'depth',
      'normals',
    ]);
    expect(info.provenance.dataset.id).toBe('scenes');
    expect(info.provenance.request.tasks).toEqual(['segmentation']);
    expect(info.provenance.extra.method).toBe('gradient-ascent');
    const groups = info.parameters.groups as Record<string, number>;
    expect(Object.keys(groups)).toEqual(['shared', 'segmentation', 'depth', 'normals']);
    expect(info.parameters.total).toBe(Object.values(groups).reduce((a, b) => a + b, 0));
    expect(info.parameters.total).toBe(trainJson.parameters);
    expect(text!.code).toBe(0);
    expect(text!.stdout).toContain('encoder-decoder');
    expect(text!.stdout).toContain('training:');
    expect(text!.stdout).toMatch(/total [\d,]+/);
  });

  it('Ctrl-C aborts a run with exit 130 and leaves the previous file intact', async () => {
    const out = join(dir, 'kept.safetensors');
    await writeFile(out, 'previous contents');
    let sent = false;
    const r = await mtu(
      dir,
      ['train', '--dataset', 'scenes', ...TINY, '--epochs', '500', '--out', 'kept.safetensors'],
      {
        onStderr: (chunk, child) => {
          if (!sent && chunk.includes('epoch 1/')) {
            sent = true;
            child.kill('SIGINT');
          }
        },
      },
    );
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^mtu: interrupted/m);
    expect(await readFile(out, 'utf8')).toBe('previous contents');
  });
});
