import { packageBuildConfig } from '../../tsup.shared.js';

// cli.ts is what bin/mcp-middleware-apikey.js runs (package.json "bin").
export default packageBuildConfig({ entry: ['src/index.ts', 'src/cli.ts'] });
