import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeFingerprints, sourceFingerprint } from './pipeline.js';

describe('sourceFingerprint', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtu-fp-'));
    await mkdir(join(dir, 'sub'));
    await writeFile(join(dir, 'a.ts'), 'export const a = 1;\n');
    await writeFile(join(dir, 'sub', 'b.ts'), 'export const b = 2;\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('changes with the code and only with the code', async () => {
    const before = sourceFingerprint(dir);
    expect(before).toMatch(/^[0-9a-f]{16}$/);
    // tests, fixtures and other files do not count
    await writeFile(join(dir, 'a.test.ts'), 'it("x", () => {});\n');
    await writeFile(join(dir, 'README.md'), '# hi\n');
    await mkdir(join(dir, '__fixtures__'));
    await writeFile(join(dir, '__fixtures__', 'f.ts'), 'export const f = 0;\n');
    expect(sourceFingerprint(dir)).toBe(before);
    // a changed source file does
    await writeFile(join(dir, 'sub', 'b.ts'), 'export const b = 3;\n');
    const changed = sourceFingerprint(dir);
    expect(changed).not.toBe(before);
    // so does a renamed one with the same content
    await rm(join(dir, 'sub', 'b.ts'));
    await writeFile(join(dir, 'sub', 'c.ts'), 'export const b = 3;\n');
    expect(sourceFingerprint(dir)).not.toBe(changed);
  });

  it('covers every MTU package the benchmark runs', () => {
    const fp = codeFingerprints();
    expect(Object.keys(fp).sort()).toEqual([
      '@mtu/baselines',
      '@mtu/core-tensors',
      '@mtu/datasets',
      '@mtu/metrics',
      '@mtu/multitask-model',
      '@mtu/unlearning',
    ]);
    expect(new Set(Object.values(fp)).size).toBe(6);
    expect(codeFingerprints()).toBe(fp); // computed once
  });
});
