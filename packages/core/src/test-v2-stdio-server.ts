/** An SDK v2 server over stdio (serveStdio), its requests through wrapServer: the child of sdk-v2-stdio.test.ts. */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { callOf, createKey } from './call.js';
import { MiddlewareError } from './errors.js';
import { wrapServer } from './server.js';
import type { Middleware } from './types.js';

const ORDER = createKey<string[]>('test/order');

const policy: Middleware = {
  name: 'policy',
  async rpc(call, next) {
    if (call.toolName === 'forbidden') throw new MiddlewareError('forbidden', 'Not over stdio either');
    call.set(ORDER, ['policy']);
    // stderr is the log channel on stdio: one line per call, read by the test.
    console.error(
      JSON.stringify({ rpc: call.method, tool: call.toolName, version: call.protocolVersion ?? null }),
    );
    return next();
  },
};

serveStdio(() => {
  const server = new McpServer({ name: 'v2-stdio', version: '1.0.0' });
  server.registerTool('order', { description: 'Shows what middleware stored' }, async (ctx) => ({
    content: [{ type: 'text', text: JSON.stringify(callOf(ctx)?.get(ORDER) ?? null) }],
  }));
  server.registerTool('forbidden', { description: 'Refused' }, async () => ({
    content: [{ type: 'text', text: 'ran' }],
  }));
  return wrapServer(server, { middleware: [policy] });
});
