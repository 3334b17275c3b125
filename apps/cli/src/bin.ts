#!/usr/bin/env node
/**
 * The `mtu` executable: runs the program and exits with its code (see `program.ts`).
 *
 * @module
 */
import { main } from './program.js';

// `mtu datasets | head`: a closed pipe ends the output quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
