/**
 * The built `mtu-bench`, run as a subprocess: killed mid-grid and rerun, it finishes without redoing
 * the cells that were finished, in worker threads.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_GRID } from '../src/__fixtures__/tiny.js';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const ENV = { ...process.env, MTU_BACKEND: 'wasm' };

function finishedCells(out: string): string[] {
  const cells = join(out, 'cells');
  if (!existsSync(cells)) return [];
  return readdirSync(cells).filter((c) => existsSync(join(cells, c, 'outcome.json')));
}

describe('mtu-bench (built, as a subprocess)', () => {
  let dir: string;
  let grid: string;
  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build the app first (turbo does)`);
    dir = await mkdtemp(join(tmpdir(), 'mtu-bench-'));
    grid = join(dir, 'tiny.json');
    await writeFile(grid, JSON.stringify(TINY_GRID));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes a killed run without redoing finished cells, then reports', async () => {
    const out = join(dir, 'run');
    const args = [
      BIN,
      '--grid',
      grid,
      '--out',
      out,
      '--cache',
      join(dir, 'cache'),
      '--workers',
      '1',
    ];
    // First run: killed (SIGKILL, no chance to clean up) as soon as two cells have finished.
    const child = spawn(process.execPath, args, { env: ENV, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    while (finishedCells(out).length < 2) {
      if (child.exitCode !== null) throw new Error('the first run ended before it was killed');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await exited;
    const before = finishedCells(out);
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.length).toBeLessThan(6);
    const mtimes = new Map<string, number>();
    for (const c of before) {
      mtimes.set(c, (await stat(join(out, 'cells', c, 'outcome.json'))).mtimeMs);
    }
    // Second run: finishes the rest only.
    const second = spawnSync(process.execPath, args, { env: ENV, encoding: 'utf8' });
    expect(second.stderr).toMatch(new RegExp(`6 cells \\(${before.length} already done\\)`));
    expect(second.status).toBe(0);
    expect(finishedCells(out)).toHaveLength(6);
    for (const c of before) {
      expect((await stat(join(out, 'cells', c, 'outcome.json'))).mtimeMs).toBe(mtimes.get(c));
    }
    // The cached models were not trained again.
    expect(second.stderr).not.toMatch(/\[original /);
    // Reports: the table and the reduction line on stdout, three files on disk.
    expect(second.stdout).toMatch(/\| Fine-tune \(FT\) \| 1 \| \d/);
    expect(second.stdout).toMatch(/UIS reduction of .* vs the strongest baseline: full-task/);
    for (const f of ['report.md', 'results.csv', 'report.html']) {
      expect(existsSync(join(out, 'report', f))).toBe(true);
    }
    const html = await readFile(join(out, 'report', 'report.html'), 'utf8');
    expect(html).toMatch(/<canvas/);
    // A third run has nothing left to do.
    const third = spawnSync(process.execPath, [...args, '--json'], { env: ENV, encoding: 'utf8' });
    expect(third.status).toBe(0);
    expect(third.stderr).toMatch(/6 cells \(6 already done\)/);
    const json = JSON.parse(third.stdout) as { outcomes: { status: string }[] };
    expect(json.outcomes.map((o) => o.status)).toEqual(Array(6).fill('done'));
  });

  it('refuses bad input with one line and a non-zero exit', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"datasets": [{"id": "scenes"}], "ratio": 2}');
    const r = spawnSync(process.execPath, [BIN, '--grid', bad, '--out', join(dir, 'x')], {
      env: ENV,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^mtu-bench: invalid .*bad\.json\.ratio = 2/);
    expect(existsSync(join(dir, 'x'))).toBe(false);
    const preset = spawnSync(process.execPath, [BIN, 'nope'], { env: ENV, encoding: 'utf8' });
    expect(preset.status).toBe(1);
    expect(preset.stderr).toMatch(/unknown preset 'nope'/);
  });
});
