/**
 * `mtu methods [id]`: the registered unlearning methods, or one method's config.
 *
 * @module
 */
import type { Command } from 'commander';
import { createRegistries } from '@mtu/bench';
import type { AnyUnlearner } from '@mtu/unlearning';
import { z } from 'zod';
import { printJson, println, show, table } from '../output.js';

/** Descriptions of a method's config fields, from its schema (empty when not representable). */
function fieldDescriptions(method: AnyUnlearner): Record<string, string> {
  try {
    const schema = z.toJSONSchema(method.schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, { description?: unknown }>;
    };
    const out: Record<string, string> = {};
    for (const [k, p] of Object.entries(schema.properties ?? {})) {
      if (typeof p.description === 'string') out[k] = p.description;
    }
    return out;
  } catch {
    return {};
  }
}

function summary(m: AnyUnlearner): Record<string, unknown> {
  return {
    id: m.id,
    displayName: m.displayName,
    reference: m.reference,
    settings: m.settings,
    approximate: m.approximate,
  };
}

/** Registers `mtu methods`. */
export function registerMethods(program: Command): void {
  program
    .command('methods')
    .summary('list the unlearning methods, or show one method’s config')
    .description(
      'Without an id: every registered method with its display name, paper and the settings it supports (full-task, partial-task). With an id: that method and its config defaults, i.e. what --config and --set of `mtu unlearn` accept.',
    )
    .argument('[id]', 'a method id')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu methods
  $ mtu methods salun
  $ mtu methods interference-aware --json`,
    )
    .action((id: string | undefined, opts: { json?: boolean }) => {
      const { methods } = createRegistries();
      if (id !== undefined) {
        const m = methods.get(id);
        const descriptions = fieldDescriptions(m);
        if (opts.json === true) {
          printJson({
            ...summary(m),
            defaults: m.defaults,
            datasetDefaults: m.datasetDefaults ?? {},
            descriptions,
          });
          return;
        }
        println(`${m.id}: ${m.displayName}`);
        println(
          `  paper: ${m.reference.title} (${m.reference.authors}, ${m.reference.venue}) ${m.reference.url}`,
        );
        println(`  settings: ${m.settings.join(', ')}`);
        println(`  approximate: ${m.approximate ? 'yes' : 'no (exact)'}`);
        println();
        println(
          table(
            ['option', 'default', 'description'],
            Object.entries(m.defaults as unknown as Record<string, unknown>).map(([k, v]) => [
              k,
              show(v),
              descriptions[k] ?? '',
            ]),
            '  ',
          ),
        );
        const perDataset = Object.entries(m.datasetDefaults ?? {});
        if (perDataset.length > 0) {
          println();
          println('  per-dataset defaults:');
          for (const [ds, values] of perDataset) println(`    ${ds}: ${JSON.stringify(values)}`);
        }
        return;
      }
      const list = methods.list();
      if (opts.json === true) {
        printJson(list.map(summary));
        return;
      }
      println(
        table(
          ['id', 'name', 'settings', 'paper'],
          list.map((m) => [
            m.id,
            m.displayName,
            m.settings.join(', '),
            `${m.reference.title} (${m.reference.venue})`,
          ]),
        ),
      );
    });
}
