/**
 * A server with `health()` handling signals the default way, for `signals.test.ts` to start in a child process
 * (sending SIGTERM to the test runner itself would be unsafe). Prints `{"url": …}` once it listens.
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { fixtureServer } from '@mcp-middleware/core/testing';
import { health } from './health.js';

const handler = createMiddlewareHandler({
  server: fixtureServer(),
  middleware: [health({ drainTimeout: '10s' })],
  // Lets the test see when its call is in flight.
  routes: [{ path: '/test/in-flight', handle: () => Response.json({ inFlight: handler.host.inFlight }) }],
});
const { url } = await serve(handler, { port: 0 });
process.stdout.write(`${JSON.stringify({ url: url.href })}\n`);
