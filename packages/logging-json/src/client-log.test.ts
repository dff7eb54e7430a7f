import { MiddlewareTransport } from '@mcp-middleware/core';
import { connectClient, startTestServer, type TestServer, waitFor } from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type LoggingLevel,
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { afterEach, describe, expect, it } from 'vitest';
import { decideClientLog, LOG_LEVEL_META_KEY, LOGGING_LEVELS } from './client-log.js';
import { jsonLogger } from './json-logger.js';
import { capture, loggingServer } from './test-fixtures.js';

const servers: TestServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function setup(options: { logging?: boolean } = {}) {
  const out = capture();
  const log = jsonLogger({ destination: out.stream, level: 'debug' });
  const s = await startTestServer({ server: loggingServer(log, options), middleware: [log] });
  servers.push(s);
  return { out, s };
}

/** An SDK client that records the log notifications it receives. */
async function listeningClient(url: URL) {
  const client = await connectClient(url);
  clients.push(client);
  const received: Array<LoggingMessageNotification['params']> = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    received.push(n.params);
  });
  return { client, received };
}

const from = (level: LoggingLevel) => LOGGING_LEVELS.slice(LOGGING_LEVELS.indexOf(level));

describe('decideClientLog', () => {
  it('refuses without the logging capability, whatever the levels', () => {
    expect(
      decideClientLog('emergency', { declared: false, requestLevel: undefined, sessionIgnores: false }),
    ).toEqual({
      ok: false,
      reason: 'no_logging_capability',
    });
  });

  it('lets a per-request level win over the session level, both ways', () => {
    expect(decideClientLog('info', { declared: true, requestLevel: 'debug', sessionIgnores: true })).toEqual({
      ok: true,
    });
    expect(
      decideClientLog('error', { declared: true, requestLevel: 'critical', sessionIgnores: false }),
    ).toEqual({
      ok: false,
      reason: 'below_request_level',
    });
  });

  it('follows the session level otherwise', () => {
    expect(
      decideClientLog('debug', { declared: true, requestLevel: undefined, sessionIgnores: true }),
    ).toEqual({
      ok: false,
      reason: 'below_session_level',
    });
    expect(
      decideClientLog('debug', { declared: true, requestLevel: undefined, sessionIgnores: false }).ok,
    ).toBe(true);
  });
});

describe('a logger bound to a call', () => {
  describe('when the client set a level with logging/setLevel', () => {
    it('sends notifications/message at and above that level and none below, and writes every line', async () => {
      const { out, s } = await setup();
      const { client, received } = await listeningClient(s.url);
      await client.setLoggingLevel('warning');
      await client.callTool({ name: 'every_level', arguments: {} });
      await waitFor(() => received.length >= 5, 'five log notifications');
      expect(received).toEqual(
        from('warning').map((level) => ({ level, logger: 'every_level', data: `at ${level}` })),
      );
      // The JSON lines do not depend on the client's level: all eight are written.
      await waitFor(() => out.of('tool').length === 8, 'eight tool lines');
      expect(out.of('tool').map((l) => l['mcpLevel'])).toEqual(LOGGING_LEVELS);
    });

    it('follows a later setLevel, per session', async () => {
      const { s } = await setup();
      const a = await listeningClient(s.url);
      const b = await listeningClient(s.url);
      await a.client.setLoggingLevel('error');
      await b.client.setLoggingLevel('critical');
      await a.client.callTool({ name: 'every_level', arguments: {} });
      await b.client.callTool({ name: 'every_level', arguments: {} });
      await waitFor(() => a.received.length >= 4 && b.received.length >= 3, 'both sessions’ notifications');
      expect(a.received.map((p) => p.level)).toEqual(from('error'));
      expect(b.received.map((p) => p.level)).toEqual(from('critical'));

      a.received.length = 0;
      await a.client.setLoggingLevel('debug');
      await a.client.callTool({ name: 'every_level', arguments: {} });
      await waitFor(() => a.received.length >= 8, 'all eight notifications');
      expect(a.received.map((p) => p.level)).toEqual(LOGGING_LEVELS);
    });
  });

  describe('when the request carries a log level in _meta (newer protocol revisions)', () => {
    it('uses it for that request instead of the session level', async () => {
      const { s } = await setup();
      const { client, received } = await listeningClient(s.url);
      await client.setLoggingLevel('debug');
      await client.callTool({ name: 'every_level', arguments: {}, _meta: { [LOG_LEVEL_META_KEY]: 'alert' } });
      await waitFor(() => received.length >= 2, 'two log notifications');
      expect(received.map((p) => p.level)).toEqual(['alert', 'emergency']);

      // The next request without it is back to the session's level.
      received.length = 0;
      await client.callTool({ name: 'every_level', arguments: {} });
      await waitFor(() => received.length >= 8, 'eight log notifications');
      expect(received.map((p) => p.level)).toEqual(LOGGING_LEVELS);
    });
  });

  describe('when the server does not declare the logging capability', () => {
    it('sends nothing to the client, and the tool still succeeds and writes its lines', async () => {
      const { out, s } = await setup({ logging: false });
      const { client, received } = await listeningClient(s.url);
      const result = await client.callTool({ name: 'every_level', arguments: {} });
      expect(result.isError).toBeFalsy();
      await waitFor(() => out.of('tool').length === 8, 'eight tool lines');
      // The call's own answer arrived after any notification it could have sent on the same stream.
      expect(received).toEqual([]);
    });
  });

  describe('over a transport without HTTP (in-memory)', () => {
    it('finds its call, shares the call line’s correlation id, and notifies the client', async () => {
      const out = capture();
      const log = jsonLogger({ destination: out.stream, level: 'debug' });
      const server = (await loggingServer(log)({
        sessionId: undefined,
        jsonSchemaValidator: new AjvJsonSchemaValidator(),
        http: undefined as never,
      })) as McpServer;
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await server.connect(new MiddlewareTransport(serverSide, { middleware: [log] }));
      const client = new Client({ name: 'in-memory', version: '1.0.0' });
      await client.connect(clientSide);
      clients.push(client);
      const received: Array<LoggingMessageNotification['params']> = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(n.params));

      await client.setLoggingLevel('info');
      const result = await client.callTool({ name: 'echo', arguments: { text: 'mem' } });
      const { requestId } = JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as {
        requestId: string;
      };
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      await waitFor(() => received.length === 1, 'the info notification');
      expect(received[0]).toEqual({ level: 'info', logger: 'echo', data: { message: 'echoing', length: 3 } });
      const call = out.of('rpc').find((l) => l['tool'] === 'echo')!;
      expect(call['requestId']).toBe(requestId);
      expect(out.of('tool')[0]!['requestId']).toBe(requestId);
      await log.close();
    });
  });
});
