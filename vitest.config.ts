import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration and browser tests train real models and start real processes.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: files run one at a time so training tests do not starve each other.
    fileParallelism: false,
  },
});
