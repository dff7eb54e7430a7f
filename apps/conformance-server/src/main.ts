/**
 * The conformance server, for `scripts/conformance.mjs` or by hand:
 *
 *   node --conditions=mcp-middleware-source --import tsx src/main.ts --stack     # every package (the default)
 *   node --conditions=mcp-middleware-source --import tsx src/main.ts --bare      # the SDK alone
 *   … src/main.ts --bare --sdk v2                                                # SDK v2 alone
 *   … src/main.ts --stack --sdk v2                                               # SDK v2 with every package
 *   CONFORMANCE_MODE=bare PORT=3001 npm start
 *
 * Prints `listening on <url>` to stdout once it accepts connections; JSON logs (stack) go to stderr.
 */
import { type RunningServer, serveBareV1, serveStackV1 } from './serve-v1.js';
import { serveBareV2, serveStackV2 } from './serve-v2.js';

function modeOf(argv: readonly string[]): 'bare' | 'stack' {
  if (argv.includes('--bare')) return 'bare';
  if (argv.includes('--stack')) return 'stack';
  const env = process.env['CONFORMANCE_MODE'] ?? 'stack';
  if (env !== 'bare' && env !== 'stack') {
    console.error(`conformance-server: CONFORMANCE_MODE must be 'bare' or 'stack', got '${env}'`);
    process.exit(2);
  }
  return env;
}

const mode = modeOf(process.argv.slice(2));
const port = Number(process.env['PORT'] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`conformance-server: PORT must be a port number, got '${process.env['PORT']}'`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const sdk = argv.includes('--sdk') ? argv[argv.indexOf('--sdk') + 1] : 'v1';
if (sdk !== 'v1' && sdk !== 'v2') {
  console.error(`conformance-server: --sdk must be v1 or v2, got '${sdk}'`);
  process.exit(2);
}

let server: RunningServer;
if (sdk === 'v2') server = mode === 'bare' ? await serveBareV2({ port }) : await serveStackV2({ port });
else server = mode === 'bare' ? await serveBareV1({ port }) : await serveStackV1({ port });
console.log(`conformance-server (${mode}, SDK ${sdk}) listening on ${server.url.href}`);

if (mode === 'bare') {
  // The stack drains on these through its health middleware; the bare server just closes.
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
