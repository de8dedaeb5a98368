// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Product code ships alone (build, Docker image): nothing of the local stack, the tests or their packages.
const productOnly = {
  paths: ['@temporalio/testing', 'pngjs', 'jpeg-js', 'bullmq'].map((name) => ({
    name,
    message: 'Not a product dependency.',
  })),
  patterns: [{ group: ['**/dev/**', '**/test/**'], message: 'src/ must not import the local stack or tests.' }],
};

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.data/', 'coverage/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-deprecated': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'object-shorthand': ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', productOnly] },
  },
  {
    // Workflow code is replayed in a sandbox: no I/O, no Node built-ins, nothing non-deterministic. The contract
    // module is bundled with it, so the same holds there.
    files: ['src/workflows/**/*.ts', 'src/contract.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          ...productOnly,
          paths: [
            ...productOnly.paths,
            ...builtinModules.flatMap((name) => [name, `node:${name}`]),
            { name: '../activities', allowTypeImports: true, message: 'Workflows import activities as types only.' },
          ],
          patterns: [
            ...productOnly.patterns,
            { group: ['**/process/**'], message: 'Workflow code runs in the sandbox: no process plumbing.' },
          ],
        },
      ],
    },
  },
  prettier,
);
