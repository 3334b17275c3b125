#!/usr/bin/env node
// Prints a line of the README's Quick start block: `main` (line 1) or `test` (line 2).
// .ci/run uses it so CI runs exactly what the README tells a new user to run.
import { readFileSync } from 'node:fs';

const which = process.argv[2];
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.split(/^## Quick start\s*$/m)[1];
const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
const lines = (block ?? '')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
if (lines.length !== 2 || (which !== 'main' && which !== 'test')) {
  console.error(
    `quickstart: README.md '## Quick start' must open with an sh block of exactly two lines (found ${lines.length}); usage: quickstart.mjs main|test`,
  );
  process.exit(1);
}
console.log(which === 'main' ? lines[0] : lines[1]);
