import { afterEach, describe, expect, it } from 'vitest';
import { corsPolicy } from './cors.js';
import { createMiddlewareHandler } from './handler.js';
import {
  fixtureServer,
  initializeRequest,
  postJsonRpc,
  startTestServer,
  type TestServer,
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

const APP = 'https://app.example';

/** Challenges every request it sees, as an auth middleware does for a request without a token. */
const challengeAll: Middleware = {
  name: 'challenge',
  async http() {
    return new Response(null, {
      status: 401,
      headers: { 'www-authenticate': 'Bearer resource_metadata="x"' },
    });
  },
};

function preflight(url: URL, origin: string, method = 'POST') {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': 'content-type, mcp-session-id, authorization',
    },
  });
}

describe('cors', () => {
  describe('with a list of origins', () => {
    it('answers a preflight from an allowed origin with 204 before any middleware runs', async () => {
      const s = await start({
        server: fixtureServer(),
        middleware: [challengeAll],
        cors: { origins: [APP] },
      });
      const res = await preflight(s.url, APP);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST, DELETE, OPTIONS');
      const allowed = res.headers.get('access-control-allow-headers')!.toLowerCase().split(', ');
      expect(allowed).toEqual(
        expect.arrayContaining([
          'mcp-session-id',
          'mcp-protocol-version',
          'authorization',
          'content-type',
          'last-event-id',
          'mcp-method',
          'mcp-name',
        ]),
      );
      expect(res.headers.get('access-control-max-age')).toBe('600');
      expect(res.headers.get('vary')).toBe('Origin');
    });

    it('lets the allowed origin read answers, errors and auth challenges included, with the MCP headers exposed', async () => {
      const open = await start({ server: fixtureServer(), cors: { origins: [APP] } });
      const res = await postJsonRpc(open.url, initializeRequest(), { origin: APP });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      const exposed = res.headers.get('access-control-expose-headers')!.toLowerCase().split(', ');
      expect(exposed).toEqual([
        'mcp-session-id',
        'www-authenticate',
        'ratelimit',
        'ratelimit-policy',
        'retry-after',
      ]);
      const sessionId = res.headers.get('mcp-session-id')!;
      await res.body?.cancel();
      // A request in the session (no middleware: the handler's direct path) gets them too.
      const inSession = await postJsonRpc(
        open.url,
        { jsonrpc: '2.0', id: 2, method: 'ping' },
        { origin: APP, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      );
      expect(inSession.status).toBe(200);
      expect(inSession.headers.get('access-control-allow-origin')).toBe(APP);
      await inSession.body?.cancel();

      const guarded = await start({
        server: fixtureServer(),
        middleware: [challengeAll],
        cors: { origins: [APP] },
      });
      const challenged = await postJsonRpc(guarded.url, initializeRequest(), { origin: APP });
      expect(challenged.status).toBe(401);
      expect(challenged.headers.get('access-control-allow-origin')).toBe(APP);
      expect(challenged.headers.get('www-authenticate')).toContain('Bearer');
    });

    it('refuses other origins: 403, no CORS headers, and the same for their preflight', async () => {
      const s = await start({ server: fixtureServer(), cors: { origins: [APP] } });
      const res = await postJsonRpc(s.url, initializeRequest(), { origin: 'https://evil.example' });
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('vary')).toBe('Origin');
      const pre = await preflight(s.url, 'https://evil.example');
      expect(pre.status).toBe(403);
      expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('adds its origins to the Origin check, and leaves allowedOrigins without CORS headers', async () => {
      const s = await start({
        server: fixtureServer(),
        cors: { origins: [APP] },
        allowedOrigins: ['https://tool.example'],
      });
      const other = await postJsonRpc(s.url, initializeRequest(), { origin: 'https://tool.example' });
      expect(other.status).toBe(200);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      await other.body?.cancel();
    });

    it('answers preflights for routes that do not serve OPTIONS themselves, with their methods', async () => {
      const s = await start({
        server: fixtureServer(),
        cors: { origins: [APP] },
        routes: [
          { path: '/info', handle: () => new Response('info') },
          {
            path: '/own',
            methods: ['GET', 'OPTIONS'],
            handle: (req) => new Response(req.method === 'OPTIONS' ? 'mine' : 'own', { status: 200 }),
          },
        ],
      });
      const info = await preflight(new URL('/info', s.baseUrl), APP, 'GET');
      expect(info.status).toBe(204);
      expect(info.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS');
      const own = await preflight(new URL('/own', s.baseUrl), APP, 'GET');
      expect(await own.text()).toBe('mine');
      const read = await fetch(new URL('/info', s.baseUrl), { headers: { origin: APP } });
      expect(read.headers.get('access-control-allow-origin')).toBe(APP);
    });
  });

  describe("with '*'", () => {
    it('lets any origin through the Origin check and answers with a wildcard', async () => {
      const s = await start({ server: fixtureServer(), cors: { origins: '*' } });
      const res = await postJsonRpc(s.url, initializeRequest(), { origin: 'https://anyone.example' });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      await res.body?.cancel();
      expect(
        (await preflight(s.url, 'https://anyone.example')).headers.get('access-control-allow-origin'),
      ).toBe('*');
    });

    it('still refuses a Host the server does not answer to', async () => {
      const s = await start({
        server: fixtureServer(),
        cors: { origins: '*' },
        allowedHosts: ['mcp.example'],
      });
      const res = await postJsonRpc(s.url, initializeRequest(), { origin: 'https://anyone.example' });
      expect(res.status).toBe(403);
    });
  });

  it('without the option, sends no CORS headers and leaves preflights to the normal path', async () => {
    const s = await start({ server: fixtureServer() });
    const res = await preflight(s.url, APP);
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toBeNull();
  });

  it('refuses origins that are not origins, at creation', () => {
    for (const origins of [['https://app.example/'], ['app.example'], ['https://app.example/path']]) {
      expect(() => createMiddlewareHandler({ server: fixtureServer(), cors: { origins } })).toThrow(
        /cors.origins takes origins/,
      );
    }
    expect(() => corsPolicy({ origins: 'all' as never })).toThrow(/list of origins or '\*'/);
  });
});
