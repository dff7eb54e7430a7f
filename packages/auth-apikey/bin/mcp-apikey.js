#!/usr/bin/env node
// Deprecated alias: `mcp-apikey` is not a name this project owns on npm. Kept so existing scripts keep working.
process.stderr.write('mcp-apikey is deprecated: use mcp-middleware-apikey (same options)\n');
await import('./mcp-middleware-apikey.js');
