import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ServerFactory } from '../handler.js';

/** What the fixture's tools saw, so tests can assert from inside a tool. */
export interface ToolProbe {
  calls: string[];
  aborted: string[];
  authClientIds: Array<string | undefined>;
}

export function newProbe(): ToolProbe {
  return { calls: [], aborted: [], authClientIds: [] };
}

/**
 * An McpServer with tools that exercise the pipeline: `echo`, `slow` (waits `ms` or until cancelled), `whoami`
 * and `admin_reset` (for scope policies). Shares the handler's validator, as servers should.
 */
export function fixtureServer(probe: ToolProbe = newProbe()): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'fixture', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'echo',
      { description: 'Echoes its text', inputSchema: { text: z.string() } },
      async ({ text }, extra) => {
        probe.calls.push('echo');
        probe.authClientIds.push(extra.authInfo?.clientId);
        return { content: [{ type: 'text', text }] };
      },
    );
    server.registerTool(
      'slow',
      { description: 'Waits ms milliseconds, or until cancelled', inputSchema: { ms: z.number() } },
      async ({ ms }, extra) => {
        probe.calls.push('slow');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          extra.signal.addEventListener('abort', () => {
            probe.aborted.push('slow');
            clearTimeout(timer);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: `waited ${ms}` }] };
      },
    );
    server.registerTool('whoami', { description: 'Says who is calling' }, async (extra) => ({
      content: [{ type: 'text', text: extra.authInfo?.clientId ?? 'anonymous' }],
    }));
    server.registerTool('admin_reset', { description: 'Needs the admin scope' }, async () => ({
      content: [{ type: 'text', text: 'reset' }],
    }));
    return server;
  };
}
