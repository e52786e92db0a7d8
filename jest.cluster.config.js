/**
 * The service suite (test/services/*.test.ts) once more, against a local 3-master Redis Cluster that the global
 * set-up starts and stops (or the cluster at REDIS_CLUSTER_NODES). `npm test` runs this after the main run.
 * The import's validation and resume tests run here too: a job spans the customer's slot and the global list of
 * running jobs, which a single server never objects to (a transaction over both was CROSSSLOT on a cluster).
 * @type {import('jest').Config}
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/services', '<rootDir>/test/import'],
  testMatch: ['<rootDir>/test/services/*.test.ts', '<rootDir>/test/import/validation.test.ts', '<rootDir>/test/import/resume.test.ts'],
  // Skipped on the cluster, on purpose: the round-trip counts watch the server with MONITOR, which sees one node only,
  // while a cluster spreads the customers over three masters. They run in the single-server run. (The page-cost
  // tests of directory.listing.test.ts are skipped inside that file for the same reason.)
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/services/directory.roundtrips.test.ts'],
  globalSetup: '<rootDir>/test/support/clusterGlobalSetup.ts',
  globalTeardown: '<rootDir>/test/support/clusterGlobalTeardown.ts',
  testTimeout: 60000,
  displayName: 'cluster',
};
