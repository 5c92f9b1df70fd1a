import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.cache/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The domain is pure: storage and transport are behind ports (its own interfaces), adapters live in
    // data-access/ and entry-points/.
    files: ['services/*/src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...['mongoose', 'express', 'amqplib', '@pay/db', '@pay/http', '@pay/messaging', '@pay/outbox', '@pay/runtime', '@pay/auth'].map((name) => ({
              name,
              message: 'The domain is pure: storage and transport are behind ports (declare an interface in domain/, implement it in data-access/ or entry-points/).',
            })),
            // The provider client interface is a port the domain may name; its HTTP implementations are not.
            { name: '@pay/provider-clients', allowTypeImports: true, message: 'The domain talks to providers through the ProviderClient port: import its types only (`import type`).' },
          ],
          patterns: [
            {
              group: ['@pay/provider-clients/*', 'mongoose/*', 'express/*', 'amqplib/*', '@pay/db/*', '@pay/http/*', '@pay/messaging/*', '@pay/outbox/*', '@pay/runtime/*', '@pay/auth/*'],
              message: 'The domain is pure: storage and transport are behind ports (declare an interface in domain/, implement it in data-access/ or entry-points/).',
            },
          ],
        },
      ],
    },
  },
);
