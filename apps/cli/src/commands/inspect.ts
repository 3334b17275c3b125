/**
 * `mtu inspect`: what a checkpoint holds: its architecture, provenance and parameter counts.
 *
 * @module
 */
import type { Command } from 'commander';
import { modelParams } from '@mtu/multitask-model';
import type { RunContext } from '../context.js';
import { readCheckpoint } from '../load.js';
import { fmtInt, printJson, println, show, table } from '../output.js';
import type { CommandRunner } from '../program.js';

/** Registers `mtu inspect`. */
export function registerInspect(program: Command, run: CommandRunner): void {
  program
    .command('inspect')
    .summary('show a checkpoint’s architecture, provenance and parameter counts')
    .description(
      'Read a checkpoint (verifying its checksum and tensors) and show its spec (input shape, backbone, one head per task), its provenance (training recipe, dataset and options, forget request, method and config, backend, versions, git SHA) and the parameter count of each group (shared backbone, each head) and in total.',
    )
    .argument('<ckpt>', 'a .safetensors checkpoint written by mtu')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ mtu inspect original.safetensors
  $ mtu inspect unlearned.safetensors --json | jq .provenance.extra.method`,
    )
    .action(run((ctx, flags: { json?: boolean }, args) => inspectCommand(ctx, flags, args[0]!)));
}

async function inspectCommand(
  ctx: RunContext,
  flags: { json?: boolean },
  file: string,
): Promise<void> {
  const { model, provenance } = await readCheckpoint(ctx, file);
  try {
    const spec = model.spec;
    const groups: Record<string, number> = {};
    for (const p of modelParams(spec)) {
      groups[p.group] = (groups[p.group] ?? 0) + p.shape.reduce((a, b) => a * b, 1);
    }
    const total = Object.values(groups).reduce((a, b) => a + b, 0);
    if (flags.json === true) {
      printJson({ file, spec, provenance, parameters: { groups, total } });
      return;
    }
    println(`${file}`);
    println(
      `  input ${spec.inputShape.join('×')}; backbone ${spec.backbone.kind}, width ${spec.backbone.width}, ${spec.backbone.stages} stages`,
    );
    println();
    println(
      table(
        ['head', 'kind', 'outputs', 'hidden', 'size', 'parameters'],
        spec.heads.map((h) => [
          h.task,
          h.kind,
          String(h.outputs),
          String(h.hidden),
          h.size === undefined ? '–' : h.size.join('×'),
          fmtInt(groups[h.task] ?? 0),
        ]),
        '  ',
      ),
    );
    println();
    println(
      `  parameters: ${Object.entries(groups)
        .map(([g, n]) => `${g} ${fmtInt(n)}`)
        .join(', ')}; total ${fmtInt(total)}`,
    );
    println();
    println('provenance:');
    const { training, dataset, request, extra } = provenance;
    if (dataset !== undefined)
      println(`  dataset: ${dataset.id} ${JSON.stringify(dataset.options)}`);
    if (training !== undefined) println(`  training: ${JSON.stringify(training)}`);
    if (request !== undefined) {
      println(
        `  request: ${request.instances.length} instances, tasks ${show(request.tasks)}: ${JSON.stringify(request.instances)}`,
      );
    }
    for (const [k, v] of Object.entries(extra ?? {})) println(`  ${k}: ${show(v)}`);
    if (
      training === undefined &&
      dataset === undefined &&
      request === undefined &&
      extra === undefined
    ) {
      println('  (none recorded)');
    }
  } finally {
    model.dispose();
  }
}
