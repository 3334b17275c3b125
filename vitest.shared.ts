import { defineProject } from 'vitest/config';

/**
 * The one vitest project config every package re-exports. Tests resolve sibling packages from
 * source through the `@mtu/source` export condition, so no build is needed before testing.
 */
export const sharedProject = defineProject({
  ssr: { resolve: { conditions: ['@mtu/source'] } },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: [new URL('./vitest.setup.ts', import.meta.url).pathname],
    restoreMocks: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
