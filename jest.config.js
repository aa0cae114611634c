/**
 * Four projects, split by speed: `unit` (no CDK synthesis, no whole stack, no browser: the seconds-long
 * loop of `npm run test:unit`), `stack` (synthesizes the CDK app), `system` (the whole local stack) and
 * `browser` (the console in headless Chromium). `npm test` runs all.
 */
const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // @middy/core ships ESM only; let swc turn it into CommonJS for jest.
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  setupFiles: ['<rootDir>/test/setup.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 60_000,
  projects: ['unit', 'stack', 'system', 'browser'].map((name) => ({
    ...shared,
    displayName: name,
    testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  })),
};
