import { defineConfig } from 'vitest/config';

// Root config for `pnpm test:watch`: every package is a project with its own vitest.config.ts.
export default defineConfig({
  test: { projects: ['packages/*', 'apps/*'] },
});
