import { type McpHandlerOptions, type Middleware, MiddlewareTransport } from '@mcp-middleware/core';
import { connectClient, postJsonRpc, startTestServer, type TestServer } from '@mcp-middleware/core/testing';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryStore } from './memory-store.js';
import {
  decide,
  type LimitPolicy,
  type RateLimitOptions,
  rateLimit,
  rateLimitHeaders,
} from './rate-limit.js';
import { RedisStore } from './redis-store.js';
import { testAuth } from './test-auth.js';
import { useSharedRedis } from './test-redis.js';

const shared = useSharedRedis('middleware');
const { prefix } = shared;

const servers: TestServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const tools = (server: McpServer) => {
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  server.registerTool('render', { description: 'An expensive tool' }, async () => ({
    content: [{ type: 'text', text: 'rendered' }],
  }));
  return server;
};

async function start(options: RateLimitOptions, handler: Partial<McpHandlerOptions> = {}) {
  const s = await startTestServer({
    server: ({ jsonSchemaValidator }) =>
      tools(new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator })),
    middleware: [testAuth, rateLimit(options)],
    ...handler,
  });
  servers.push(s);
  return s;
}

const ping = (id = 1) => ({ jsonrpc: '2.0', id, method: 'ping' });
const stateless = { sessions: false, enableJsonResponse: true } as const;
let stores = 0;
let lastPrefix = '';
/** A RedisStore with keys of its own, so that tests never share counts. */
const redisStore = () => {
  lastPrefix = `${prefix}${++stores}:`;
  return new RedisStore({ client: shared.redis(), prefix: lastPrefix, timeout: '2s' });
};

async function connect(url: URL, headers: Record<string, string> = {}) {
  const client = await connectClient(url, { headers });
  clients.push(client);
  return client;
}

describe('rateLimit over HTTP (HTTP-layer policies)', () => {
  describe('when under the limit', () => {
    it('passes the request and sends RateLimit and RateLimit-Policy', async () => {
      const s = await start(
        { store: redisStore(), policies: [{ name: 'per-client', limit: 3, window: '1m' }] },
        stateless,
      );
      const res = await postJsonRpc(s.url, ping());
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: 1, result: {} });
      expect(res.headers.get('ratelimit-policy')).toBe('"per-client";q=3;w=60');
      expect(res.headers.get('ratelimit')).toBe('"per-client";r=2;t=20');
      expect(res.headers.get('retry-after')).toBeNull();
    });
  });

  describe('when the limit is exceeded', () => {
    it('answers 429 with Retry-After, the RateLimit fields and a JSON-RPC error -32029', async () => {
      const s = await start(
        { store: redisStore(), policies: [{ name: 'per-client', limit: 2, window: '10s' }] },
        stateless,
      );
      for (let i = 0; i < 2; i++) expect((await postJsonRpc(s.url, ping())).status).toBe(200);
      const res = await postJsonRpc(s.url, ping());
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(5);
      expect(res.headers.get('ratelimit-policy')).toBe('"per-client";q=2;w=10');
      expect(res.headers.get('ratelimit')).toMatch(/^"per-client";r=0;t=(9|10)$/);
      const body = (await res.json()) as { error: { code: number; data: Record<string, unknown> } };
      expect(body.error.code).toBe(-32029);
      expect(body.error.data).toMatchObject({ limit: 2, remaining: 0, policy: 'per-client' });
      expect(body.error.data['retryAfterMs']).toBeGreaterThan(0);
      expect(body.error.data['retryAfterMs']).toBeLessThanOrEqual(5000);
    });

    it('reaches the SDK client as an HTTP 429 error', async () => {
      const s = await start({ policies: [{ name: 'per-client', limit: 1, window: '1m' }] });
      const err = await connectClient(s.url).catch((e: unknown) => e);
      // initialize passed; the initialized notification was the second request.
      expect(String(err)).toMatch(/429|Too Many Requests|Rate limit/i);
    });
  });

  describe('which requests it skips', () => {
    it('leaves routes that are not protected (probes, metadata) alone', async () => {
      const s = await start(
        { store: redisStore(), policies: [{ name: 'per-client', limit: 1, window: '1m' }] },
        {
          ...stateless,
          routes: [{ path: '/livez', handle: () => new Response('ok') }],
        },
      );
      for (let i = 0; i < 5; i++) {
        const res = await fetch(new URL('/livez', s.baseUrl));
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      expect((await postJsonRpc(s.url, ping())).status).toBe(200);
    });
  });

  describe('whom it counts', () => {
    it('keys by the AuthInfo client id when there is one', async () => {
      const s = await start(
        { store: redisStore(), policies: [{ name: 'per-client', limit: 1, window: '1m' }] },
        stateless,
      );
      expect((await postJsonRpc(s.url, ping(), { 'x-test-client': 'alice' })).status).toBe(200);
      expect((await postJsonRpc(s.url, ping(), { 'x-test-client': 'alice' })).status).toBe(429);
      // Same address, another client: its own count.
      expect((await postJsonRpc(s.url, ping(), { 'x-test-client': 'bob' })).status).toBe(200);
      expect(await shared.redis().exists(`${lastPrefix}per-client:id:bob`)).toBe(1);
    });

    it('keys by the client address under trustProxy, and ignores X-Forwarded-For without it', async () => {
      const policies: LimitPolicy[] = [{ name: 'per-ip', limit: 1, window: '1m' }];
      const trusting = await start({ store: new MemoryStore(), policies }, { ...stateless, trustProxy: 1 });
      expect((await postJsonRpc(trusting.url, ping(), { 'x-forwarded-for': '203.0.113.1' })).status).toBe(
        200,
      );
      expect((await postJsonRpc(trusting.url, ping(), { 'x-forwarded-for': '203.0.113.1' })).status).toBe(
        429,
      );
      expect((await postJsonRpc(trusting.url, ping(), { 'x-forwarded-for': '203.0.113.2' })).status).toBe(
        200,
      );

      const strict = await start({ store: new MemoryStore(), policies }, stateless);
      expect((await postJsonRpc(strict.url, ping(), { 'x-forwarded-for': '203.0.113.1' })).status).toBe(200);
      expect((await postJsonRpc(strict.url, ping(), { 'x-forwarded-for': '203.0.113.2' })).status).toBe(429);
    });

    it('counts IPv6 clients per /64 by default, so rotating through one prefix gains nothing', async () => {
      const policies: LimitPolicy[] = [{ name: 'per-ip', limit: 2, window: '1m' }];
      const s = await start({ store: redisStore(), policies }, { ...stateless, trustProxy: 1 });
      const from = async (address: string) =>
        (await postJsonRpc(s.url, ping(), { 'x-forwarded-for': address })).status;
      expect(await from('2001:db8:1:2::a')).toBe(200);
      expect(await from('2001:db8:1:2:ffff:ffff:ffff:1')).toBe(200);
      expect(await from('2001:db8:1:2::b')).toBe(429);
      // The next /64 is another customer.
      expect(await from('2001:db8:1:3::a')).toBe(200);
      expect(await shared.redis().exists(`${lastPrefix}per-ip:ip:2001:db8:1:2:0:0:0:0/64`)).toBe(1);
    });

    it('counts per address as configured by ipv6Subnet (48 here; false keeps full addresses)', async () => {
      const policies: LimitPolicy[] = [{ name: 'per-ip', limit: 1, window: '1m' }];
      const wide = await start(
        { store: new MemoryStore(), policies, ipv6Subnet: 48 },
        { ...stateless, trustProxy: 1 },
      );
      const status = async (url: URL, address: string) =>
        (await postJsonRpc(url, ping(), { 'x-forwarded-for': address })).status;
      expect(await status(wide.url, '2001:db8:1:2::a')).toBe(200);
      expect(await status(wide.url, '2001:db8:1:77::a')).toBe(429);
      const full = await start(
        { store: new MemoryStore(), policies, ipv6Subnet: false },
        { ...stateless, trustProxy: 1 },
      );
      expect(await status(full.url, '2001:db8:1:2::a')).toBe(200);
      expect(await status(full.url, '2001:db8:1:2::b')).toBe(200);
    });

    it('keys per tenant with a key function, and leaves out requests it returns undefined for', async () => {
      const s = await start(
        {
          store: redisStore(),
          policies: [
            {
              name: 'per-tenant',
              limit: 2,
              window: '1m',
              key: (subject) => subject.authInfo?.extra?.['tenant'] as string | undefined,
            },
          ],
        },
        stateless,
      );
      const as = (client: string, tenant: string) => ({ 'x-test-client': client, 'x-test-tenant': tenant });
      expect((await postJsonRpc(s.url, ping(), as('alice', 'acme'))).status).toBe(200);
      expect((await postJsonRpc(s.url, ping(), as('bob', 'acme'))).status).toBe(200);
      expect((await postJsonRpc(s.url, ping(), as('carol', 'acme'))).status).toBe(429);
      expect((await postJsonRpc(s.url, ping(), as('dave', 'globex'))).status).toBe(200);
      // No tenant: not counted by this policy, and no headers for it.
      const anonymous = await postJsonRpc(s.url, ping());
      expect(anonymous.status).toBe(200);
      expect(anonymous.headers.get('ratelimit')).toBeNull();
    });
  });

  describe('with several policies', () => {
    it('sends every policy in the fields and refuses with the one that needs the longest wait', async () => {
      const s = await start(
        {
          store: redisStore(),
          policies: [
            { name: 'burst', limit: 10, window: '1s' },
            { name: 'quota', limit: 2, window: '1h', algorithm: 'fixed-window' },
          ],
        },
        stateless,
      );
      const first = await postJsonRpc(s.url, ping());
      expect(first.headers.get('ratelimit-policy')).toBe('"burst";q=10;w=1, "quota";q=2;w=3600');
      expect(first.headers.get('ratelimit')).toMatch(/^"burst";r=9;t=1, "quota";r=1;t=\d+$/);
      await postJsonRpc(s.url, ping());
      const refused = await postJsonRpc(s.url, ping());
      expect(refused.status).toBe(429);
      const body = (await refused.json()) as { error: { data: { policy: string } } };
      expect(body.error.data.policy).toBe('quota');
    });
  });
});

describe('a per-address limit in front of authentication (pre-auth)', () => {
  /** An auth middleware that refuses every request: a flood of bad keys. */
  const refuseAll: Middleware = {
    name: 'refuse-all',
    async http() {
      return new Response('{"jsonrpc":"2.0","error":{"code":-32001,"message":"Unauthorized"},"id":null}', {
        status: 401,
      });
    },
  };

  it('answers 429 to an unauthenticated flood from one address once it passes the limit, before auth runs', async () => {
    const preAuth = rateLimit({
      store: new MemoryStore({ maxKeys: 1000 }),
      policies: [{ name: 'per-address', limit: 5, window: '1m', key: (s) => s.address }],
    });
    const s = await startTestServer({
      server: ({ jsonSchemaValidator }) =>
        new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator }),
      middleware: [preAuth, refuseAll],
      ...stateless,
      trustProxy: 1,
    });
    servers.push(s);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await postJsonRpc(s.url, ping(), { 'x-forwarded-for': '198.51.100.9', 'x-api-key': 'bad' });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // Another address is not affected.
    expect((await postJsonRpc(s.url, ping(), { 'x-forwarded-for': '198.51.100.10' })).status).toBe(401);
  });
});

describe('rateLimit on the RPC layer (per tool, in-band)', () => {
  it('refuses a call over its tool limit with error -32029 and the wait in data, leaving other tools alone', async () => {
    const s = await start({
      store: redisStore(),
      policies: [{ name: 'echo-calls', tools: ['echo'], limit: 2, window: '1m' }],
    });
    const client = await connect(s.url, { 'x-test-client': 'tool-user' });
    for (let i = 0; i < 2; i++) await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const err = await client.callTool({ name: 'echo', arguments: { text: 'hi' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32029);
    const data = (err as McpError).data as Record<string, unknown>;
    expect(data).toMatchObject({ limit: 2, remaining: 0, policy: 'echo-calls' });
    expect(data['retryAfterMs']).toBeGreaterThan(25_000);
    expect(data['retryAfterMs']).toBeLessThanOrEqual(30_000);
    expect(data['resetMs']).toBeGreaterThan(0);
    // Another tool, and other methods, do not count.
    expect(await client.callTool({ name: 'render', arguments: {} })).toMatchObject({
      content: [{ text: 'rendered' }],
    });
    await client.listTools();
  });

  it('charges each call its cost', async () => {
    const s = await start({
      policies: [
        {
          name: 'units',
          methods: ['tools/call'],
          limit: 5,
          window: '1m',
          cost: (subject) => (subject.toolName === 'render' ? 4 : 1),
        },
      ],
    });
    const client = await connect(s.url);
    await client.callTool({ name: 'render', arguments: {} });
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    const err = await client.callTool({ name: 'render', arguments: {} }).catch((e: unknown) => e);
    expect((err as McpError).code).toBe(-32029);
    expect(((err as McpError).data as { remaining: number }).remaining).toBe(0);
  });

  it('counts per client and tool with a key function', async () => {
    const s = await start({
      policies: [
        {
          name: 'per-tool',
          layer: 'rpc',
          methods: ['tools/call'],
          limit: 1,
          window: '1m',
          key: (subject) => `${subject.client}:${subject.toolName}`,
        },
      ],
    });
    const client = await connect(s.url, { 'x-test-client': 'c1' });
    await client.callTool({ name: 'echo', arguments: { text: 'a' } });
    await client.callTool({ name: 'render', arguments: {} });
    const err = await client.callTool({ name: 'render', arguments: {} }).catch((e: unknown) => e);
    expect((err as McpError).code).toBe(-32029);
  });

  describe('over a transport without HTTP (stdio, in-memory)', () => {
    it('checks every policy per call and answers in-band', async () => {
      const server = tools(new McpServer({ name: 't', version: '1' }));
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const limiter = rateLimit({ policies: [{ name: 'per-client', limit: 3, window: '1m' }] });
      await server.connect(new MiddlewareTransport(serverSide, { middleware: [limiter] }));
      const client = new Client({ name: 'c', version: '1' });
      await client.connect(clientSide); // initialize: 1
      try {
        await client.listTools(); // 2
        await client.callTool({ name: 'echo', arguments: { text: 'x' } }); // 3
        const err = await client
          .callTool({ name: 'echo', arguments: { text: 'x' } })
          .catch((e: unknown) => e);
        expect((err as McpError).code).toBe(-32029);
        expect(((err as McpError).data as { policy: string }).policy).toBe('per-client');
      } finally {
        await client.close();
        await limiter.close?.();
      }
    });
  });
});

describe('decide and rateLimitHeaders', () => {
  const header = '"a";q=1;w=1';
  it('admits when every policy admits or failed open', () => {
    const allowed = { allowed: true, limit: 5, remaining: 4, resetMs: 1200, retryAfterMs: 0 };
    const verdict = decide([
      { policy: 'a', header, decision: allowed },
      { policy: 'b', header: '"b";q=1;w=1', decision: undefined },
    ]);
    expect(verdict.ok).toBe(true);
    expect(rateLimitHeaders(verdict)).toEqual({ 'ratelimit-policy': header, ratelimit: '"a";r=4;t=2' });
  });

  it('reports the refusal with the longest wait, and Retry-After rounded up', () => {
    const refused = (retryAfterMs: number) => ({
      allowed: false,
      limit: 1,
      remaining: 0,
      resetMs: 9000,
      retryAfterMs,
    });
    const verdict = decide([
      { policy: 'short', header, decision: refused(100) },
      { policy: 'long', header, decision: refused(2100) },
    ]);
    expect(verdict.ok).toBe(false);
    expect(!verdict.ok && verdict.policy).toBe('long');
    expect(rateLimitHeaders(verdict)['retry-after']).toBe('3');
  });
});

describe('configuration', () => {
  it('throws a TypeError naming the option', () => {
    expect(() => rateLimit({ policies: [] })).toThrow(/policies/);
    expect(() => rateLimit({ policies: [{ name: 'x', limit: 0, window: '1m' }] })).toThrow(
      /policies\[0\].*limit/,
    );
    expect(() => rateLimit({ policies: [{ name: 'x', limit: 1, window: 'soon' as never }] })).toThrow(
      /policies\[0\]\.window/,
    );
    expect(() => rateLimit({ policies: [{ name: 'bad name', limit: 1, window: '1m' }] })).toThrow(/name/);
    expect(() =>
      rateLimit({
        policies: [
          { name: 'x', limit: 1, window: '1m' },
          { name: 'x', limit: 2, window: '1m' },
        ],
      }),
    ).toThrow(/used by another policy/);
    expect(() => rateLimit({ policies: [{ name: 'x', limit: 5, window: '1m', cost: 6 }] })).toThrow(/cost/);
    expect(() =>
      rateLimit({ policies: [{ name: 'x', limit: 5, window: '1m', layer: 'http', tools: ['echo'] }] }),
    ).toThrow(/layer/);
    expect(() => rateLimit({ policies: [{ name: 'x', limit: 5, window: '1m' }], ipv6Subnet: 0 })).toThrow(
      /ipv6Subnet/,
    );
    expect(() =>
      rateLimit({ policies: [{ name: 'x', limit: 5, window: '1m' }], onStoreFailure: 'maybe' as never }),
    ).toThrow(/onStoreFailure/);
  });
});
