/**
 * `mtu datasets`: the registered datasets, their tasks and their options.
 *
 * @module
 */
import type { Command } from 'commander';
import { createRegistries } from '@mtu/bench';
import { optionInfo } from '@mtu/datasets';
import { printJson, println, show, table } from '../output.js';

/** Registers `mtu datasets`. */
export function registerDatasets(program: Command): void {
  program
    .command('datasets')
    .summary('list the datasets, their tasks and options')
    .description(
      'List the registered datasets: id, description, tasks (name and kind) and options (name, type, default, description). Options are given to other commands as --option key=value.',
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu datasets
  $ mtu datasets --json | jq '.[0].options'`,
    )
    .action((opts: { json?: boolean }) => {
      const { datasets } = createRegistries();
      const list = datasets.list().map((d) => ({
        id: d.id,
        description: d.description,
        tasks: d.tasks ?? null,
        options: optionInfo(d).map((o) => ({
          name: o.name,
          type: o.type,
          default: o.default,
          required: o.required,
          description: o.description ?? null,
        })),
      }));
      if (opts.json === true) {
        printJson(list);
        return;
      }
      list.forEach((d, i) => {
        if (i > 0) println();
        println(`${d.id}: ${d.description}`);
        println(
          `  tasks: ${d.tasks === null ? '(known once loaded)' : d.tasks.map((t) => `${t.name} (${t.kind})`).join(', ')}`,
        );
        println(
          table(
            ['option', 'type', 'default', 'description'],
            d.options.map((o) => [
              o.name,
              o.type,
              o.required ? '(required)' : show(o.default),
              o.description ?? '',
            ]),
            '  ',
          ),
        );
      });
    });
}
