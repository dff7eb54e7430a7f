import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMiddlewareHandler, type McpHandlerOptions } from './handler.js';
import { messageCountOf } from './messages.js';
import { type NodeServer, type ServeOptions, serve } from './node.js';
import {
  connectClient,
  fixtureServer,
  identifyByHeader,
  initializeRequest,
  newProbe,
  openPartialUpload,
  openRawSession,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from './testing/index.js';
import type { Middleware } from './types.js';

// What a hostile or careless client can do to a server, each over real HTTP against a real server.

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function start(options: McpHandlerOptions): Promise<TestServer> {
  const s = await startTestServer(options);
  closers.push(() => s.close());
  return s;
}

async function serveWith(options: McpHandlerOptions, serveOptions: ServeOptions): Promise<NodeServer> {
  const node = await serve(createMiddlewareHandler(options), { port: 0, ...serveOptions });
  closers.push(() => node.close());
  return node;
}

async function client(url: URL, who?: string): Promise<Client> {
  const c = await connectClient(url, who ? { headers: { 'x-who': who } } : {});
  closers.push(() => c.close());
  return c;
}

function sessionIdOf(c: Client): string {
  return (c.transport as unknown as { sessionId: string }).sessionId;
}

/** The JSON-RPC messages of an SSE or JSON response body. */
async function messagesOf(
  res: Response,
): Promise<Array<{ id?: unknown; result?: unknown; error?: unknown }>> {
  const body = await res.text();
  if (res.headers.get('content-type')?.includes('application/json')) {
    const parsed = JSON.parse(body);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return body
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line.length > 6)
    .map((line) => JSON.parse(line.slice(6)));
}

/** A raw HTTP GET with a chosen `Host` header (fetch will not send one). */
function getWithHost(url: URL, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const echo = (id: number, text: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text } },
});

describe('hardening', () => {
  describe('sessions per principal', () => {
    it('evicts the principal’s own least recently used idle session at its cap, never another principal’s', async () => {
      const s = await start({
        server: fixtureServer(),
        middleware: [identifyByHeader],
        sessions: { max: 10, maxPerPrincipal: 2 },
      });
      const bob = await client(s.url, 'bob');
      const first = await client(s.url, 'mallory');
      await client(s.url, 'mallory');
      await client(s.url, 'mallory');
      expect(s.handler.host.sessions).toBe(3);
      const stale = await postJsonRpc(s.url, echo(9, 'x'), {
        'mcp-session-id': sessionIdOf(first),
        'mcp-protocol-version': '2025-11-25',
        'x-who': 'mallory',
      });
      expect(stale.status).toBe(404);
      const answer = await bob.callTool({ name: 'echo', arguments: { text: 'still here' } });
      expect((answer.content as Array<{ text: string }>)[0]!.text).toBe('still here');
      expect(s.handler.host.sessionsRefused).toBe(0);
    });

    it('refuses a principal whose sessions are all busy with 429, counts it, and still admits others', async () => {
      const probe = newProbe();
      const s = await start({
        server: fixtureServer(probe),
        middleware: [identifyByHeader],
        sessions: { max: 10, maxPerPrincipal: 2 },
      });
      const busy = [await client(s.url, 'mallory'), await client(s.url, 'mallory')];
      const calls = busy.map((c) => c.callTool({ name: 'slow', arguments: { ms: 1500 } }));
      await waitFor(() => probe.calls.filter((c) => c === 'slow').length === 2, 'both slow calls to run');
      const refused = await postJsonRpc(s.url, initializeRequest(), { 'x-who': 'mallory' });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(s.handler.host.sessionsRefused).toBe(1);
      const alice = await postJsonRpc(s.url, initializeRequest(), { 'x-who': 'alice' });
      expect(alice.status).toBe(200);
      await alice.text();
      await Promise.all(calls);
    });

    it('gives each anonymous client address its own share', async () => {
      const s = await start({ server: fixtureServer(), sessions: { max: 10, maxPerPrincipal: 1 } });
      await client(s.url);
      await client(s.url);
      // Same address, one share: the second session replaced the first.
      expect(s.handler.host.sessions).toBe(1);
    });
  });

  describe('JSON-RPC batches', () => {
    it('refuses a batch in a session that negotiated 2025-06-18 or later', async () => {
      const s = await start({ server: fixtureServer() });
      for (const version of ['2025-06-18', '2025-11-25']) {
        const session = await openRawSession(s.url, version);
        const res = await postJsonRpc(s.url, [echo(1, 'a'), echo(2, 'b')], session);
        expect(res.status).toBe(400);
        const body = await res.json();
        expect(body.error.code).toBe(-32600);
        expect(body.error.message).toContain(version);
      }
    });

    it('refuses a batch whose MCP-Protocol-Version header forbids it, even in an older session', async () => {
      const s = await start({ server: fixtureServer() });
      const session = await openRawSession(s.url, '2025-03-26');
      const res = await postJsonRpc(s.url, [echo(1, 'a')], {
        ...session,
        'mcp-protocol-version': '2025-06-18',
      });
      expect(res.status).toBe(400);
    });

    it('refuses a batch in stateless mode when its MCP-Protocol-Version forbids it, and serves one without', async () => {
      const s = await start({ server: fixtureServer(), sessions: false, enableJsonResponse: true });
      const refused = await postJsonRpc(s.url, [echo(1, 'a'), echo(2, 'b')], {
        'mcp-protocol-version': '2025-11-25',
      });
      expect(refused.status).toBe(400);
      expect((await refused.json()).error.code).toBe(-32600);
      const served = await postJsonRpc(s.url, [echo(1, 'a'), echo(2, 'b')]);
      expect(served.status).toBe(200);
      expect((await messagesOf(served)).map((m) => m.id).sort()).toEqual([1, 2]);
    });

    it('refuses initialize inside a batch', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await postJsonRpc(s.url, [initializeRequest(1)]);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toContain('initialize');
    });

    it('serves a batch under 2025-03-26 and tells HTTP middleware how many messages it holds', async () => {
      const counts: number[] = [];
      const counter: Middleware = {
        name: 'counter',
        async http(req, ctx, next) {
          if (req.method === 'POST') counts.push(await messageCountOf(ctx));
          return next();
        },
      };
      const s = await start({ server: fixtureServer(), middleware: [counter], enableJsonResponse: true });
      const session = await openRawSession(s.url, '2025-03-26');
      counts.length = 0;
      const res = await postJsonRpc(s.url, [echo(1, 'a'), echo(2, 'b'), echo(3, 'c')], session);
      expect(res.status).toBe(200);
      const answers = await messagesOf(res);
      expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
      expect(counts).toEqual([3]);
    });
  });

  describe('health probes with allowedHosts', () => {
    it('answers unprotected routes for loopback, IP-literal and probe hosts, and still guards the MCP endpoint', async () => {
      const s = await start({
        server: fixtureServer(),
        allowedHosts: ['mcp.example.com'],
        probeHosts: ['demo.svc.cluster.local'],
        routes: [{ path: '/livez', handle: () => Response.json({ status: 'pass' }) }],
      });
      const livez = new URL('/livez', s.baseUrl);
      const port = s.baseUrl.port;
      expect(await getWithHost(livez, `127.0.0.1:${port}`)).toBe(200);
      expect(await getWithHost(livez, `localhost:${port}`)).toBe(200);
      expect(await getWithHost(livez, '[::1]:3000')).toBe(200);
      expect(await getWithHost(livez, '10.1.2.3:3000')).toBe(200);
      expect(await getWithHost(livez, 'demo.svc.cluster.local:3000')).toBe(200);
      expect(await getWithHost(livez, 'mcp.example.com')).toBe(200);
      expect(await getWithHost(livez, 'rebind.attacker.example')).toBe(403);
      expect(await getWithHost(s.url, `127.0.0.1:${port}`)).toBe(403);
    });
  });

  describe('duplicate request ids', () => {
    for (const [label, middleware] of [
      ['without RPC middleware', []],
      ['with RPC middleware', [{ name: 'noop', rpc: (_c, next) => next() } satisfies Middleware]],
    ] as const) {
      it(`answers the first call when a second request reuses its id in the same session (${label})`, async () => {
        const probe = newProbe();
        const s = await start({ server: fixtureServer(probe), middleware: [...middleware] });
        const session = await openRawSession(s.url, '2025-11-25');
        const slow = {
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'slow', arguments: { ms: 300 } },
        };
        const first = postJsonRpc(s.url, slow, session);
        await waitFor(() => probe.calls.includes('slow'), 'the first call to reach the tool');
        const second = await postJsonRpc(s.url, echo(7, 'again'), session);
        expect(second.status).toBe(409);
        expect((await second.json()).error.code).toBe(-32600);
        const answers = await messagesOf(await first);
        expect(answers).toEqual([
          { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'waited 300' }] } },
        ]);
        // The id is free again once answered.
        const third = await postJsonRpc(s.url, echo(7, 'later'), session);
        expect((await messagesOf(third))[0]!.result).toEqual({ content: [{ type: 'text', text: 'later' }] });
      });
    }
  });

  describe('refused uploads on keep-alive connections', () => {
    it('closes the connection after a 413 or an early 404, so the client’s next request on it succeeds', async () => {
      const s = await start({
        server: fixtureServer(),
        maxBodySize: 1024,
        routes: [{ path: '/livez', handle: () => new Response('ok') }],
      });
      const big = new Uint8Array(4 * 1024 * 1024).fill(0x20);
      for (let i = 0; i < 5; i++) {
        const tooLarge = await fetch(s.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: big,
        });
        expect(tooLarge.status).toBe(413);
        expect(tooLarge.headers.get('connection')).toBe('close');
        await tooLarge.text();
        // The same pool (undici's keep-alive agent) sends the next request at once.
        expect((await fetch(new URL('/livez', s.baseUrl))).status).toBe(200);
        const unknown = await fetch(s.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-session-id': 'no-such-session',
          },
          body: big,
        });
        expect(unknown.status).toBe(404);
        await unknown.text();
        expect((await fetch(new URL('/livez', s.baseUrl))).status).toBe(200);
      }
    });
  });

  describe('a client aborting mid-upload', () => {
    it('is answered as a bad request, not reported as an unexpected error', async () => {
      const reported: unknown[] = [];
      const statuses: number[] = [];
      let arrived = false;
      const watcher: Middleware = {
        name: 'watcher',
        async http(_req, _ctx, next) {
          arrived = true;
          try {
            return await next();
          } catch (error) {
            statuses.push((error as { status?: number }).status ?? 500);
            throw error;
          }
        },
      };
      const s = await start({
        server: fixtureServer(),
        middleware: [watcher],
        onError: (e) => reported.push(e),
      });
      const socket = await openPartialUpload(s.url);
      await waitFor(() => arrived, 'the request to arrive');
      socket.destroy();
      await waitFor(() => statuses.length === 1, 'the aborted request to be answered');
      expect(statuses).toEqual([400]);
      expect(reported).toEqual([]);
    });
  });

  describe('the default error report', () => {
    it('prints an unexpected error with its stack and cause, credentials scrubbed', async () => {
      const printed: string[] = [];
      const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
        printed.push(args.join(' '));
      });
      closers.push(async () => spy.mockRestore());
      const leaky: Middleware = {
        name: 'leaky',
        async rpc(call, next) {
          if (call.toolName !== 'echo') return next();
          throw new Error('upstream refused Authorization: Bearer mcpk_k1_Secret9 (password=hunter2)', {
            cause: new Error('api_key=Cause7'),
          });
        },
      };
      const s = await start({ server: fixtureServer(), middleware: [leaky] });
      const c = await client(s.url);
      await c.callTool({ name: 'echo', arguments: { text: 'x' } }).catch(() => {});
      await waitFor(() => printed.length > 0, 'the error report');
      const text = printed.join('\n');
      expect(text).toContain('Bearer [Redacted]');
      expect(text).toContain('[cause] Error: api_key=[Redacted]');
      expect(text).toContain('hardening.test.ts'); // the stack is kept
      for (const secret of ['mcpk_k1_Secret9', 'hunter2', 'Cause7']) expect(text).not.toContain(secret);
    });
  });

  describe('slow and greedy connections', () => {
    function openSlowloris(port: number): Socket & { closedAt?: number } {
      const socket: Socket & { closedAt?: number } = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume(); // read what the server sends (a 408), so its close is seen
      socket.on('close', () => {
        socket.closedAt = Date.now();
      });
      // Headers that never end.
      socket.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nx-slow: 1\r\n`);
      return socket;
    }

    it('sets sane server timeouts by default', async () => {
      const node = await serveWith({ server: fixtureServer() }, {});
      expect(node.server.headersTimeout).toBe(10_000);
      expect(node.server.requestTimeout).toBe(30_000);
      expect(node.server.keepAliveTimeout).toBe(5_000);
    });

    it('cuts off connections that never finish their headers, and caps connections per address', async () => {
      const node = await serveWith(
        { server: fixtureServer(), routes: [{ path: '/livez', handle: () => new Response('ok') }] },
        { headersTimeout: '1s', requestTimeout: '2s', maxConnectionsPerAddress: 5 },
      );
      const port = Number(node.url.port);
      const sockets: Array<Socket & { closedAt?: number }> = [];
      for (let i = 0; i < 8; i++) {
        sockets.push(openSlowloris(port));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      closers.push(async () => {
        for (const socket of sockets) socket.destroy();
      });
      // Three over the cap are closed as they arrive; the five admitted ones when their headers time out.
      await waitFor(() => sockets.filter((x) => x.closedAt !== undefined).length >= 3, 'the cap to apply');
      await waitFor(
        () => sockets.every((x) => x.closedAt !== undefined),
        'every slow connection to close',
        8000,
      );
      const res = await fetch(new URL('/livez', node.url));
      expect(res.status).toBe(200);
    });

    it('names a bad timeout or cap', async () => {
      const handler = createMiddlewareHandler({ server: fixtureServer() });
      await expect(serve(handler, { port: 0, headersTimeout: '40s', requestTimeout: '30s' })).rejects.toThrow(
        /headersTimeout/,
      );
      await expect(serve(handler, { port: 0, maxConnectionsPerAddress: 0 })).rejects.toThrow(
        /maxConnectionsPerAddress/,
      );
      await handler.close();
    });
  });
});
