import { packageBuildConfig } from '../../tsup.shared.js';

export default packageBuildConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'testing/v2': 'src/testing/v2.ts',
    'testing/redis': 'src/testing/redis.ts',
  },
  // The test fixture server's schemas use zod, which every SDK install already has (the SDK requires it); the
  // testing helpers run under the test runner's own vitest, never a bundled copy of it.
  external: ['zod', 'vitest'],
});
