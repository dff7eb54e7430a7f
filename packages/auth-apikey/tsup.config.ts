import { defineConfig } from 'tsup';

export default defineConfig({
  // cli.ts is what bin/mcp-middleware-apikey.js runs (package.json "bin").
  entry: ['src/index.ts', 'src/cli.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
});
