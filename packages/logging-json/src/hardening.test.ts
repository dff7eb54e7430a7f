import type { Middleware } from '@mcp-middleware/core';
import {
  connectClient,
  initializeRequest,
  openPartialUpload,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type JsonLoggerOptions, jsonLogger } from './json-logger.js';
import { capture, loggingServer } from './test-fixtures.js';

// What a hostile or careless client (or tool) can make the log say, over real HTTP against a real server.

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const SECRETS = ['mcpk_k1_Zx81secretPart', 'hunter2-Qw7', 'cause-token-Jj3', 'child-key-Vb6', 'interp-Pp0'];

/** A middleware that throws, the way a tool or a store throws: secrets in the message and in the cause. */
const leakyThrower: Middleware = {
  name: 'leaky',
  async rpc(call, next) {
    if (call.toolName !== 'echo') return next();
    throw new Error(`upstream said: Authorization: Bearer ${SECRETS[0]} password=${SECRETS[1]}`, {
      cause: new Error(`retry with token=${SECRETS[2]}`),
    });
  },
};

async function serverWith(options: JsonLoggerOptions, middleware: Middleware[] = []) {
  const log = jsonLogger(options);
  const reported: unknown[] = [];
  const s = await startTestServer({
    server: loggingServer(log),
    middleware: [log, ...middleware],
    enableJsonResponse: true,
    // As the demo wires it: unexpected errors go to the logger's own pino instance.
    onError: (error, report) => {
      reported.push(error);
      log.logger.error({ err: error, phase: report.phase }, 'unexpected error');
    },
  });
  servers.push(s);
  return { log, s, reported };
}

describe('hardening the log', () => {
  describe('redaction on every path', () => {
    for (const [label, make] of [
      ['a logger made here', (out: ReturnType<typeof capture>) => ({ destination: out.stream })],
      ['a pino logger of your own', (out: ReturnType<typeof capture>) => ({ logger: pino({}, out.stream) })],
    ] as const) {
      it(`redacts errors, stacks, causes, messages and child bindings written through log.logger (${label})`, async () => {
        const out = capture();
        const { log, s, reported } = await serverWith(make(out), [leakyThrower]);
        const client = await connectClient(s.url);
        await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch(() => {});
        await client.close();
        await waitFor(() => reported.length === 1, 'the error to be reported');
        log.logger.child({ apiKey: SECRETS[3] }).warn('child line');
        log.logger.info('retrying as %s', `Bearer ${SECRETS[4]}`);
        log.logger.error(new Error(`plain error password=${SECRETS[1]}`));

        const text = out.raw.join('');
        for (const secret of SECRETS) expect(text).not.toContain(secret);
        // And the lines are there, with the error's shape kept.
        const lines = out.lines();
        const unexpected = lines.find((l) => l['msg'] === 'unexpected error')!;
        const err = unexpected['err'] as Record<string, unknown>;
        expect(err['type']).toBe('Error');
        expect(err['message']).toContain('Bearer [Redacted]');
        expect(err['stack']).toContain('password=[Redacted]');
        expect((err['cause'] as Record<string, unknown>)['message']).toBe('retry with token=[Redacted]');
        expect(lines.find((l) => l['msg'] === 'child line')!['apiKey']).toBe('[Redacted]');
        expect(lines.some((l) => l['msg'] === 'retrying as Bearer [Redacted]')).toBe(true);
        expect(lines.some((l) => l['msg'] === 'plain error password=[Redacted]')).toBe(true);
      });
    }
  });

  describe('bounded lines', () => {
    it('caps a huge method, tool name and request id on every line', async () => {
      const out = capture();
      const { s } = await serverWith({ destination: out.stream, level: 'debug' });
      const init = await postJsonRpc(s.url, initializeRequest());
      const session = {
        'mcp-session-id': init.headers.get('mcp-session-id')!,
        'mcp-protocol-version': '2025-11-25',
      };
      await init.text();
      const hugeTool = await postJsonRpc(
        s.url,
        {
          jsonrpc: '2.0',
          id: 'i'.repeat(500_000),
          method: 'tools/call',
          params: { name: 't'.repeat(400_000) },
        },
        session,
      );
      await hugeTool.text();
      const hugeMethod = await postJsonRpc(
        s.url,
        { jsonrpc: '2.0', id: 2, method: 'm'.repeat(900_000) },
        session,
      );
      await hugeMethod.text();
      await waitFor(() => out.of('rpc').length >= 3, 'the initialize line and both call lines');
      const longest = Math.max(...out.raw.map((line) => line.length));
      expect(longest).toBeLessThan(4096);
      const [, toolLine, methodLine] = out.of('rpc');
      expect(String(toolLine!['tool'])).toMatch(/^t{256}…\[truncated\]$/);
      expect(String(toolLine!['rpcId'])).toMatch(/^i{256}…\[truncated\]$/);
      expect(String(methodLine!['method'])).toMatch(/^m{256}…\[truncated\]$/);
    });
  });

  describe('a client aborting mid-upload', () => {
    it('is one JSON line at info, marked aborted, and no unexpected error', async () => {
      const out = capture();
      let arrived = false;
      const arrival: Middleware = {
        name: 'arrival',
        async http(_req, _ctx, next) {
          arrived = true;
          return next();
        },
      };
      const { s, reported } = await serverWith({ destination: out.stream }, [arrival]);
      const socket = await openPartialUpload(s.url);
      await waitFor(() => arrived, 'the request to reach the handler');
      socket.destroy();
      await waitFor(() => out.of('http').length === 1, 'the request line');
      expect(out.raw).toHaveLength(1);
      const line = out.of('http')[0]!;
      expect(line).toMatchObject({ level: 30, status: 400, aborted: true, path: '/mcp' });
      expect(reported).toEqual([]);
    });
  });
});
