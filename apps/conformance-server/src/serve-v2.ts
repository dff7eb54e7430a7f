/**
 * Serving the definition on SDK v2 (`@modelcontextprotocol/server`), bare: v2's own `createMcpHandler` (a fresh
 * server per request; 2025 clients through its stateless legacy fallback, 2026-07-28 clients per request) behind
 * its Node adapter, with v2's localhost `Host` guard in front as its documentation shows; and the full stack: the
 * same v2 handler behind core's HTTP layer, its servers wrapped for the RPC layer.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { ToolError } from '@mcp-middleware/errors';
import { localhostHostValidation, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { conformanceDefinition } from './definition.js';
import { v2ServerFactory } from './sdk-v2.js';
import type { RunningServer, ServeOptions } from './serve-v1.js';
import { conformanceStack, type StackOptions } from './stack.js';

export async function serveBareV2(options: ServeOptions = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const newServer = v2ServerFactory(conformanceDefinition({ toolError: (message) => new Error(message) }));
  const handler = createMcpHandler(() => newServer());
  const toNode = toNodeHandler(handler);
  const allowedHost = localhostHostValidation();
  const server = createServer((req, res) => {
    if (!allowedHost(req, res)) return;
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    void toNode(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, hostname, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://${hostname}:${port}/mcp`),
    async close() {
      await handler.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The same definition on SDK v2 through core's handler and every package. */
export async function serveStackV2(options: ServeOptions & StackOptions = {}): Promise<RunningServer> {
  const stack = conformanceStack(options);
  const newServer = v2ServerFactory(
    conformanceDefinition({ toolError: (message) => new ToolError(message) }),
    // errs.tool() takes the handler's last argument, `extra` on v1 and `ctx` on v2, and finds its call through it.
    { wrapTool: (tool) => stack.errors.tool(tool as never) as unknown as typeof tool },
  );
  // SDK v2 calls the factory per request, by which time `handler` exists.
  const sdk = createMcpHandler(() => handler.wrapServer(newServer()));
  const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware: stack.middleware });
  const node = await serve(handler, { port: options.port ?? 0, hostname: options.hostname ?? '127.0.0.1' });
  return {
    url: new URL('/mcp', node.url),
    async close() {
      await node.close();
      await sdk.close();
    },
  };
}
