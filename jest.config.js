// Unit tests run without a cluster. Integration tests share one real control plane started by
// test/setup/global-setup.ts (kube-apiserver, etcd and kube-controller-manager on 127.0.0.1); those that run
// sharders, which act on every ring of a cluster, start their own. End-to-end scenarios (*.e2e.ts) run the
// sharder and shards as real processes on a control plane of their own.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2024' } }] };
// The package's self-reference (`controller-rings/shard`, used by examples/) resolves to the sources through the
// `controller-rings-source` export condition, as for node and tsc; 'node' and 'node-addons' are the environment's
// own conditions, which the option replaces.
const testEnvironmentOptions = { customExportConditions: ['controller-rings-source', 'node', 'node-addons'] };
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  // The image's package.json has the package's name too (its programs import the package by name), which jest's
  // module map would otherwise report as a collision.
  modulePathIgnorePatterns: ['<rootDir>/deploy/image/package.json'],
  transform,
  testEnvironment: 'node',
  testEnvironmentOptions,
};

export default {
  // Integration tests wait for a real cluster to converge (namespace deletion alone takes several seconds).
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integration/'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e.ts'] },
  ],
};
