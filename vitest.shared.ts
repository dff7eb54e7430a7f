import { basename, resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * One vitest setup for every package: workspace packages resolve to their sources (the
 * `mcp-middleware-source` export condition), and each run leaves a JSON report that
 * `scripts/test-summary.mjs` totals for CI.
 */
export function packageTestConfig(dir: string, overrides: { testTimeout?: number } = {}) {
  const name = basename(dir);
  return defineConfig({
    resolve: { conditions: ['mcp-middleware-source'] },
    ssr: { resolve: { conditions: ['mcp-middleware-source'] } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 30_000,
      reporters: ['default', ['json', { outputFile: resolve(dir, '../../.vitest-reports', `${name}.json`) }]],
      passWithNoTests: false,
    },
  });
}
