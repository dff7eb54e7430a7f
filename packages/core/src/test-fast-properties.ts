/**
 * Child of server.test.ts, run with `--allow-natives-syntax`: wraps SDK servers of both lines, serves a call on
 * each, and prints whether V8 still keeps their objects in fast-properties mode (a dictionary-mode `Server` makes
 * every property the SDK reads on it a hash lookup, for as long as the server lives).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import { wrapServer } from './server.js';
import type { Middleware } from './types.js';

// Natives syntax cannot be written in TypeScript: compiled at run time, where the flag allows it.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
const noop: Middleware = { name: 'noop', rpc: (_call, next) => next() };

async function served(server: McpServer | Server): Promise<void> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'probe', version: '1.0.0' });
  await client.connect(clientSide);
  await client.ping();
  await client.close();
}

const v1 = new McpServer({ name: 'v1', version: '1.0.0' });
v1.registerTool('t', {}, async () => ({ content: [] }));
wrapServer(v1, { middleware: [noop] });
await served(v1);

const low = new Server({ name: 'low', version: '1.0.0' }, { capabilities: {} });
wrapServer(low, { middleware: [noop] });
await served(low);

const v2 = new V2McpServer({ name: 'v2', version: '1.0.0' });
wrapServer(v2, { middleware: [noop] });

process.stdout.write(
  `${JSON.stringify({
    'SDK v1 McpServer.server': hasFastProperties(v1.server),
    'SDK v1 Server': hasFastProperties(low),
    'SDK v1 handler map': hasFastProperties(
      (low as unknown as { _requestHandlers: object })._requestHandlers,
    ),
    'SDK v2 McpServer.server': hasFastProperties(v2.server),
  })}\n`,
);
