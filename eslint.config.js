// @ts-check
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const tfjsBan = {
  group: ['@tensorflow/*'],
  message:
    "Only core-tensors' src/tf.ts and src/backend.ts import TensorFlow.js; use `tf` from '@mtu/core-tensors' (or './tf.js' inside core-tensors).",
};
const deepImportBan = {
  group: ['@mtu/*/src/*', '@mtu/*/dist/*'],
  message: "Import a package's public entry ('@mtu/x' or '@mtu/x/testing'), not its files.",
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/coverage/**',
      '**/.turbo/**',
      'docs/api/**',
      '**/node_modules/**',
      'patches/**',
      // AssemblyScript (compiled by asc into src/kernels/winograd-wasm.ts and f64-wasm.ts), not
      // TypeScript.
      'packages/core-tensors/assembly/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['*.ts', 'packages/*/vitest.config.ts', 'apps/*/vitest.config.ts'],
          defaultProject: 'tsconfig.base.json',
          // Root configs plus one vitest.config.ts per package and app.
          maximumDefaultProjectFileMatchCount_THIS_WILL_SLOW_DOWN_LINTING: 40,
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/consistent-type-exports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-imports': ['error', { patterns: [tfjsBan, deepImportBan] }],
      'no-restricted-properties': [
        'error',
        {
          object: 'Math',
          property: 'random',
          message: 'Every random draw takes a seeded Rng (createRng from @mtu/core-tensors).',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportDefaultDeclaration',
          message: 'Use named exports (default exports only in *.config.* files).',
        },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // The only modules allowed to import TensorFlow.js: tf.ts (the umbrella) and backend.ts
    // (backend packages). The rest of core-tensors uses `tf` from './tf.js' too. The kernel
    // micro-benchmark imports the wasm package early to time its stock kernels against MTU's.
    files: [
      'packages/core-tensors/src/tf.ts',
      'packages/core-tensors/src/backend.ts',
      'packages/core-tensors/src/kernels/conv-grad.bench.ts',
    ],
    rules: { 'no-restricted-imports': ['error', { patterns: [deepImportBan] }] },
  },
  {
    files: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.config.*', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['scripts/**/*.mjs', 'packages/*/scripts/**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
  prettier,
);
