import type { ServerFactory } from '@mcp-middleware/core';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** What the tools saw, so tests can assert from inside a tool. */
export interface ToolProbe {
  authInfos: Array<AuthInfo | undefined>;
}

/** A small server: `echo` and `whoami` for anyone with the right scopes, `admin_reset` for admins. */
export function fixtureServer(probe: ToolProbe = { authInfos: [] }): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'fixture', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'echo',
      { description: 'Echoes its text', inputSchema: { text: z.string() } },
      async ({ text }, extra) => {
        probe.authInfos.push(extra.authInfo);
        return { content: [{ type: 'text', text }] };
      },
    );
    server.registerTool('whoami', { description: 'Says who is calling' }, async (extra) => {
      probe.authInfos.push(extra.authInfo);
      return { content: [{ type: 'text', text: extra.authInfo?.clientId ?? 'anonymous' }] };
    });
    server.registerTool('admin_reset', { description: 'Needs the admin scope' }, async (extra) => {
      probe.authInfos.push(extra.authInfo);
      return { content: [{ type: 'text', text: 'reset' }] };
    });
    return server;
  };
}
