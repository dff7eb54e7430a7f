import { closeAfterEach, connectV2Client, ERAS, startV2TestServer } from '@mcp-middleware/core/testing/v2';
import { McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type ErrorsOptions, errors, type MaskedErrorReport } from './errors.js';
import { ProtocolError, ToolError } from './tool-error.js';

/*
 * errors on SDK v2 (its own createMcpHandler behind createMiddlewareHandler({ fetch })), for a 2025-11-25 client
 * and a 2026-07-28 client: timeouts that abort the tool's ctx.mcpReq.signal, masking, and errs.tool() on v2 tools.
 */

const closing = closeAfterEach();
const SECRET = 'postgres://admin:hunter2@db.internal';

async function start(options: ErrorsOptions = {}) {
  const reports: MaskedErrorReport[] = [];
  const aborted: string[] = [];
  const errs = errors({ onError: (_e, r) => void reports.push(r), ...options });
  const s = closing.track(
    await startV2TestServer({
      middleware: [errs],
      server: (wrap) => {
        const server = new McpServer({ name: 'errors-v2', version: '1.0.0' });
        // errs.tool() is typed for SDK v1's ToolCallback; at run time it takes v2's handlers as they are.
        const v2Tool = errs.tool as unknown as <H>(handler: H) => H;
        server.registerTool(
          'slow',
          { description: 'Waits for its signal' },
          v2Tool(async (ctx: ServerContext) => {
            await new Promise<void>((resolve) =>
              ctx.mcpReq.signal.addEventListener('abort', () => resolve(), { once: true }),
            );
            aborted.push('slow');
            return { content: [{ type: 'text' as const, text: 'late' }] };
          }),
        );
        server.registerTool(
          'leaky',
          { description: 'Throws with a secret' },
          v2Tool(async () => {
            throw new Error(`cannot connect to ${SECRET}`);
          }),
        );
        server.registerTool('leaky_unwrapped', { description: 'Throws, not wrapped' }, async () => {
          throw new Error(`cannot connect to ${SECRET}`);
        });
        server.registerTool(
          'refuse',
          { description: 'Tool and protocol errors', inputSchema: z.object({ kind: z.string() }) },
          v2Tool(async ({ kind }: { kind: string }) => {
            if (kind === 'tool') throw new ToolError('Nothing found for that query');
            throw new ProtocolError('invalid_params', 'kind must be tool');
          }),
        );
        return wrap(server);
      },
    }),
  );
  return { s, reports, aborted };
}

const textOf = (result: { content?: unknown }) => (result.content as Array<{ text: string }>)[0]!.text;

describe.each(ERAS)('errors on SDK v2, %s era', (era) => {
  it('times a tool out: the client gets the timeout error and the tool’s ctx.mcpReq.signal aborts', async () => {
    const { s, aborted } = await start({ toolTimeouts: { slow: 200 } });
    const client = closing.track(await connectV2Client(s.url, era));
    await expect(client.callTool({ name: 'slow', arguments: {} })).rejects.toMatchObject({
      code: -32001,
      data: { reason: 'timeout' },
    });
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 5000;
      const poll = () =>
        aborted.includes('slow')
          ? resolve()
          : Date.now() > deadline
            ? reject(new Error('no abort'))
            : setTimeout(poll, 20);
      poll();
    });
  });

  it('masks an unexpected error with an error id, reports it, and never shows the secret', async () => {
    const { s, reports } = await start();
    const client = closing.track(await connectV2Client(s.url, era));
    for (const name of ['leaky', 'leaky_unwrapped']) {
      const result = await client.callTool({ name, arguments: {} });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^Internal error \(error id: [\w-]+\)$/);
      expect(JSON.stringify(result)).not.toContain('hunter2');
    }
    expect(reports.map((r) => r.toolName)).toEqual(['leaky', 'leaky_unwrapped']);
  });

  it('errs.tool() turns a ToolError into an isError result and a ProtocolError into a JSON-RPC error', async () => {
    const { s } = await start();
    const client = closing.track(await connectV2Client(s.url, era));
    const result = await client.callTool({ name: 'refuse', arguments: { kind: 'tool' } });
    expect(result).toMatchObject({ isError: true });
    expect(textOf(result)).toBe('Nothing found for that query');
    await expect(client.callTool({ name: 'refuse', arguments: { kind: 'protocol' } })).rejects.toMatchObject({
      code: -32602,
    });
  });
});
