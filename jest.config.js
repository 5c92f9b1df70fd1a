/** Jest runs every test of the monorepo: libs and services (unit + integration) and test/ (end-to-end). */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    // Type checking is done once by `tsc --noEmit` in the test command; ts-jest only transpiles here.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  testMatch: ['<rootDir>/libs/*/test/**/*.test.ts', '<rootDir>/services/*/test/**/*.test.ts', '<rootDir>/tools/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
  // One FerretDB + RabbitMQ for the whole run; each test file isolates itself by database names and prefixes.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  maxWorkers: 2,
  verbose: false,
};
