import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'coverage/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The analysis is the pure core: it computes from columns it is given and stores nothing, so
    // tests and the benchmark run it without a database and no import runs back up to the shell.
    files: ['src/analysis/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['pg', 'bullmq', 'ioredis', 'pino', 'node-cron'],
              message: 'src/analysis is pure: no I/O.',
            },
            {
              group: ['**/storage/*', '**/analyzer/*', '**/live/*'],
              message: 'src/analysis imports nothing from the shell.',
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's browser modules (docs/DASHBOARD.md): plain ES modules, no build step.
    files: ['src/web/dashboard/assets/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'fetch',
          'EventSource',
          'URLSearchParams',
          'localStorage',
          'matchMedia',
          'addEventListener',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
