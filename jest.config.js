// Unit tests run without a cluster; integration and e2e tests share one real control plane started by
// test/setup/global-setup.ts (kube-apiserver, etcd and kube-controller-manager on 127.0.0.1).
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2024' } }] };
const common = { extensionsToTreatAsEsm: ['.ts'], transform, testEnvironment: 'node' };

export default {
  // Integration tests wait for a real cluster to converge (namespace deletion alone takes several seconds).
  testTimeout: 60_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
