#!/usr/bin/env node
/**
 * `mtu-bench`: runs a benchmark grid (a preset or a JSON file), resumably, then writes and prints
 * the reports. See the app's README.
 *
 * @module
 */
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `mtu-bench: ${error instanceof Error ? (process.env['MTU_DEBUG'] === '1' ? (error.stack ?? error.message) : error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
