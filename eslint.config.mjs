import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import jest from 'eslint-plugin-jest';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'cdk.out/',
      '.local/',
      'coverage/',
      '**/*.js',
      '**/*.mjs',
      '!local/server/console/*.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'error',
    },
  },
  {
    files: ['lambdas/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportDeclaration[source.value='zod'][importKind!='type'] > ImportSpecifier[imported.name='z']",
          message:
            "Use `import * as z from 'zod'`: the named `z` keeps every zod locale in the Lambda bundles (+360 KB).",
        },
      ],
    },
  },
  {
    // The simulated model is a black-box test double of the model APIs: sharing code with the functions it
    // answers would let a bug on one side hide the same bug on the other.
    files: ['local/simulated-model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)lambdas(/|$)',
              message: 'The simulated model is a test double: it imports nothing from lambdas/.',
            },
          ],
        },
      ],
    },
  },
  {
    // The console's page script: plain browser JavaScript, type-checked by its own tsconfig (checkJs).
    files: ['local/server/console/*.js'],
    languageOptions: { sourceType: 'module', globals: { ...globals.browser, dagre: 'readonly' } },
  },
  {
    files: ['test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/expect-expect': [
        'error',
        { assertFunctionNames: ['expect', 'expect*', 'template.has*', 'template.resourceCountIs'] },
      ],
      // Tests index into arrays they just built; a failed lookup fails the test anyway.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
