/**
 * Serving the definition on SDK v1, two ways that the conformance comparison sets side by side:
 * - bare: the SDK alone, as its own documentation serves Streamable HTTP (its Express app with DNS rebinding
 *   protection, one `StreamableHTTPServerTransport` per session). No mcp-middleware code on the path.
 * - stack: core's handler and `serve()`, with every package's middleware (see `stack.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { ToolError } from '@mcp-middleware/errors';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { conformanceDefinition } from './definition.js';
import { v1ServerFactory } from './sdk-v1.js';
import { conformanceStack, type StackOptions } from './stack.js';

export interface ServeOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Loopback, so both variants refuse other `Host` headers (the suite's DNS rebinding scenario). @default '127.0.0.1' */
  hostname?: string;
}

export interface RunningServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:41234/mcp`. */
  readonly url: URL;
  close(): Promise<void>;
}

function jsonRpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

/** The SDK on its own: what the stack is compared against. */
export async function serveBareV1(options: ServeOptions = {}): Promise<RunningServer> {
  const hostname = options.hostname ?? '127.0.0.1';
  const newServer = v1ServerFactory(conformanceDefinition({ toolError: (message) => new Error(message) }));
  const app = createMcpExpressApp({ host: hostname });
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  app.all('/mcp', async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      if (sessionId !== undefined) {
        res.status(404).json(jsonRpcError(-32001, 'Session not found'));
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        res.status(400).json(jsonRpcError(-32000, 'Bad Request: no session; send initialize first'));
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await newServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });

  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, hostname, (error?: Error) =>
      error ? reject(error) : resolve(listening),
    );
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://${hostname}:${port}/mcp`),
    async close() {
      for (const transport of sessions.values()) await transport.close().catch(() => {});
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The same definition through core's handler and every package. */
export async function serveStackV1(options: ServeOptions & StackOptions = {}): Promise<RunningServer> {
  const stack = conformanceStack(options);
  const newServer = v1ServerFactory(
    conformanceDefinition({ toolError: (message) => new ToolError(message) }),
    {
      wrapTool: (tool) => stack.errors.tool(tool),
    },
  );
  const handler = createMiddlewareHandler({
    server: ({ jsonSchemaValidator }) => newServer({ jsonSchemaValidator }),
    middleware: stack.middleware,
  });
  const node = await serve(handler, { port: options.port ?? 0, hostname: options.hostname ?? '127.0.0.1' });
  return { url: new URL('/mcp', node.url), close: () => node.close() };
}
