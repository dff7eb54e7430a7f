/**
 * An MCP server protected by OAuth: tokens come from your authorization server (Keycloak, Auth0, Entra,
 * oidc-provider...); reading needs `notes:read`, writing needs `notes:write` (clients step up when asked).
 *
 *   ISSUER=https://auth.example.com RESOURCE=http://127.0.0.1:3000/mcp node --import tsx examples/server.ts
 */
import { oauth } from '@mcp-middleware/auth-oauth';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

const issuer = process.env['ISSUER'] ?? 'https://auth.example.com';
const resource = process.env['RESOURCE'] ?? 'http://127.0.0.1:3000/mcp';

const notes: string[] = [];

const handler = createMiddlewareHandler({
  middleware: [
    oauth({
      resource,
      authorizationServers: [issuer],
      requiredScopes: ['notes:read'],
      toolScopes: { tools: { add_note: ['notes:write'] } },
      // Opaque tokens, if your server issues them:
      // introspection: { clientId: 'mcp-server', clientSecret: process.env['INTROSPECTION_SECRET']! },
    }),
  ],
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'notes', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool('list_notes', { description: 'Lists the notes' }, async (extra) => ({
      content: [
        {
          type: 'text',
          text: `${String(extra.authInfo?.extra?.['subject'])} sees: ${JSON.stringify(notes)}`,
        },
      ],
    }));
    server.registerTool(
      'add_note',
      { description: 'Adds a note', inputSchema: { text: z.string() } },
      async ({ text }) => {
        notes.push(text);
        return { content: [{ type: 'text', text: 'saved' }] };
      },
    );
    return server;
  },
});

const { url } = await serve(handler, {
  port: Number(new URL(resource).port || 3000),
  shutdownSignals: ['SIGINT', 'SIGTERM'],
});
console.log(
  `MCP endpoint on ${new URL('/mcp', url)}; metadata at ${new URL('/.well-known/oauth-protected-resource/mcp', url)}`,
);
