import { ConfigError } from '@mtu/core-tensors';
import { describe, expect, it } from 'vitest';
import { TINY_GRID } from './__fixtures__/tiny.js';
import { expandGrid, methodRole, parseGrid } from './grid.js';
import { createRegistries } from './pipeline.js';
import { PRESETS } from './presets.js';

describe('parseGrid', () => {
  it('fills in the defaults', () => {
    const g = parseGrid({ datasets: [{ id: 'scenes' }] });
    expect(g.seeds).toEqual([0]);
    expect(g.settings).toEqual(['full-task', 'partial-task']);
    expect(g.methods).toBe('all');
    expect(g.ratio).toBe(0.1);
  });

  it('names the offending field and value', () => {
    expect(() => parseGrid({ datasets: [{ id: 'scenes' }], ratio: 1.5 }, 'g.json')).toThrow(
      /g\.json\.ratio = 1\.5/,
    );
    expect(() => parseGrid({ datasets: [{ id: 'scenes', option: {} }] }, 'g.json')).toThrow(
      /g\.json\.datasets\[0\].*unknown field\(s\) option/,
    );
    expect(() => parseGrid({ datasets: [] })).toThrow(ConfigError);
    expect(() => parseGrid({ datasets: [{ id: 'scenes' }], seeds: [-1] })).toThrow(
      /grid\.seeds\[0\] = -1/,
    );
  });

  it('accepts every preset', () => {
    for (const [name, preset] of Object.entries(PRESETS)) {
      expect(parseGrid(preset, name).name).toBe(name);
    }
  });
});

describe('expandGrid', () => {
  const registries = createRegistries();

  it('expands datasets × settings × methods × seeds into unique cells', async () => {
    const plan = await expandGrid(parseGrid({ ...TINY_GRID, seeds: [0, 1] }), registries);
    expect(plan.cells).toHaveLength(2 * 3 * 2);
    expect(new Set(plan.cells.map((c) => c.id)).size).toBe(plan.cells.length);
    const full = plan.cells.filter((c) => c.setting === 'full-task');
    expect(full[0]!.targetTasks).toEqual(['segmentation', 'depth', 'normals']);
    expect(full[0]!.spec.request.tasks).toBe('all');
    const partial = plan.cells.filter((c) => c.setting === 'partial-task');
    expect(partial.every((c) => c.targetTasks.join() === 'segmentation')).toBe(true);
    expect(plan.methods.map((m) => [m.id, m.role])).toEqual([
      ['finetune', 'baseline'],
      ['gradient-ascent', 'baseline'],
      ['retrain', 'reference'],
    ]);
    expect(plan.cells[0]!.spec.method.config).toEqual({ epochs: 1 });
  });

  it("'all' means every registered method, with roles", async () => {
    const plan = await expandGrid(
      parseGrid({ ...TINY_GRID, methods: 'all', settings: ['full-task'] }),
      registries,
    );
    expect(plan.methods.map((m) => m.id)).toEqual(registries.methods.list().map((m) => m.id));
    expect(methodRole('interference-aware')).toBe('ours');
    expect(methodRole('interference-aware/none')).toBe('ablation');
    expect(methodRole('salun')).toBe('baseline');
    // cell ids stay valid directory names
    expect(plan.cells.every((c) => !c.id.includes('/'))).toBe(true);
  });

  it('refuses unknown methods, tasks and duplicate labels before running anything', async () => {
    await expect(
      expandGrid(parseGrid({ ...TINY_GRID, methods: ['no-such'] }), registries),
    ).rejects.toThrow(/unknown method 'no-such'/);
    await expect(
      expandGrid(
        parseGrid({ ...TINY_GRID, datasets: [{ ...TINY_GRID.datasets[0]!, targets: ['colour'] }] }),
        registries,
      ),
    ).rejects.toThrow(/targets = "colour".*no task 'colour'/);
    await expect(
      expandGrid(parseGrid({ ...TINY_GRID, methods: ['salun', 'salun'] }), registries),
    ).rejects.toThrow(/appears twice/);
    await expect(
      expandGrid(
        parseGrid({ ...TINY_GRID, datasets: [{ id: 'scenes', options: { trainSize: 'x' } }] }),
        registries,
      ),
    ).rejects.toThrow(/scenes\.trainSize/);
  });
});
