import { waitFor } from '@mcp-middleware/core/testing';
import {
  closeAfterEach,
  connectV2Client,
  ERAS,
  startV2TestServer,
  type V2TestServer,
} from '@mcp-middleware/core/testing/v2';
import { McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { LOG_LEVEL_META_KEY, LOGGING_LEVELS } from './client-log.js';
import { type JsonLogger, jsonLogger } from './json-logger.js';
import { capture } from './test-fixtures.js';

/*
 * logging-json on SDK v2, for a 2025-11-25 client (legacy era) and a 2026-07-28 client (per-request era): the same
 * JSON lines on both, and client log messages that follow the request's own `_meta` log level on 2026 requests.
 */

const closing = closeAfterEach();

function build(log: JsonLogger) {
  return (wrap: <S extends object>(s: S) => S) => {
    const server = new McpServer({ name: 'logging-v2', version: '1.0.0' }, { capabilities: { logging: {} } });
    server.registerTool(
      'echo',
      { description: 'Echoes text', inputSchema: z.object({ text: z.string() }) },
      async ({ text }, ctx) => {
        const call = log.forCall(ctx, server);
        await call.info('echoing', { length: text.length, token: 'sk-secret-value' });
        return { content: [{ type: 'text', text: JSON.stringify({ text, requestId: call.requestId }) }] };
      },
    );
    server.registerTool('every_level', { description: 'Logs at each level' }, async (ctx) => {
      const call = log.forCall(ctx, server);
      for (const level of LOGGING_LEVELS) await call.log(level, `at ${level}`);
      return { content: [{ type: 'text', text: 'logged' }] };
    });
    return wrap(server);
  };
}

async function setup() {
  const out = capture();
  const log = jsonLogger({ destination: out.stream, level: 'debug' });
  const s = await startV2TestServer({ server: build(log), middleware: [log] });
  closing.track(s);
  return { out, s };
}

async function connect(s: V2TestServer, era: 'legacy' | 'modern') {
  const client = await connectV2Client(s.url, era);
  closing.track(client);
  const messages: string[] = [];
  client.setNotificationHandler('notifications/message', (n) => {
    messages.push(String(n.params.data));
  });
  return { client, messages };
}

const textOf = (result: { content?: unknown }) => (result.content as Array<{ text: string }>)[0]!.text;

describe.each(ERAS)('jsonLogger on SDK v2, %s era', (era) => {
  it('writes one rpc line per call, and the tool line shares its request id, redacted', async () => {
    const { out, s } = await setup();
    const { client } = await connect(s, era);
    const body = JSON.parse(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hi' } })));
    await waitFor(() => out.of('rpc').some((l) => l['tool'] === 'echo'), 'the rpc line of the echo call');
    const calls = out.of('rpc').filter((l) => l['tool'] === 'echo');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'tools/call', outcome: 'ok', requestId: body.requestId });
    const tool = out.of('tool').find((l) => l['msg'] === 'echoing');
    expect(tool).toMatchObject({ requestId: body.requestId, tool: 'echo' });
    expect(out.raw.join('\n')).not.toContain('sk-secret-value');
  });

  it('writes one http line per request', async () => {
    const { out, s } = await setup();
    const { client } = await connect(s, era);
    await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    await waitFor(() => out.of('http').some((l) => l['status'] === 200), 'an http line');
    expect(out.of('http').every((l) => l['path'] === '/mcp')).toBe(true);
  });

  it('sends the client log messages at and above the level in the request’s _meta, and writes every line', async () => {
    const { out, s } = await setup();
    const { client, messages } = await connect(s, era);
    await client.callTool({ name: 'every_level', arguments: {}, _meta: { [LOG_LEVEL_META_KEY]: 'error' } });
    await waitFor(() => messages.length >= 4, 'four client log messages');
    expect(messages).toEqual(['at error', 'at critical', 'at alert', 'at emergency']);
    await waitFor(() => out.of('tool').length === LOGGING_LEVELS.length, 'a line per level');
  });
});

describe('jsonLogger on SDK v2, client log messages by era', () => {
  it('2026-07-28: a request without a log level gets no log messages (no session level exists)', async () => {
    const { out, s } = await setup();
    const { client, messages } = await connect(s, 'modern');
    await client.callTool({ name: 'every_level', arguments: {} });
    await waitFor(() => out.of('rpc').some((l) => l['tool'] === 'every_level'), 'the rpc line');
    expect(out.of('tool')).toHaveLength(LOGGING_LEVELS.length);
    expect(messages).toEqual([]);
  });

  it('2026-07-28: logging/setLevel is not part of the protocol', async () => {
    const { s } = await setup();
    const { client } = await connect(s, 'modern');
    await expect(client.setLoggingLevel('debug')).rejects.toThrow();
  });

  it('2025-11-25: without a level anywhere, every message goes to the client as before', async () => {
    const { out, s } = await setup();
    const { client, messages } = await connect(s, 'legacy');
    await client.callTool({ name: 'every_level', arguments: {} });
    await waitFor(() => messages.length === LOGGING_LEVELS.length, 'a client message per level');
    await waitFor(() => out.of('tool').length === LOGGING_LEVELS.length, 'a line per level');
  });
});
