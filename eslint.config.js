import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'demo/**', 'warehouse/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must stay deterministic: no Node built-ins, no I/O.
    files: ['workflows/src/workflows.ts', 'workflows/src/shared.ts', 'workflows/src/maintenance-workflow.ts', 'workflows/src/maintenance-shared.ts'],
    // (types may come from anywhere: the bundler erases type-only imports)
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*', 'fs', 'path', 'os', 'http', 'https', 'child_process', '@sluice/warehouse', '@sluice/warehouse/*', 'undici'], allowTypeImports: true }] },
      ],
    },
  },
);
