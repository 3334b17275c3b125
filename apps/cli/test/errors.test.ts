import { copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRAIN_TINY, mtu, pool } from './helpers.js';

let dir: string;
let existing: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtu-cli-errors-'));
  const r = await mtu(dir, [...TRAIN_TINY, '--quiet']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  // An output that exists already: every failing command must leave it as it was.
  await copyFile(join(dir, 'original.safetensors'), join(dir, 'existing.safetensors'));
  existing = await readFile(join(dir, 'existing.safetensors'));
  await writeFile(join(dir, 'malformed.json'), '{"instances": [1, 2');
  await writeFile(join(dir, 'range.json'), '{"instances": [3, 999], "tasks": "all"}');
  await writeFile(join(dir, 'task.json'), '{"instances": [1], "tasks": ["depth", "colour"]}');
  await writeFile(join(dir, 'depth.json'), '{"instances": [1, 2], "tasks": ["depth"]}');
  await writeFile(join(dir, 'corrupt.safetensors'), 'this is not a checkpoint');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const UNLEARN = ['unlearn', '--model', 'original.safetensors', '--method', 'finetune'];

/** [name, args, a substring the one error line must contain, exit code]. */
const CASES: readonly (readonly [string, readonly string[], string | RegExp, number])[] = [
  [
    'unknown dataset',
    ['train', '--dataset', 'imagenet', '--out', 'x.safetensors'],
    "unknown dataset 'imagenet'",
    1,
  ],
  [
    'negative epochs',
    ['train', '--dataset', 'scenes', '--epochs', '-1', '--out', 'x.safetensors'],
    'invalid --epochs = "-1"',
    1,
  ],
  [
    'bad dataset option value',
    ['train', '--dataset', 'scenes', '--option', 'trainSize=x', '--out', 'x.safetensors'],
    'scenes.trainSize = "x"',
    1,
  ],
  [
    'unknown optimizer',
    ['train', '--dataset', 'scenes', '--optimizer', 'rmsprop', '--out', 'x.safetensors'],
    "'rmsprop' is invalid",
    2,
  ],
  ['unknown command', ['trian'], "unknown command 'trian'", 2],
  [
    'unknown method',
    [
      'unlearn',
      '--model',
      'original.safetensors',
      '--method',
      'magic',
      '--ratio',
      '0.1',
      '--out',
      'x.safetensors',
    ],
    "unknown method 'magic'",
    1,
  ],
  [
    'ratio out of range',
    [...UNLEARN, '--ratio', '2', '--out', 'x.safetensors'],
    'invalid --ratio = "2"',
    1,
  ],
  [
    'count out of range',
    [...UNLEARN, '--count', '24', '--out', 'x.safetensors'],
    'invalid --count = 24',
    1,
  ],
  [
    'unknown task',
    [...UNLEARN, '--ratio', '0.1', '--tasks', 'segmentation,colour', '--out', 'x.safetensors'],
    'invalid --tasks = "colour": unknown task',
    1,
  ],
  [
    'malformed request JSON',
    [...UNLEARN, '--request', 'malformed.json', '--out', 'x.safetensors'],
    /^mtu: malformed\.json: malformed request \(not JSON\): .+/,
    1,
  ],
  [
    'id out of range',
    [...UNLEARN, '--request', 'range.json', '--out', 'x.safetensors'],
    'range.json: invalid request.instances[1] = 999: unknown id',
    1,
  ],
  [
    'unknown task in request',
    [...UNLEARN, '--request', 'task.json', '--out', 'x.safetensors'],
    'task.json: invalid request.tasks[1] = "colour": unknown task',
    1,
  ],
  [
    'missing checkpoint',
    [
      'unlearn',
      '--model',
      'gone.safetensors',
      '--method',
      'finetune',
      '--ratio',
      '0.1',
      '--out',
      'x.safetensors',
    ],
    'gone.safetensors: file not found',
    1,
  ],
  [
    'corrupt checkpoint',
    [
      'unlearn',
      '--model',
      'corrupt.safetensors',
      '--method',
      'finetune',
      '--ratio',
      '0.1',
      '--out',
      'x.safetensors',
    ],
    'corrupt.safetensors: ',
    1,
  ],
  [
    'checkpoint of another dataset',
    [
      ...UNLEARN,
      '--ratio',
      '0.1',
      '--dataset',
      'multi-mnist',
      '--option',
      'trainSize=24',
      '--option',
      'testSize=8',
      '--out',
      'x.safetensors',
    ],
    "does not fit dataset 'multi-mnist' (it was trained on 'scenes')",
    1,
  ],
  [
    'options changing the input shape',
    [...UNLEARN, '--ratio', '0.1', '--option', 'height=32', '--out', 'x.safetensors'],
    "does not fit dataset 'scenes' with these options: inputShape[0] is 16, expected 32",
    1,
  ],
  [
    'unknown method option',
    [...UNLEARN, '--ratio', '0.1', '--set', 'lr=abc', '--out', 'x.safetensors'],
    'invalid finetune.lr = "abc": unknown option',
    1,
  ],
  [
    'bad method option value',
    [...UNLEARN, '--ratio', '0.1', '--set', 'learningRate=abc', '--out', 'x.safetensors'],
    'invalid finetune.learningRate = "abc"',
    1,
  ],
  [
    'malformed inline config',
    [...UNLEARN, '--ratio', '0.1', '--config', '{"epochs":', '--out', 'x.safetensors'],
    'invalid --config',
    1,
  ],
  [
    'unsupported setting',
    [
      'unlearn',
      '--model',
      'original.safetensors',
      '--method',
      'boundary-shrink',
      '--request',
      'depth.json',
      '--out',
      'x.safetensors',
    ],
    "boundary-shrink cannot forget task 'depth'",
    1,
  ],
  ['no request', [...UNLEARN, '--out', 'x.safetensors'], 'give a forget request', 2],
];

describe('bad input: one `mtu:` line, a non-zero exit, nothing written', () => {
  it('every case', async () => {
    const runs = await pool(
      CASES.map(([, args]) => () => {
        const out = args.includes('x.safetensors')
          ? args.map((a) => (a === 'x.safetensors' ? 'existing.safetensors' : a))
          : args;
        return mtu(dir, out);
      }),
      4,
    );
    const failures: string[] = [];
    CASES.forEach(([name, , expected, code], i) => {
      const r = runs[i]!;
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      const ok =
        r.code === code &&
        r.stdout === '' &&
        lines.length === 1 &&
        lines[0]!.startsWith('mtu: ') &&
        (typeof expected === 'string' ? lines[0]!.includes(expected) : expected.test(lines[0]!));
      if (!ok) failures.push(`${name}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
    });
    expect(failures).toEqual([]);
    // Nothing new was written (no temporary files either), and the existing output is intact.
    expect((await readdir(dir)).sort()).toEqual(
      [
        'corrupt.safetensors',
        'depth.json',
        'existing.safetensors',
        'malformed.json',
        'original.safetensors',
        'range.json',
        'task.json',
      ].sort(),
    );
    expect((await readFile(join(dir, 'existing.safetensors'))).equals(existing)).toBe(true);
  });

  it('MTU_DEBUG=1 adds the stack trace', async () => {
    const r = await mtu(dir, ['inspect', 'gone.safetensors'], { env: { MTU_DEBUG: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mtu: gone\.safetensors: file not found$/m);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});
