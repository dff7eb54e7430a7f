/**
 * Serving the definition on SDK v2 (`@modelcontextprotocol/server`), bare: v2's own `createMcpHandler` (a fresh
 * server per request; 2025 clients through its stateless legacy fallback, 2026-07-28 clients per request) behind
 * its Node adapter, with v2's localhost `Host` guard in front as its documentation shows. The full-stack v2
 * variant comes with core's v2 interception point.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { localhostHostValidation, toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { conformanceDefinition } from './definition.js';
import { v2ServerFactory } from './sdk-v2.js';
import type { RunningServer, ServeOptions } from './serve-v1.js';

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
