import { defineConfig } from 'vitest/config';

// Tests that build namespaces or load BPF programs share the kernel, so files
// run in separate processes (forks) and at most two at once on a 2-core box.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
