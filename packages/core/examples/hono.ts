/**
 * Fetch runtimes: the handler is a plain `(Request) => Promise<Response>`, so it mounts in Hono, Bun, Deno,
 * Cloudflare Workers or a Next.js route handler. Stateless mode suits serverless: no session affinity.
 */
import { createMiddlewareHandler } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

export const mcp = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) =>
    new McpServer({ name: 'edge', version: '1.0.0' }, { jsonSchemaValidator }),
  sessions: false,
});

// Hono:        app.all('/mcp', (c) => mcp.fetch(c.req.raw));
// Bun:         Bun.serve({ fetch: (req, srv) => mcp.fetch(req, { clientAddress: srv.requestIP(req)?.address }) });
// Deno:        Deno.serve((req, info) => mcp.fetch(req, { clientAddress: info.remoteAddr.hostname }));
// Workers:     export default { fetch: (req: Request) => mcp.fetch(req, { clientAddress: req.headers.get('cf-connecting-ip') ?? undefined }) };
// Next.js:     export const POST = (req: Request) => mcp.fetch(req); export const GET = POST; export const DELETE = POST;
export default { fetch: (req: Request) => mcp.fetch(req) };
