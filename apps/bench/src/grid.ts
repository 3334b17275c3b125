/**
 * Grids: which datasets, settings, methods and seeds a benchmark run covers, as a JSON file or a
 * named preset, validated with zod and expanded into cells.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { CheckpointError, ConfigError } from '@mtu/core-tensors';
import { resolveDatasetOptions } from '@mtu/datasets';
import { INTERFERENCE_AWARE_METHODS } from '@mtu/unlearning';
import { z } from 'zod';
import type { Registries } from './pipeline.js';
import type { CellSpec, MethodInfo, MethodRole } from './types.js';

const label = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, ".", "_" and "-" only');

const methodEntry = z.union([
  z.string().min(1),
  z
    .object({
      id: z.string().min(1),
      /** Distinguishes two entries of the same method (e.g. two learning rates). */
      label: label.optional(),
      config: z.record(z.string(), z.unknown()).default({}),
    })
    .strict(),
]);

const datasetEntry = z
  .object({
    id: z.string().min(1),
    /** Name of the dataset in cell ids and reports (default: the id). */
    label: label.optional(),
    options: z.record(z.string(), z.unknown()).default({}),
    /** Training recipe of the original model and of the retrained reference (TrainConfig fields). */
    training: z.record(z.string(), z.unknown()).default({}),
    /** Target task of each partial-task setting (default: the dataset's first task). */
    targets: z.array(z.string().min(1)).min(1).optional(),
    /** Method config overrides for this dataset, by method id. */
    methodConfig: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
  })
  .strict();

/** The JSON grid schema (see the app's README for a worked example). */
export const gridSchema = z
  .object({
    name: label.default('grid'),
    datasets: z.array(datasetEntry).min(1),
    settings: z
      .array(z.enum(['full-task', 'partial-task']))
      .min(1)
      .default(['full-task', 'partial-task']),
    methods: z.union([z.literal('all'), z.array(methodEntry).min(1)]).default('all'),
    seeds: z.array(z.number().int().min(0)).min(1).default([0]),
    /** Fraction of the train split each forget request removes. */
    ratio: z.number().gt(0).lt(1).default(0.1),
    evaluation: z
      .object({ retainSample: z.number().int().min(1).optional() })
      .strict()
      .default({}),
  })
  .strict();

/** A grid as written in a JSON file (every field with a default may be left out). */
export type GridInput = z.input<typeof gridSchema>;
/** A validated grid with its defaults filled in. */
export type Grid = z.output<typeof gridSchema>;

/**
 * Validates a grid, naming the offending field in the error (`grid.datasets[0].id`, …).
 *
 * @param source - where the grid came from, for the error message (a file name or preset).
 * @example
 * ```ts
 * const grid = parseGrid({ datasets: [{ id: 'scenes' }], methods: ['salun'] });
 * grid.seeds; // [0]
 * ```
 */
export function parseGrid(value: unknown, source = 'grid'): Grid {
  const parsed = gridSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
    const field = `${source}${path.join('')}`;
    const reason =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.join(', ')}`
        : issue.message;
    let at: unknown = value;
    for (const p of issue.path) at = (at as Record<PropertyKey, unknown> | undefined)?.[p];
    throw new ConfigError(field, at, reason);
  }
  return parsed.data;
}

/**
 * Reads and validates a JSON grid file. A missing or unparsable file is a `CheckpointError`
 * naming the file; an invalid grid a `ConfigError` naming the field.
 *
 * @example
 * ```ts
 * const grid = await readGrid('grids/lr-sweep.json');
 * ```
 */
export async function readGrid(path: string): Promise<Grid> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CheckpointError(path, `cannot read the grid: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheckpointError(path, `not valid JSON: ${(error as Error).message}`);
  }
  return parseGrid(json, path);
}

/** The role a registered method plays in the comparison. */
export function methodRole(id: string): MethodRole {
  if (id === 'retrain') return 'reference';
  if (id === 'interference-aware') return 'ours';
  if (INTERFERENCE_AWARE_METHODS.some((m) => m.id === id)) return 'ablation';
  return 'baseline';
}

/** One cell of an expanded grid. */
export interface Cell {
  /** Directory name of the cell (unique within the grid). */
  readonly id: string;
  readonly datasetLabel: string;
  readonly methodLabel: string;
  readonly setting: 'full-task' | 'partial-task';
  /** Target tasks (every task in full-task). */
  readonly targetTasks: readonly string[];
  readonly spec: CellSpec;
}

/** An expanded grid: its cells in run order, and what the reports need about each method. */
export interface Plan {
  readonly grid: Grid;
  readonly cells: readonly Cell[];
  readonly methods: readonly MethodInfo[];
}

/**
 * Expands a grid into cells: datasets × settings (partial-task: one per target) × methods × seeds.
 * Checks every dataset id, option, task and method id up front, so a typo fails before hours of
 * training. Loads a dataset only when its source does not declare its tasks.
 *
 * @example
 * ```ts
 * const plan = await expandGrid(PRESETS.quick, createRegistries());
 * plan.cells.length; // datasets × settings × methods × seeds
 * ```
 */
export async function expandGrid(grid: Grid, registries: Registries): Promise<Plan> {
  const methodEntries: {
    id: string;
    label?: string | undefined;
    config: Record<string, unknown>;
  }[] =
    grid.methods === 'all'
      ? registries.methods.list().map((m) => ({ id: m.id, config: {} }))
      : grid.methods.map((m) => (typeof m === 'string' ? { id: m, config: {} } : m));
  const methods: MethodInfo[] = [];
  const methodLabels = new Set<string>();
  for (const [i, m] of methodEntries.entries()) {
    const method = registries.methods.get(m.id);
    const lbl = m.label ?? m.id;
    if (methodLabels.has(lbl)) {
      throw new ConfigError(
        `grid.methods[${i}]`,
        m,
        `method '${lbl}' appears twice; give one of them a distinct "label"`,
      );
    }
    methodLabels.add(lbl);
    methods.push({
      id: lbl,
      displayName: lbl === m.id ? method.displayName : `${method.displayName} (${lbl})`,
      role: methodRole(m.id),
    });
  }
  const datasetLabels = new Set<string>();
  const cells: Cell[] = [];
  for (const [di, d] of grid.datasets.entries()) {
    const dLabel = d.label ?? d.id;
    if (datasetLabels.has(dLabel)) {
      throw new ConfigError(
        `grid.datasets[${di}]`,
        d.id,
        `dataset '${dLabel}' appears twice; give one of them a distinct "label"`,
      );
    }
    datasetLabels.add(dLabel);
    for (const id of Object.keys(d.methodConfig)) registries.methods.get(id);
    // Validate the options now (naming the field), and learn the task names without loading when
    // the source declares them.
    const descriptor = registries.datasets.get(d.id);
    const options = resolveDatasetOptions(descriptor, d.options);
    const tasks = descriptor.tasks ?? (await descriptor.load(options)).tasks;
    const taskNames = tasks.map((t) => t.name);
    const targets = d.targets ?? [taskNames[0]!];
    for (const t of targets) {
      if (!taskNames.includes(t)) {
        throw new ConfigError(
          `grid.datasets[${di}].targets`,
          t,
          `'${d.id}' has no task '${t}' (tasks: ${taskNames.join(', ')})`,
        );
      }
    }
    const settings: { setting: 'full-task' | 'partial-task'; tasks: 'all' | string[] }[] = [];
    for (const s of grid.settings) {
      if (s === 'full-task') settings.push({ setting: s, tasks: 'all' });
      else for (const t of targets) settings.push({ setting: s, tasks: [t] });
    }
    for (const { setting, tasks } of settings) {
      const settingLabel = tasks === 'all' ? 'full' : `partial-${tasks.join('+')}`;
      for (const [mi, m] of methodEntries.entries()) {
        const mLabel = methods[mi]!.id;
        for (const seed of grid.seeds) {
          const config = { ...d.methodConfig[m.id], ...m.config };
          cells.push({
            id: `${dLabel}__${settingLabel}__${mLabel.replace(/\//g, '~')}__s${seed}`,
            datasetLabel: dLabel,
            methodLabel: mLabel,
            setting,
            targetTasks: tasks === 'all' ? taskNames : tasks,
            spec: {
              dataset: { id: d.id, options: d.options },
              training: d.training,
              request: { ratio: grid.ratio, tasks },
              method: { id: m.id, config },
              seed,
              evaluation:
                grid.evaluation.retainSample === undefined
                  ? {}
                  : { retainSample: grid.evaluation.retainSample },
            },
          });
        }
      }
    }
  }
  return { grid, cells, methods };
}
