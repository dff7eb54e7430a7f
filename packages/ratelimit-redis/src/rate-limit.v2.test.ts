import type { Middleware } from '@mcp-middleware/core';
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
import { type LimitPolicy, rateLimit } from './rate-limit.js';
import { RedisStore } from './redis-store.js';
import { routeFromHeaders } from './request-headers.js';
import { useSharedRedis } from './test-redis.js';

/*
 * ratelimit-redis on SDK v2 (its own createMcpHandler behind createMiddlewareHandler({ fetch })), against a real
 * Redis, for a 2025-11-25 client and a 2026-07-28 client. 2026 requests name their method and tool in the
 * Mcp-Method / Mcp-Name headers, so per-tool limits are counted at the HTTP layer without reading the body.
 */

const shared = useSharedRedis('v2');
let stores = 0;

const closing = closeAfterEach();

/** The identity an auth middleware would set, from a test header. */
const testAuth: Middleware = {
  name: 'test-auth',
  async http(req, ctx, next) {
    const clientId = req.headers.get('x-test-client');
    if (clientId) ctx.authInfo = { token: 'test', clientId, scopes: [] };
    return next();
  },
};

async function start(policies: LimitPolicy[]) {
  const store = new RedisStore({
    client: shared.redis(),
    prefix: `${shared.prefix}${stores++}:`,
    timeout: '2s',
  });
  const s = await startV2TestServer({
    middleware: [testAuth, rateLimit({ policies, store })],
    server: (wrap) => {
      const server = new McpServer({ name: 'ratelimit-v2', version: '1.0.0' });
      server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
        content: [{ type: 'text', text }],
      }));
      server.registerTool('render', { description: 'An expensive tool' }, async () => ({
        content: [{ type: 'text', text: 'rendered' }],
      }));
      return wrap(server);
    },
  });
  closing.track(s);
  return s;
}

async function connect(s: V2TestServer, era: 'legacy' | 'modern', client = 'alice') {
  const c = await connectV2Client(s.url, era, { headers: { 'x-test-client': client } });
  closing.track(c);
  return c;
}

/** A raw 2026-07-28 tools/call whose body is not even JSON: only its headers say what it is. */
function headerOnlyCall(s: V2TestServer, tool: string, version = '2026-07-28') {
  return fetch(s.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-test-client': 'alice',
      'mcp-protocol-version': version,
      'mcp-method': 'tools/call',
      'mcp-name': tool,
    },
    body: 'not json',
  });
}

describe.each(ERAS)('rateLimit on SDK v2, %s era', (era) => {
  it('answers HTTP 429 with Retry-After and RateLimit headers once a client’s request budget is used', async () => {
    const s = await start([{ name: 'requests', limit: 6, window: '1m' }]);
    const client = await connect(s, era);
    let refused: unknown;
    for (let i = 0; i < 8 && refused === undefined; i++) {
      await client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e) => (refused = e));
    }
    expect(refused).toBeDefined();
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-client': 'alice' },
      body: '{}',
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.headers.get('ratelimit-policy')).toContain('"requests"');
    // Another client has its own budget.
    const other = await connect(s, era, 'bob');
    await expect(other.callTool({ name: 'echo', arguments: { text: 'y' } })).resolves.toBeDefined();
  });

  it('limits one tool and leaves the others alone', async () => {
    const s = await start([{ name: 'render', limit: 1, window: '1m', tools: ['render'] }]);
    const client = await connect(s, era);
    await expect(client.callTool({ name: 'render', arguments: {} })).resolves.toBeDefined();
    const second = client.callTool({ name: 'render', arguments: {} });
    if (era === 'legacy') {
      // 2025 requests: counted from the body in the RPC layer, refused in-band.
      await expect(second).rejects.toMatchObject({ code: -32029, data: { policy: 'render' } });
    } else {
      // 2026 requests: counted from the headers at the HTTP layer, refused with 429.
      await expect(second).rejects.toThrow(/429|Rate limit/);
    }
    await expect(client.callTool({ name: 'echo', arguments: { text: 'still fine' } })).resolves.toBeDefined();
  });
});

describe('rateLimit and the 2026-07-28 request headers', () => {
  it('counts a 2026 tool call from Mcp-Method / Mcp-Name without reading the body', async () => {
    const s = await start([{ name: 'render', limit: 1, window: '1m', tools: ['render'] }]);
    const client = await connect(s, 'modern');
    await client.callTool({ name: 'render', arguments: {} });
    // The body is not JSON: a refusal with 429 (not a 400 parse error) shows nothing read it.
    const res = await headerOnlyCall(s, 'render');
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit')).toContain('"render"');
  });

  it('ignores the headers on a request that claims a 2025 protocol version: its body decides', async () => {
    const s = await start([{ name: 'render', limit: 1, window: '1m', tools: ['render'] }]);
    const client = await connect(s, 'legacy');
    await client.callTool({ name: 'render', arguments: {} });
    const res = await headerOnlyCall(s, 'render', '2025-11-25');
    expect(res.status).not.toBe(429);
    expect(res.status).toBeGreaterThanOrEqual(400);
  });

  it('reads the tool name from the headers, base64-encoded names included', () => {
    const headers = (h: Record<string, string>) =>
      new Headers({ 'mcp-protocol-version': '2026-07-28', ...h });
    expect(routeFromHeaders(headers({ 'mcp-method': 'tools/call', 'mcp-name': 'render' }))).toEqual({
      method: 'tools/call',
      toolName: 'render',
    });
    const encoded = `=?base64?${Buffer.from('résumé').toString('base64')}?=`;
    expect(routeFromHeaders(headers({ 'mcp-method': 'tools/call', 'mcp-name': encoded }))?.toolName).toBe(
      'résumé',
    );
    expect(routeFromHeaders(headers({ 'mcp-method': 'resources/read', 'mcp-name': 'file:///a' }))).toEqual({
      method: 'resources/read',
      toolName: undefined,
    });
  });

  it('finds no route without a 2026 protocol version, a method, or a usable tool name', () => {
    expect(routeFromHeaders(new Headers({ 'mcp-method': 'tools/call', 'mcp-name': 'x' }))).toBeUndefined();
    expect(
      routeFromHeaders(
        new Headers({ 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/call', 'mcp-name': 'x' }),
      ),
    ).toBeUndefined();
    expect(routeFromHeaders(new Headers({ 'mcp-protocol-version': '2026-07-28' }))).toBeUndefined();
    expect(
      routeFromHeaders(new Headers({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' })),
    ).toBeUndefined();
    expect(
      routeFromHeaders(
        new Headers({ 'mcp-protocol-version': 'garbage', 'mcp-method': 'tools/call', 'mcp-name': 'x' }),
      ),
    ).toBeUndefined();
  });
});
