#!/usr/bin/env node
// Sums vitest's per-package "Tests  N passed | M failed" lines in a log and prints one plain line
// "N passed, M failed" (", K skipped" when some were skipped).
import { readFileSync } from 'node:fs';

const ANSI = new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g');

const text = readFileSync(process.argv[2] ?? 0, 'utf8').replace(ANSI, '');
let passed = 0;
let failed = 0;
let skipped = 0;
let runs = 0;
for (const line of text.split('\n')) {
  const m = line.match(/\bTests\s+(.*)\(\d+\)\s*$/);
  if (!m) continue;
  runs += 1;
  for (const [, n, what] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (what === 'passed') passed += Number(n);
    else if (what === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
}
if (runs === 0) {
  console.log('test-summary: no test run found in the log');
  process.exit(0);
}
console.log(`${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : ''));
