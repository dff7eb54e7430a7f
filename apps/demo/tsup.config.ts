import { packageBuildConfig } from '../../tsup.shared.js';

// The container runs compiled JavaScript (`node dist/main.js`): no TypeScript loader at run time. Dependencies,
// workspace packages included, stay external and resolve to their own builds.
export default packageBuildConfig({
  entry: ['src/main.ts'],
  format: ['esm'],
  dts: false,
  tsconfig: 'tsconfig.json',
});
