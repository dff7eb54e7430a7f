import { defineConfig, type Options } from 'tsup';

/**
 * One build setup for every package (beside `vitest.shared.ts`): ESM and CJS with declarations for Node 20+.
 * Workspace packages resolve to their sources here too (the `mcp-middleware-source` condition), so building one
 * package alone works before its dependencies are built; they stay external imports in the output.
 */
export function packageBuildConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    // MCP_MIDDLEWARE_NO_DTS=1 skips declarations where nobody reads them (the demo's container image).
    dts:
      process.env['MCP_MIDDLEWARE_NO_DTS'] === '1'
        ? false
        : { compilerOptions: { customConditions: ['mcp-middleware-source'] } },
    clean: true,
    sourcemap: true,
    target: 'node20',
    tsconfig: 'tsconfig.build.json',
    ...overrides,
  });
}
