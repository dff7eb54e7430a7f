import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createKey } from './call.js';
import { createMiddlewareHandler } from './handler.js';
import { toNodeListener } from './node.js';
import {
  connectClient,
  fixtureServer,
  identifyByHeader,
  initializeRequest,
  newProbe,
  postJsonRpc,
  startTestServer,
  type TestServer,
  waitFor,
} from './testing/index.js';
import type { Middleware } from './types.js';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Parameters<typeof startTestServer>[0]) {
  const s = await startTestServer(options);
  servers.push(s);
  return s;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

describe('createMiddlewareHandler', () => {
  describe('middleware order', () => {
    it('runs HTTP and RPC layers outermost first on the way in and innermost first on the way out', async () => {
      const log: string[] = [];
      const tracer = (name: string): Middleware => ({
        name,
        async http(req, _ctx, next) {
          if (req.method !== 'POST') return next();
          log.push(`${name}:http>`);
          const res = await next();
          log.push(`${name}:http<`);
          return res;
        },
        async rpc(call, next) {
          if (call.method !== 'tools/call') return next();
          log.push(`${name}:rpc>`);
          const r = await next();
          log.push(`${name}:rpc<`);
          return r;
        },
      });
      // JSON responses, so the HTTP layer unwinds after the result rather than when an SSE stream opens.
      const s = await start({
        server: fixtureServer(),
        middleware: [tracer('a'), tracer('b')],
        enableJsonResponse: true,
      });
      const client = await connectClient(s.url);
      log.length = 0;
      await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      await waitFor(() => log.includes('a:http<'), 'the response to finish');
      expect(log).toEqual([
        'a:http>',
        'b:http>',
        'a:rpc>',
        'b:rpc>',
        'b:rpc<',
        'a:rpc<',
        'b:http<',
        'a:http<',
      ]);
      await client.close();
    });
  });

  describe('when a middleware answers without the server', () => {
    it('returns its answer to the client and never runs the tool', async () => {
      const probe = newProbe();
      const blocker: Middleware = {
        name: 'blocker',
        async rpc(call, next) {
          if (call.toolName === 'echo') return { error: { code: -32003, message: 'blocked by policy' } };
          return next();
        },
      };
      const s = await start({ server: fixtureServer(probe), middleware: [blocker] });
      const client = await connectClient(s.url);
      const err = await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(-32003);
      expect((err as McpError).message).toContain('blocked by policy');
      expect(probe.calls).toEqual([]);
      await client.close();
    });

    it('can rewrite the server result on the way out', async () => {
      const upper: Middleware = {
        name: 'upper',
        async rpc(call, next) {
          const r = await next();
          if (call.toolName !== 'echo' || !r.result) return r;
          const content = (r.result as { content: Array<{ type: 'text'; text: string }> }).content;
          return {
            result: { ...r.result, content: content.map((c) => ({ ...c, text: c.text.toUpperCase() })) },
          };
        },
      };
      const s = await start({ server: fixtureServer(), middleware: [upper] });
      const client = await connectClient(s.url);
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'quiet' } }))).toBe('QUIET');
      await client.close();
    });
  });

  describe('when a middleware throws', () => {
    it('answers a clean JSON-RPC internal error with no stack, and reports the error', async () => {
      const reported: unknown[] = [];
      const broken: Middleware = {
        name: 'broken',
        async rpc(call, next) {
          if (call.toolName === 'echo') throw new Error('db password=hunter2 at line 3');
          return next();
        },
      };
      const s = await start({
        server: fixtureServer(),
        middleware: [broken],
        onError: (e) => reported.push(e),
      });
      const client = await connectClient(s.url);
      const err = (await client
        .callTool({ name: 'echo', arguments: { text: 'x' } })
        .catch((e) => e)) as McpError;
      expect(err.code).toBe(-32603);
      expect(err.message).toBe('MCP error -32603: Internal error');
      expect(JSON.stringify(err)).not.toContain('hunter2');
      expect(reported).toHaveLength(1);
      expect(String(reported[0])).toContain('hunter2');
      await client.close();
    });

    it('answers HTTP 500 with a JSON-RPC error and no stack when the HTTP layer throws', async () => {
      const s = await start({
        server: fixtureServer(),
        onError: () => {},
        middleware: [
          {
            name: 'broken-http',
            async http() {
              throw new TypeError('secret-token-abc is invalid');
            },
          },
        ],
      });
      const res = await postJsonRpc(s.url, initializeRequest());
      expect(res.status).toBe(500);
      const body = await res.text();
      expect(JSON.parse(body)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32603, message: 'Internal error' },
      });
      expect(body).not.toContain('secret-token');
    });
  });

  describe('concurrency', () => {
    it('answers 200 concurrent calls each with its own id and result', async () => {
      const s = await start({
        server: fixtureServer(),
        middleware: [{ name: 'noop', rpc: (_c, next) => next() }],
      });
      const client = await connectClient(s.url);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          client.callTool({ name: 'echo', arguments: { text: `call-${i}` } }),
        ),
      );
      expect(results.map(text)).toEqual(Array.from({ length: 200 }, (_, i) => `call-${i}`));
      await client.close();
    });
  });

  describe('sessions', () => {
    it('creates a session on initialize, reuses it, and deletes it on DELETE', async () => {
      const s = await start({ server: fixtureServer() });
      const client = await connectClient(s.url);
      const transport = client.transport as unknown as {
        sessionId?: string;
        terminateSession(): Promise<void>;
      };
      const id = transport.sessionId;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(s.handler.host.sessions).toBe(1);
      await client.callTool({ name: 'echo', arguments: { text: 'again' } });
      expect(s.handler.host.sessions).toBe(1);
      await transport.terminateSession();
      expect(s.handler.host.sessions).toBe(0);
      const res = await postJsonRpc(
        s.url,
        { jsonrpc: '2.0', id: 9, method: 'tools/list' },
        { 'mcp-session-id': id!, 'mcp-protocol-version': '2025-11-25' },
      );
      expect(res.status).toBe(404);
      await client.close();
    });

    it('rejects a non-initialize request without a session id with 400', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await postJsonRpc(s.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      expect(res.status).toBe(400);
    });

    it('answers an unknown session id with 404 so the client starts over', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await postJsonRpc(
        s.url,
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { 'mcp-session-id': 'nope' },
      );
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe(-32001);
    });

    it('expires a session left idle past idleTimeout', async () => {
      const s = await start({ server: fixtureServer(), sessions: { idleTimeout: 100 } });
      const client = await connectClient(s.url);
      expect(s.handler.host.sessions).toBe(1);
      await waitFor(() => s.handler.host.sessions === 0, 'the idle session to expire', 5000);
      await client.close();
    });

    it('refuses a new session beyond sessions.max with 503', async () => {
      const s = await start({
        server: fixtureServer(),
        sessions: { max: 1 },
        middleware: [identifyByHeader],
      });
      const first = await connectClient(s.url, { headers: { 'x-who': 'alice' } });
      const res = await postJsonRpc(s.url, initializeRequest(), { 'x-who': 'bob' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('30');
      await first.close();
    });

    it('answers 404 to a different identity presenting someone else’s session id', async () => {
      const s = await start({ server: fixtureServer(), middleware: [identifyByHeader] });
      const alice = await connectClient(s.url, { headers: { 'x-who': 'alice' } });
      const id = (alice.transport as unknown as { sessionId: string }).sessionId;
      const res = await postJsonRpc(
        s.url,
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { 'mcp-session-id': id, 'x-who': 'mallory', 'mcp-protocol-version': '2025-11-25' },
      );
      expect(res.status).toBe(404);
      await alice.close();
    });
  });

  describe('stateless mode', () => {
    it('serves every request with a fresh server and no session id', async () => {
      const s = await start({ server: fixtureServer(), sessions: false });
      const client = await connectClient(s.url);
      expect((client.transport as unknown as { sessionId?: string }).sessionId).toBeUndefined();
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'one' } }))).toBe('one');
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'two' } }))).toBe('two');
      expect(s.handler.host.sessions).toBe(0);
      await client.close();
    });

    it('closes each request’s server once its answer is out, without aborting the call it answered', async () => {
      const signals: AbortSignal[] = [];
      let closed = 0;
      const s = await start({
        server: ({ jsonSchemaValidator }) => {
          const server = new McpServer({ name: 'one-shot', version: '1.0.0' }, { jsonSchemaValidator });
          server.registerTool('keep', { description: 'Keeps its signal' }, async (extra) => {
            signals.push(extra.signal);
            return { content: [{ type: 'text', text: 'kept' }] };
          });
          server.server.onclose = () => closed++;
          return server;
        },
        sessions: false,
      });
      const client = await connectClient(s.url);
      const before = closed;
      expect(text(await client.callTool({ name: 'keep', arguments: {} }))).toBe('kept');
      await waitFor(() => closed > before, 'the request’s server to close');
      // The call was answered before its server closed: nothing is left to cancel, so nothing is aborted.
      expect(signals.map((signal) => signal.aborted)).toEqual([false]);
      await client.close();
    });

    it('answers GET with 405', async () => {
      const s = await start({ server: fixtureServer(), sessions: false });
      const res = await fetch(s.url, { headers: { accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
    });
  });

  describe('identity', () => {
    it('carries AuthInfo from the HTTP layer to RPC middleware and to the tool’s extra.authInfo', async () => {
      const probe = newProbe();
      const seen: Array<{ clientId?: string; requestId?: string }> = [];
      const s = await start({
        server: fixtureServer(probe),
        middleware: [
          {
            name: 'auth',
            async http(_req, ctx, next) {
              ctx.authInfo = { token: 't', clientId: 'client-7', scopes: ['read'] };
              return next();
            },
          },
          {
            name: 'observer',
            async rpc(call, next) {
              if (call.toolName)
                seen.push({ clientId: call.authInfo?.clientId, requestId: call.http?.requestId });
              return next();
            },
          },
        ],
      });
      const client = await connectClient(s.url, { headers: { 'x-request-id': 'req-42' } });
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(probe.authClientIds).toEqual(['client-7']);
      expect(seen).toEqual([{ clientId: 'client-7', requestId: 'req-42' }]);
      await client.close();
    });

    it('gives RPC middleware one request header by call.header(name), in any case, without requestInfo', async () => {
      const seen: Array<string | undefined> = [];
      const s = await start({
        server: fixtureServer(),
        middleware: [
          {
            name: 'observer',
            async rpc(call, next) {
              if (call.toolName) seen.push(call.header('X-Tenant'), call.header('x-absent'));
              return next();
            },
          },
        ],
      });
      const client = await connectClient(s.url, { headers: { 'x-tenant': 'acme' } });
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(seen).toEqual(['acme', undefined]);
      await client.close();
    });
  });

  describe('per-request state', () => {
    it('hands a value set with ctx.set(key) to later HTTP middleware and to RPC middleware by call.http.get(key)', async () => {
      const TENANT = createKey<string>('test/tenant');
      const seen: Array<string | undefined> = [];
      const s = await start({
        server: fixtureServer(),
        middleware: [
          {
            name: 'sets',
            async http(req, ctx, next) {
              if (req.method !== 'POST') return next();
              // Nothing stored yet: get() answers undefined without making the map.
              seen.push(ctx.get(TENANT));
              ctx.set(TENANT, 'acme');
              return next();
            },
          },
          {
            name: 'reads',
            async http(req, ctx, next) {
              if (req.method === 'POST') seen.push(`http:${ctx.get(TENANT)}:${ctx.state.get(TENANT)}`);
              return next();
            },
            async rpc(call, next) {
              if (call.toolName) seen.push(`rpc:${call.http?.get(TENANT)}`);
              return next();
            },
          },
        ],
      });
      const client = await connectClient(s.url);
      seen.length = 0;
      await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(seen).toEqual([undefined, 'http:acme:acme', 'rpc:acme']);
      await client.close();
    });
  });

  describe('request ids', () => {
    it('echoes a valid x-request-id and replaces an invalid one', async () => {
      const s = await start({ server: fixtureServer() });
      const ok = await postJsonRpc(s.url, initializeRequest(), { 'x-request-id': 'abc-123' });
      expect(ok.headers.get('x-request-id')).toBe('abc-123');
      const bad = await postJsonRpc(s.url, initializeRequest(), {
        'x-request-id': 'evil\tvalue with spaces',
      });
      expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('adds headers middleware set to the final Response when called as a plain Fetch handler', async () => {
      const handler = createMiddlewareHandler({
        server: fixtureServer(),
        middleware: [
          {
            name: 'tagger',
            async http(_req, ctx, next) {
              ctx.setResponseHeader('x-served-by', 'tagger');
              return next();
            },
          },
        ],
      });
      const res = await handler.fetch(
        new Request('http://127.0.0.1/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify(initializeRequest()),
        }),
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-served-by')).toBe('tagger');
      await res.body?.cancel();
      await handler.close();
    });

    it('lets a middleware keep ctx.setResponseHeader and call it detached, over Node and as a plain Fetch handler', async () => {
      // tracing() wraps it this way: the function it kept must not need `this`.
      const detached: Middleware = {
        name: 'detached',
        async http(_req, ctx, next) {
          const set = ctx.setResponseHeader;
          ctx.setResponseHeader = (name, value) => set(name, `${value};seen`);
          const response = await next();
          set('x-after', 'yes');
          return response;
        },
        rpc: (call, next) => {
          call.http?.setResponseHeader('x-from-rpc', 'ok');
          return next();
        },
      };
      const s = await start({ server: fixtureServer(), middleware: [detached], enableJsonResponse: true });
      const overNode = await postJsonRpc(s.url, initializeRequest());
      expect(overNode.status).toBe(200);
      expect(overNode.headers.get('x-from-rpc')).toBe('ok;seen');
      expect(overNode.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);

      const handler = createMiddlewareHandler({
        server: fixtureServer(),
        middleware: [detached],
        enableJsonResponse: true,
      });
      const plain = await handler.fetch(
        new Request('http://127.0.0.1/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify(initializeRequest()),
        }),
      );
      expect(plain.status).toBe(200);
      expect(plain.headers.get('x-from-rpc')).toBe('ok;seen');
      expect(plain.headers.get('x-after')).toBe('yes');
      await plain.body?.cancel();
      await handler.close();
    });
  });

  describe('DNS rebinding protection', () => {
    it('rejects a foreign Origin with 403', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await postJsonRpc(s.url, initializeRequest(), { origin: 'http://evil.example' });
      expect(res.status).toBe(403);
      expect((await res.json()).error.message).toContain('evil.example');
    });

    it('accepts the server’s own origin and configured origins', async () => {
      const s = await start({ server: fixtureServer(), allowedOrigins: ['http://localhost:6274'] });
      const own = await postJsonRpc(s.url, initializeRequest(), { origin: s.baseUrl.origin });
      expect(own.status).toBe(200);
      const inspector = await postJsonRpc(s.url, initializeRequest(), { origin: 'http://localhost:6274' });
      expect(inspector.status).toBe(200);
    });

    it('lets a browser on another origin read public routes (metadata, probes), but not the MCP endpoint', async () => {
      const s = await start({
        server: fixtureServer(),
        routes: [{ path: '/.well-known/info', handle: () => Response.json({ ok: true }) }],
      });
      const info = await fetch(new URL('/.well-known/info', s.baseUrl), {
        headers: { origin: 'http://app.example' },
      });
      expect(info.status).toBe(200);
      const mcp = await postJsonRpc(s.url, initializeRequest(), { origin: 'http://app.example' });
      expect(mcp.status).toBe(403);
    });

    it('rejects a non-loopback Host when bound to loopback', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await new Promise<number>((resolve, reject) => {
        // fetch() will not let us set Host; use node:http directly.
        import('node:http').then(({ request }) => {
          const r = request(s.url, { method: 'POST', headers: { host: 'rebound.example:80' } }, (res) =>
            resolve(res.statusCode!),
          );
          r.on('error', reject);
          r.end('{}');
        });
      });
      expect(res).toBe(403);
    });
  });

  describe('body size', () => {
    it('rejects a body over maxBodySize with 413', async () => {
      const s = await start({ server: fixtureServer(), maxBodySize: 1024 });
      const big = { ...(initializeRequest() as object), padding: 'x'.repeat(2048) };
      const res = await postJsonRpc(s.url, big);
      expect(res.status).toBe(413);
      expect((await res.json()).error.message).toContain('1024 bytes');
    });

    it('answers malformed JSON with 400 and a parse error', async () => {
      const s = await start({ server: fixtureServer() });
      const res = await postJsonRpc(s.url, '{"jsonrpc": "2.0", ');
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe(-32700);
    });
  });

  describe('routes', () => {
    it('serves middleware routes beside the MCP endpoint, marked unprotected, and 404s the rest', async () => {
      const seen: boolean[] = [];
      const s = await start({
        server: fixtureServer(),
        middleware: [
          {
            name: 'probe',
            routes: [{ path: '/ping', handle: () => new Response('pong') }],
            async http(_req, ctx, next) {
              seen.push(ctx.isProtected);
              return next();
            },
          },
        ],
      });
      const res = await fetch(new URL('/ping', s.baseUrl));
      expect(await res.text()).toBe('pong');
      expect((await fetch(new URL('/ping', s.baseUrl), { method: 'POST' })).status).toBe(405);
      expect((await fetch(new URL('/nothing', s.baseUrl))).status).toBe(404);
      expect(seen[0]).toBe(false);
    });

    it('gives middleware the request path without a URL parse, equal to url.pathname', async () => {
      const seen: Array<[string, string]> = [];
      const s = await start({
        server: fixtureServer(),
        middleware: [
          {
            name: 'paths',
            async http(_req, ctx, next) {
              seen.push([ctx.path, ctx.url.pathname]);
              return next();
            },
          },
        ],
      });
      for (const path of ['/mcp?x=1#y', '/a/../mcp', '/caf%C3%A9?q=/x', '/%7Euser/./x']) {
        await fetch(`${s.baseUrl.origin}${path}`);
      }
      expect(seen).toHaveLength(4);
      for (const [path, pathname] of seen) expect(path).toBe(pathname);
      expect(seen.map(([path]) => path)).toEqual(['/mcp', '/mcp', '/caf%C3%A9', '/%7Euser/x']);
    });

    it('refuses a route that collides with the MCP endpoint', () => {
      expect(() =>
        createMiddlewareHandler({
          server: fixtureServer(),
          routes: [{ path: '/mcp', handle: () => new Response() }],
        }),
      ).toThrow(/collides/);
    });
  });

  describe('drain', () => {
    it('lets an in-flight call finish while refusing new requests with 503, then closes middleware', async () => {
      const closedMiddleware: string[] = [];
      const s = await start({
        server: fixtureServer(),
        middleware: [{ name: 'm', close: async () => void closedMiddleware.push('m') }],
      });
      const client = await connectClient(s.url);
      const slow = client.callTool({ name: 'slow', arguments: { ms: 300 } });
      await waitFor(() => s.handler.host.inFlight === 1, 'the call to be in flight');
      const closing = s.handler.close({ drainTimeout: '5s' });
      const refused = await postJsonRpc(s.url, initializeRequest());
      expect(refused.status).toBe(503);
      expect(text(await slow)).toBe('waited 300');
      await closing;
      expect(closedMiddleware).toEqual(['m']);
      expect(s.handler.host.sessions).toBe(0);
    });
  });

  describe('Express', () => {
    it('serves the same handler mounted in an Express app', async () => {
      const handler = createMiddlewareHandler({ server: fixtureServer() });
      const app = express();
      app.all('/mcp', toNodeListener(handler));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      const client = await connectClient(new URL(`http://127.0.0.1:${port}/mcp`));
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'via express' } }))).toBe(
        'via express',
      );
      await client.close();
      await handler.close();
      await new Promise((r) => server.close(r));
    });
  });

  describe('configuration errors', () => {
    it('names the bad option', () => {
      expect(() => createMiddlewareHandler({} as never)).toThrow(/server/);
      expect(() => createMiddlewareHandler({ server: fixtureServer(), path: 'mcp' })).toThrow(/path/);
      expect(() => createMiddlewareHandler({ server: fixtureServer(), maxBodySize: -1 })).toThrow(
        /maxBodySize/,
      );
      expect(() => createMiddlewareHandler({ server: fixtureServer(), trustProxy: true as never })).toThrow(
        /trustProxy/,
      );
      expect(() =>
        createMiddlewareHandler({ server: fixtureServer(), sessions: { idleTimeout: 'soon' as never } }),
      ).toThrow(/idleTimeout/);
    });
  });
});
