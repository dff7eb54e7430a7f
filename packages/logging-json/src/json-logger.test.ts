import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Middleware, MiddlewareError, TRACE_IDS, toolScopes } from '@mcp-middleware/core';
import {
  connectClient,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type JsonLoggerOptions, jsonLogger } from './json-logger.js';
import { capture, loggingServer } from './test-fixtures.js';

const servers: TestServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface SetupOptions {
  middleware?: Middleware[];
  logger?: JsonLoggerOptions;
  stateless?: boolean;
  /** Answer calls over SSE streams instead of JSON responses. */
  sse?: boolean;
}

async function setup(options: SetupOptions = {}) {
  const out = capture();
  // A logger of the caller's own is used as given; other options add to a capture at debug.
  const log = jsonLogger(
    options.logger?.logger ? options.logger : { destination: out.stream, level: 'debug', ...options.logger },
  );
  const s = await startTestServer({
    server: loggingServer(log),
    middleware: [log, ...(options.middleware ?? [])],
    enableJsonResponse: !options.sse,
    ...(options.stateless ? { sessions: false as const } : {}),
  });
  servers.push(s);
  return { out, log, s };
}

async function connect(s: TestServer, headers: Record<string, string> = {}) {
  const client = await connectClient(s.url, { headers });
  clients.push(client);
  return client;
}

function callBody(id: number, name: string, args: Record<string, unknown> = {}) {
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } };
}

/** A JSON-RPC answer from a JSON (not SSE) response. */
async function answerOf(response: Response): Promise<{ result?: { content: Array<{ text: string }> } }> {
  return (await response.json()) as { result?: { content: Array<{ text: string }> } };
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('jsonLogger', () => {
  describe('for each HTTP request', () => {
    it('writes one JSON line with method, path, status, duration, client, request id and session id', async () => {
      const { out, s } = await setup();
      const client = await connect(s);
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      const sessionId = (client.transport as { sessionId?: string }).sessionId;
      await waitFor(
        () => out.of('http').filter((l) => l['method'] === 'POST').length === 3,
        'three POST lines',
      );
      const posts = out.of('http').filter((l) => l['method'] === 'POST');
      // initialize, notifications/initialized, tools/call
      expect(posts.map((l) => l['status'])).toEqual([200, 202, 200]);
      for (const line of posts) {
        expect(line).toMatchObject({
          kind: 'http',
          msg: 'http',
          path: '/mcp',
          client: '127.0.0.1',
          sessionId,
        });
        expect(line['durationMs']).toBeGreaterThanOrEqual(0);
        expect(line['requestId']).toMatch(/^[0-9a-f-]{36}$/);
        expect(line['level']).toBe(30);
      }
      // Each request has its own id.
      expect(new Set(posts.map((l) => l['requestId'])).size).toBe(3);
    });

    it('times a streamed (SSE) response to its end, not to its headers, and writes its line after the call line', async () => {
      const { out, s } = await setup({ sse: true });
      const client = await connect(s);
      await client.callTool({ name: 'slow', arguments: { ms: 200 } });
      const isCallPost = (l: Record<string, unknown>) => l['kind'] === 'http' && l['method'] === 'POST';
      // initialize, notifications/initialized, then the call's stream.
      await waitFor(() => out.lines().filter(isCallPost).length === 3, 'the call request line');
      const lines = out.lines();
      const callLine = lines.filter(isCallPost)[2]!;
      expect(callLine).toMatchObject({ status: 200, path: '/mcp', level: 30 });
      // The headers left at once; the stream ended when the tool answered, 200 ms later.
      expect(callLine['durationMs']).toBeGreaterThanOrEqual(190);
      const rpcIndex = lines.findIndex((l) => l['kind'] === 'rpc' && l['tool'] === 'slow');
      expect(rpcIndex).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf(callLine)).toBeGreaterThan(rpcIndex);
    });

    it('logs requests refused before the MCP endpoint at warn, with the status the client got', async () => {
      const { out, s } = await setup();
      const response = await postJsonRpc(s.url, initializeRequest(), { 'x-request-id': 'bad-json-1' });
      expect(response.status).toBe(200);
      await response.body?.cancel();
      const missingSession = await postJsonRpc(s.url, callBody(2, 'echo', { text: 'x' }));
      expect(missingSession.status).toBe(400);
      await missingSession.text();
      await waitFor(() => out.of('http').some((l) => l['status'] === 400), 'the 400 line');
      expect(out.of('http').find((l) => l['status'] === 400)).toMatchObject({ level: 40, method: 'POST' });
    });
  });

  describe('request correlation', () => {
    it('honours a valid x-request-id: echoed in the response, on every line, and inside the tool', async () => {
      const { out, s } = await setup({ stateless: true });
      const response = await postJsonRpc(s.url, callBody(7, 'echo', { text: 'hello' }), {
        'x-request-id': 'req-abc.123',
        traceparent: TRACEPARENT,
      });
      expect(response.headers.get('x-request-id')).toBe('req-abc.123');
      const answer = await answerOf(response);
      expect(JSON.parse(answer.result!.content[0]!.text)).toEqual({
        text: 'hello',
        requestId: 'req-abc.123',
      });
      await waitFor(() => out.of('http').length === 1, 'the HTTP line');
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      expect(out.of('http')[0]).toMatchObject({ requestId: 'req-abc.123', traceId });
      expect(out.of('rpc')).toEqual([
        expect.objectContaining({
          method: 'tools/call',
          tool: 'echo',
          rpcId: 7,
          requestId: 'req-abc.123',
          traceId,
        }),
      ]);
      expect(out.of('tool')).toEqual([
        expect.objectContaining({
          msg: 'echoing',
          method: 'tools/call',
          mcpLevel: 'info',
          data: { length: 5 },
          tool: 'echo',
          rpcId: 7,
          requestId: 'req-abc.123',
          traceId,
        }),
      ]);
    });

    it('replaces an invalid x-request-id with a generated one, and uses that everywhere', async () => {
      const { out, s } = await setup({ stateless: true });
      const response = await postJsonRpc(s.url, callBody(1, 'echo', { text: 'x' }), {
        'x-request-id': 'not valid! <script>',
      });
      const echoed = response.headers.get('x-request-id');
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      const answer = await answerOf(response);
      expect(JSON.parse(answer.result!.content[0]!.text).requestId).toBe(echoed);
      await waitFor(() => out.of('http').length === 1, 'the HTTP line');
      expect(out.raw.join('')).not.toContain('<script>');
      for (const line of out.lines()) expect(line['requestId']).toBe(echoed);
    });

    it('keeps concurrent stateless calls with the same JSON-RPC id apart', async () => {
      const { out, s } = await setup({ stateless: true });
      const ids = ['first-req', 'second-req', 'third-req'];
      const answers = await Promise.all(
        ids.map(async (id) =>
          answerOf(await postJsonRpc(s.url, callBody(1, 'echo', { text: id }), { 'x-request-id': id })),
        ),
      );
      expect(answers.map((a) => JSON.parse(a.result!.content[0]!.text))).toEqual(
        ids.map((id) => ({ text: id, requestId: id })),
      );
      await waitFor(() => out.of('tool').length === 3, 'three tool lines');
      expect(out.of('tool').map((l) => l['requestId'])).toEqual(expect.arrayContaining(ids));
    });
  });

  describe('for each RPC call', () => {
    /** A deadline in a few lines, as `@mcp-middleware/errors` does properly: -32001 and cancel the handler. */
    const deadline: Middleware = {
      name: 'deadline',
      async rpc(call, next) {
        if (call.toolName !== 'slow') return next();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<{ error: { code: number; message: string } }>((resolve) => {
          timer = setTimeout(() => {
            resolve({ error: { code: -32001, message: 'Request timed out after 100 ms' } });
            call.cancel('timed out');
          }, 100);
        });
        try {
          return await Promise.race([next(), timedOut]);
        } finally {
          clearTimeout(timer);
        }
      },
    };
    const policy: Middleware = {
      name: 'policy',
      async rpc(call, next) {
        if (call.toolName === 'limited') return { error: { code: -32029, message: 'Rate limit exceeded' } };
        if (call.toolName === 'locked') throw new MiddlewareError('unauthorized', 'Unauthorized');
        if (call.toolName === 'too_slow') throw new MiddlewareError('timeout', 'Tool did not finish in time');
        return next();
      },
    };

    it('records the outcome: ok, tool error, protocol error, denied, timeout and cancelled', async () => {
      const { out, s } = await setup({
        middleware: [toolScopes({ tools: { admin_only: ['admin'] } }), policy, deadline],
      });
      const client = await connect(s);
      const settle = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: unknown) => e,
        );

      await client.callTool({ name: 'echo', arguments: { text: 'ok' } });
      await client.callTool({ name: 'fail', arguments: {} });
      const protocol = await settle(client.getPrompt({ name: 'missing' }));
      expect(protocol).toBeInstanceOf(McpError);
      await client.callTool({ name: 'admin_only', arguments: {} }).catch(() => {});
      await settle(client.callTool({ name: 'limited', arguments: {} }));
      await settle(client.callTool({ name: 'locked', arguments: {} }));
      await settle(client.callTool({ name: 'slow', arguments: { ms: 5000 } }));
      await settle(client.callTool({ name: 'too_slow', arguments: {} }));
      const controller = new AbortController();
      const cancelled = settle(
        client.callTool({ name: 'slow', arguments: { ms: 5000 } }, undefined, {
          signal: controller.signal,
        }),
      );
      await waitFor(() => s.handler.host.inFlight > 0, 'the slow call to start');
      controller.abort('user pressed stop');
      await cancelled;
      await waitFor(
        () => out.of('rpc').filter((l) => l['method'] !== 'initialize').length === 9,
        'nine call lines',
      );

      const calls = out.of('rpc').filter((l) => l['method'] !== 'initialize');
      const summary = calls.map((l) => [
        l['method'],
        l['tool'] ?? null,
        l['outcome'],
        l['errorCode'] ?? null,
      ]);
      expect(summary).toEqual([
        ['tools/call', 'echo', 'ok', null],
        ['tools/call', 'fail', 'tool_error', null],
        ['prompts/get', null, 'protocol_error', -32601],
        ['tools/call', 'admin_only', 'denied', -32003],
        ['tools/call', 'limited', 'denied', -32029],
        ['tools/call', 'locked', 'denied', -32005],
        ['tools/call', 'slow', 'timeout', -32001],
        ['tools/call', 'too_slow', 'timeout', -32001],
        ['tools/call', 'slow', 'cancelled', -32001],
      ]);
      // Every line carries the fields the issue asks for.
      const sessionId = (client.transport as { sessionId?: string }).sessionId;
      for (const line of calls) {
        expect(line).toMatchObject({ kind: 'rpc', msg: 'rpc', sessionId });
        expect(typeof line['durationMs']).toBe('number');
        expect(line['requestId']).toMatch(/^[0-9a-f-]{36}$/);
        expect(line).toHaveProperty('rpcId');
      }
      expect(calls.find((l) => l['outcome'] === 'ok')!['level']).toBe(30);
      expect(calls.find((l) => l['outcome'] === 'denied')!['level']).toBe(40);
    });

    it('puts the client id from AuthInfo on call and request lines', async () => {
      const auth: Middleware = {
        name: 'inline-auth',
        async http(_req, ctx, next) {
          ctx.authInfo = { token: 'opaque', clientId: 'client-42', scopes: [], extra: { subject: 'user-7' } };
          return next();
        },
      };
      const { out, s } = await setup({ middleware: [auth] });
      const client = await connect(s);
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      await waitFor(() => out.of('tool').length === 1, 'the tool line');
      expect(out.of('rpc').every((l) => l['clientId'] === 'client-42')).toBe(true);
      expect(out.of('tool')[0]!['clientId']).toBe('client-42');
      await waitFor(() => out.of('http').length >= 3, 'the HTTP lines');
      expect(out.of('http').every((l) => l['clientId'] === 'client-42')).toBe(true);
    });
  });

  describe('with a tracing middleware', () => {
    it('puts trace_id and span_id of the active span on http, rpc and tool lines', async () => {
      // What a tracing middleware does by core's convention: the ids of its spans under TRACE_IDS.
      const tracer: Middleware = {
        name: 'tracer',
        http(_req, ctx, next) {
          ctx.state.set(TRACE_IDS, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
          return next();
        },
        rpc(call, next) {
          call.state.set(TRACE_IDS, { traceId: 'a'.repeat(32), spanId: 'c'.repeat(16) });
          return next();
        },
      };
      const { out, s } = await setup({ middleware: [tracer] });
      const client = await connect(s);
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      await waitFor(() => out.of('rpc').some((l) => l['tool'] === 'echo'), 'the call line');
      const rpc = out.of('rpc').find((l) => l['tool'] === 'echo');
      expect(rpc).toMatchObject({ trace_id: 'a'.repeat(32), span_id: 'c'.repeat(16) });
      expect(out.of('tool')[0]).toMatchObject({ trace_id: 'a'.repeat(32), span_id: 'c'.repeat(16) });
      expect(out.of('http')[0]).toMatchObject({ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) });
    });
  });

  describe('redaction', () => {
    const GOOD_TOKEN = 'good-token-Zq81xVv0';
    const secrets = [
      GOOD_TOKEN,
      'wrong-token-Kd73pQ',
      'wrong-key-Lm20sR',
      'sk-live-arg-Ty55wB',
      'private note Hh09',
      'query-token-Pq44',
    ];
    /** A small bearer / API key check, inline: 401 with a challenge, or a thrown unauthorized error. */
    const auth: Middleware = {
      name: 'inline-auth',
      async http(req, ctx, next) {
        if (!ctx.isProtected) return next();
        const apiKey = req.headers.get('x-api-key');
        if (apiKey !== null) throw new MiddlewareError('unauthorized', 'Unauthorized: unknown API key');
        if (req.headers.get('authorization') !== `Bearer ${GOOD_TOKEN}`) {
          return new Response(JSON.stringify({ error: 'invalid_token' }), {
            status: 401,
            headers: {
              'www-authenticate': 'Bearer error="invalid_token", error_description="token rejected"',
            },
          });
        }
        ctx.authInfo = { token: GOOD_TOKEN, clientId: 'client-1', scopes: [] };
        return next();
      },
    };

    it('never writes an Authorization value, API key or token, on success or failure paths', async () => {
      const { out, s } = await setup({
        middleware: [auth],
        logger: { logArguments: true, redact: ['note'] },
      });

      const badBearer = await postJsonRpc(s.url, initializeRequest(), {
        authorization: 'Bearer wrong-token-Kd73pQ',
      });
      expect(badBearer.status).toBe(401);
      await badBearer.text();
      const badKey = await postJsonRpc(s.url, initializeRequest(), { 'x-api-key': 'wrong-key-Lm20sR' });
      expect(badKey.status).toBe(401);
      await badKey.text();
      const inQuery = await postJsonRpc(
        new URL(`${s.url}?access_token=query-token-Pq44`),
        initializeRequest(),
      );
      expect(inQuery.status).toBe(401);
      await inQuery.text();

      const client = await connect(s, { authorization: `Bearer ${GOOD_TOKEN}` });
      await client.callTool({
        name: 'leaky',
        arguments: { apiKey: 'sk-live-arg-Ty55wB', note: 'private note Hh09' },
      });
      await waitFor(() => out.of('tool').length === 1, 'the tool line');
      await waitFor(() => out.of('http').filter((l) => l['status'] === 401).length === 3, 'three 401 lines');

      const text = out.raw.join('');
      for (const secret of secrets) expect(text).not.toContain(secret);
      // And the lines are there: this is not passing because nothing was written.
      const refused = out.of('http').filter((l) => l['status'] === 401);
      expect(refused.map((l) => l['authError'])).toEqual(['invalid_token', undefined, 'invalid_token']);
      expect(refused.every((l) => l['path'] === '/mcp' && l['level'] === 40)).toBe(true);
      const call = out.of('rpc').find((l) => l['tool'] === 'leaky')!;
      expect(call['args']).toEqual({ apiKey: '[Redacted]', note: '[Redacted]' });
      const toolLine = out.of('tool')[0]!;
      expect(toolLine['msg']).toBe('upstream refused Bearer [Redacted]');
      expect(toolLine['data']).toEqual({
        token: '[Redacted]',
        nested: { password: '[Redacted]', client_secret: '[Redacted]' },
        note: '[Redacted]',
      });
      expect(toolLine['mcpLevel']).toBe('warning');
    });
  });

  describe('levels and destinations', () => {
    it('writes nothing below the configured level', async () => {
      const { out, s } = await setup({ logger: { level: 'warn' } });
      const client = await connect(s);
      await client.callTool({ name: 'echo', arguments: { text: 'quiet' } });
      await client.callTool({ name: 'fail', arguments: {} });
      await waitFor(() => out.of('rpc').length === 1, 'the tool error line');
      expect(out.lines().map((l) => [l['kind'], l['outcome'] ?? null])).toEqual([['rpc', 'tool_error']]);
    });

    it('appends to a file given by path, making its directory', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'json-logger-'));
      const path = join(dir, 'logs', 'mcp.log');
      try {
        const log = jsonLogger({ destination: path });
        const s = await startTestServer({
          server: loggingServer(log),
          middleware: [log],
          enableJsonResponse: true,
        });
        const client = await connect(s);
        await client.callTool({ name: 'echo', arguments: { text: 'to a file' } });
        const lines = async () =>
          (await readFile(path, 'utf8').catch(() => ''))
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>);
        await waitFor(
          async () => (await lines()).some((l) => l['kind'] === 'rpc' && l['tool'] === 'echo'),
          'the call line in the file',
        );
        await client.close();
        await s.close(); // closes the middleware, and with it the file
        const call = (await lines()).find((l) => l['kind'] === 'rpc' && l['tool'] === 'echo');
        expect(call).toMatchObject({ method: 'tools/call', outcome: 'ok' });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('writes through a pino logger of your own, with its bindings', async () => {
      const out = capture();
      const mine = pino({ level: 'info', base: { service: 'billing' } }, out.stream);
      const { s } = await setup({ logger: { logger: mine } });
      const client = await connect(s);
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      await waitFor(() => out.of('rpc').length === 2, 'two call lines');
      expect(out.of('rpc').every((l) => l['service'] === 'billing')).toBe(true);
    });
  });

  describe('configuration', () => {
    it('throws a TypeError naming the option', () => {
      const bad: Array<[JsonLoggerOptions, RegExp]> = [
        [{ level: 'loud' as never }, /jsonLogger: level must be one of/],
        [{ logger: {} as never }, /jsonLogger: logger must be a pino logger/],
        [{ logger: pino(), level: 'info' }, /either logger, or destination\/level/],
        [{ destination: -1 }, /jsonLogger: destination/],
        [{ destination: {} as never }, /jsonLogger: destination/],
        [{ destination: ' ' }, /jsonLogger: destination must be a file descriptor number, a file path/],
        [{ logArguments: 'yes' as never }, /jsonLogger: logArguments/],
        [{ redact: ['a..b'] }, /jsonLogger: redact/],
        [{ maxTrackedCalls: 0 }, /jsonLogger: maxTrackedCalls/],
      ];
      for (const [options, message] of bad) expect(() => jsonLogger(options)).toThrow(message);
      const log = jsonLogger({ destination: capture().stream });
      expect(() => log.forCall(undefined as never, {} as never)).toThrow(
        /forCall: pass the handler's `extra`/,
      );
      expect(() => log.forCall({ requestId: 1 } as never, undefined as never)).toThrow(
        /forCall: pass the McpServer/,
      );
      expect(() => jsonLogger({ logArguments: 'yes' as never })).toThrow(TypeError);
    });
  });
});
