#!/usr/bin/env node
// The published command runs the compiled CLI. This file is committed (not built) so that installing the workspace
// links the bin without a warning before anything is built; in a checkout, `npm run apikey -- --owner …` runs the
// sources instead.
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
try {
  await import(cli.href);
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(`'${fileURLToPath(cli)}'`)) {
    throw error;
  }
  process.stderr.write(
    'mcp-middleware-apikey: this package is not built; in a checkout run `npm run apikey -- --owner <owner>`\n',
  );
  process.exitCode = 1;
}
