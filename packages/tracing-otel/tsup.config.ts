import { packageBuildConfig } from '../../tsup.shared.js';

export default packageBuildConfig({ entry: ['src/index.ts', 'src/testing.ts'] });
