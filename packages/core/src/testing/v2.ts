/**
 * Helpers for testing middleware on SDK v2 (`@modelcontextprotocol/server` 2.x): its own `createMcpHandler` behind
 * `createMiddlewareHandler({ fetch })`, on a real HTTP server, and the v2 `Client` in either protocol era.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, type ClientOptions, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { toNodeHandler } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  createMcpHandler as createSdkHandler,
  type McpServer,
} from '@modelcontextprotocol/server';
import { afterEach } from 'vitest';
import { createMiddlewareHandler, type McpHandler, type McpHandlerOptions } from '../handler.js';
import { type NodeServer, serve } from '../node.js';

/** `legacy`: a 2025-11-25 client (v2's stateless legacy path); `modern`: a 2026-07-28 client (per request). */
export type Era = 'legacy' | 'modern';
export const ERAS: readonly Era[] = ['legacy', 'modern'];

/** The protocol revision a modern-era client pins. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

export interface V2TestServer {
  readonly handler: McpHandler;
  readonly node: NodeServer;
  /** The MCP endpoint URL. */
  readonly url: URL;
  /** The server's base URL. */
  readonly baseUrl: URL;
  close(): Promise<void>;
}

export interface V2TestServerOptions extends Omit<McpHandlerOptions, 'fetch' | 'server'> {
  /** Builds one v2 `McpServer` per request (v2's factory); `wrap` runs our RPC layer in it. */
  server: (wrap: <S extends object>(server: S) => S) => McpServer;
  /** The port to listen on, when the URL must be known up front (an OAuth resource identifier). @default a free one */
  port?: number;
}

/** Starts v2's `createMcpHandler(factory)` behind `createMiddlewareHandler({ fetch })` on 127.0.0.1, free port. */
export async function startV2TestServer(options: V2TestServerOptions): Promise<V2TestServer> {
  const { server, port, ...rest } = options;
  // The SDK's factory runs per request, so `handler` exists by the time it is called.
  const sdk = createSdkHandler(() => server((s) => handler.wrapServer(s)));
  const handler = createMiddlewareHandler({ ...rest, fetch: sdk.fetch });
  const node = await serve(handler, { port: port ?? 0, hostname: '127.0.0.1' });
  return {
    handler,
    node,
    url: new URL(options.path ?? '/mcp', node.url),
    baseUrl: node.url,
    close: async () => {
      await node.close();
      await sdk.close();
    },
  };
}

export interface GatedV2Server {
  /** The MCP endpoint URL. */
  readonly url: URL;
  /** The server's base URL. */
  readonly baseUrl: URL;
  close(): Promise<void>;
}

/**
 * Serves v2's own `createMcpHandler(factory)` WITHOUT this project's handler, behind a plain Fetch gate, the way a
 * v2 user calls `requireBearerAuth`: the gate answers with an `AuthInfo` (then `handler.fetch(req, { authInfo })`)
 * or a `Response` to send as is. v2's Node adapter serves it.
 */
export async function startGatedV2Server(
  gate: (req: Request) => Promise<AuthInfo | Response>,
  server: () => McpServer,
  port = 0,
): Promise<GatedV2Server> {
  const sdk = createSdkHandler(server);
  const http = createServer(
    toNodeHandler({
      fetch: async (req: Request) => {
        const answer = await gate(req);
        return answer instanceof Response ? answer : sdk.fetch(req, { authInfo: answer });
      },
    }),
  );
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  const baseUrl = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}`);
  return {
    url: new URL('/mcp', baseUrl),
    baseUrl,
    close: async () => {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await sdk.close();
    },
  };
}

export interface V2ConnectOptions {
  /** Extra HTTP headers on every request (an API key, say). */
  headers?: Record<string, string>;
  capabilities?: ClientOptions['capabilities'];
  name?: string;
}

/** Connects the v2 `Client` over Streamable HTTP, speaking the given era. */
export async function connectV2Client(url: URL, era: Era, options: V2ConnectOptions = {}): Promise<Client> {
  const client = new Client(
    { name: options.name ?? `v2-${era}`, version: '1.0.0' },
    {
      capabilities: options.capabilities ?? {},
      ...(era === 'modern' ? { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } } : {}),
    },
  );
  await client.connect(
    new StreamableHTTPClientTransport(url, { requestInit: { headers: options.headers ?? {} } }),
  );
  return client;
}

/**
 * Closes what a test opened once it ends: `const closing = closeAfterEach()` at the top of a file, then
 * `closing.track(server)` / `closing.track(client)`. Clients close before servers.
 */
export function closeAfterEach(): { track<T extends { close(): Promise<void> }>(thing: T): T } {
  const clients: Array<{ close(): Promise<void> }> = [];
  const others: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(others.splice(0).map((s) => s.close()));
  });
  return {
    track(thing) {
      (thing instanceof Client ? clients : others).push(thing);
      return thing;
    },
  };
}
