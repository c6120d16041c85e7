import { defineConfig } from 'vitest/config';

/**
 * The interop suite: real Go hashicorp/raft 1.1.2 processes on loopback. Run with
 * `npx vitest run -c vitest.interop.config.ts`; the global setup installs and builds the Go peer.
 */
export default defineConfig({
  test: {
    include: ['test/interop/**/*.test.ts'],
    globalSetup: ['test/interop/global-setup.ts'],
    // Real processes and real timeouts: generous limits, and one file at a time so clusters do
    // not compete for the CPU and blur elections.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
