import type { RateLimitDecision, RateLimitPolicy, RateLimitStore } from '@mcp-middleware/core';
import { connectClient, postJsonRpc, startTestServer, type TestServer } from '@mcp-middleware/core/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryStore } from './memory-store.js';
import { type LimitPolicy, type RateLimitOptions, rateLimit, type StoreFailureEvent } from './rate-limit.js';
import { testAuth } from './test-auth.js';

// The middleware answers synchronously from the in-process MemoryStore and awaits any other store. These tests
// hold the two paths to the same answers, and the failure handling of both.

const servers: TestServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: RateLimitOptions, sessions = false) {
  const s = await startTestServer({
    server: ({ jsonSchemaValidator }) => {
      const server = new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator });
      server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text }],
      }));
      server.registerTool('render', {}, async () => ({ content: [{ type: 'text', text: 'rendered' }] }));
      return server;
    },
    middleware: [testAuth, rateLimit(options)],
    ...(sessions ? {} : { sessions: false, enableJsonResponse: true }),
    onError: () => {},
  });
  servers.push(s);
  return s;
}

/** A store that answers a tick later, as a remote store does: the middleware's asynchronous path. */
function asyncStore(inner = new MemoryStore()): RateLimitStore {
  return {
    async consume(key: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision> {
      await new Promise((resolve) => setImmediate(resolve));
      return inner.consumeSync(key, policy, cost);
    },
  };
}

let nextId = 1;
const ping = () => ({ jsonrpc: '2.0', id: nextId++, method: 'ping' });

/** What a client sees of one answer, with the request id left out (each request has its own). */
async function seen(res: Response) {
  const body = (await res.json()) as { error?: unknown };
  return {
    status: res.status,
    policy: res.headers.get('ratelimit-policy'),
    limit: res.headers.get('ratelimit'),
    retryAfter: res.headers.get('retry-after'),
    error: body.error,
  };
}

/** Time stands still (only `Date`), so that two servers answering the same requests count the same. */
function freezeClock() {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-03-01T12:00:00.250Z') });
}

const tenantPolicies: LimitPolicy[] = [
  { name: 'burst', limit: 3, window: '10s' },
  { name: 'quota', limit: 5, window: '1m', algorithm: 'fixed-window' },
  {
    name: 'per-tenant',
    limit: 3,
    window: '1h',
    key: (s) => s.authInfo?.extra?.['tenant'] as string | undefined,
    cost: (s) => (s.client === 'id:heavy' ? 2 : 1),
  },
];

describe('the memory store answering synchronously', () => {
  it('gives the same statuses, headers and refusals as an asynchronous store, with one policy', async () => {
    freezeClock();
    const policies: LimitPolicy[] = [{ name: 'per-client', limit: 3, window: '1m' }];
    const memory = await start({ policies });
    const remote = await start({ policies, store: asyncStore() });
    const answers = { memory: [] as unknown[], remote: [] as unknown[] };
    for (const client of ['alice', 'alice', 'bob', 'alice', 'alice', 'bob']) {
      const headers = { 'x-test-client': client };
      answers.memory.push(await seen(await postJsonRpc(memory.url, ping(), headers)));
      answers.remote.push(await seen(await postJsonRpc(remote.url, ping(), headers)));
    }
    expect(answers.memory).toEqual(answers.remote);
    expect(answers.memory.map((a) => (a as { status: number }).status)).toEqual([
      200, 200, 200, 200, 429, 200,
    ]);
    expect(answers.memory[4]).toMatchObject({
      policy: '"per-client";q=3;w=60',
      limit: '"per-client";r=0;t=60',
      retryAfter: '20',
      error: { code: -32029, data: { policy: 'per-client', remaining: 0, retryAfterMs: 20_000 } },
    });
  });

  it('gives the same statuses, headers and refusals as an asynchronous store, with several policies', async () => {
    freezeClock();
    const memory = await start({ policies: tenantPolicies });
    const remote = await start({ policies: tenantPolicies, store: asyncStore() });
    const as = (client: string, tenant?: string) => ({
      'x-test-client': client,
      ...(tenant ? { 'x-test-tenant': tenant } : {}),
    });
    const requests = [
      as('alice', 'acme'),
      as('heavy', 'acme'),
      as('bob'), // no tenant: per-tenant does not count it
      as('carol', 'acme'), // acme's 3 units are used: refused by per-tenant
      as('alice', 'acme'),
      as('alice'),
      as('alice'), // alice's burst of 3 is used
      as('alice', 'globex'),
    ];
    const answers = { memory: [] as unknown[], remote: [] as unknown[] };
    for (const headers of requests) {
      answers.memory.push(await seen(await postJsonRpc(memory.url, ping(), headers)));
      answers.remote.push(await seen(await postJsonRpc(remote.url, ping(), headers)));
    }
    expect(answers.memory).toEqual(answers.remote);
    expect(answers.memory.map((a) => (a as { status: number }).status)).toEqual([
      200, 200, 200, 429, 429, 200, 429, 429,
    ]);
    expect(answers.memory[2]).toMatchObject({
      policy: '"burst";q=3;w=10, "quota";q=5;w=60',
      limit: '"burst";r=2;t=4, "quota";r=4;t=60',
    });
    expect(answers.memory[3]).toMatchObject({
      policy: '"burst";q=3;w=10, "quota";q=5;w=60, "per-tenant";q=3;w=3600',
      error: { data: { policy: 'per-tenant' } },
    });
  });

  it('gives the same in-band refusals as an asynchronous store on the RPC layer', async () => {
    freezeClock();
    const policies: LimitPolicy[] = [
      { name: 'renders', tools: ['render'], limit: 2, window: '1m' },
      {
        name: 'calls',
        methods: ['tools/call'],
        limit: 5,
        window: '1m',
        cost: (s) => (s.toolName === 'render' ? 2 : 1),
      },
    ];
    const outcomes = async (options: RateLimitOptions) => {
      const s = await start(options, true);
      const client = await connectClient(s.url, { headers: { 'x-test-client': 'c1' } });
      clients.push(client);
      const results: unknown[] = [];
      for (const name of ['render', 'echo', 'render', 'echo', 'render']) {
        const args = name === 'echo' ? { text: 'x' } : {};
        results.push(
          await client.callTool({ name, arguments: args }).then(
            (r) => (r.content as Array<{ text: string }>)[0]!.text,
            (e: McpError) => ({ code: e.code, data: e.data }),
          ),
        );
      }
      return results;
    };
    const memory = await outcomes({ policies });
    expect(memory).toEqual(await outcomes({ policies, store: asyncStore() }));
    expect(memory.slice(0, 3)).toEqual(['rendered', 'x', 'rendered']);
    expect(memory[3]).toMatchObject({ code: -32029, data: { policy: 'calls' } });
    // Both refuse the last render: renders waits 30 s (one of 2 per minute), calls 24 s (two of 5 per minute).
    expect(memory[4]).toMatchObject({ code: -32029, data: { policy: 'renders', retryAfterMs: 30_000 } });
  });

  it('still calls a MemoryStore subclass’s own consume', async () => {
    class CountingStore extends MemoryStore {
      calls = 0;
      override consume(key: string, policy: RateLimitPolicy, cost?: number): Promise<RateLimitDecision> {
        this.calls++;
        return super.consume(key, policy, cost);
      }
    }
    const store = new CountingStore();
    const s = await start({ store, policies: [{ name: 'per-client', limit: 5, window: '1m' }] });
    for (let i = 0; i < 3; i++) expect((await postJsonRpc(s.url, ping())).status).toBe(200);
    expect(store.calls).toBe(3);
  });
});

describe('with several policies that refuse at once', () => {
  for (const [kind, store] of [
    ['the memory store', () => undefined],
    ['an asynchronous store', () => asyncStore()],
  ] as const) {
    it(`reports the one with the longest wait (${kind})`, async () => {
      freezeClock();
      const s = await start({
        store: store(),
        policies: [
          { name: 'short', limit: 1, window: '2s' },
          { name: 'long', limit: 1, window: '1h' },
          { name: 'medium', limit: 1, window: '1m' },
        ],
      });
      expect((await postJsonRpc(s.url, ping())).status).toBe(200);
      const refused = await seen(await postJsonRpc(s.url, ping()));
      expect(refused).toMatchObject({
        status: 429,
        retryAfter: '3600',
        policy: '"short";q=1;w=2, "long";q=1;w=3600, "medium";q=1;w=60',
        limit: '"short";r=0;t=2, "long";r=0;t=3600, "medium";r=0;t=60',
        error: { data: { policy: 'long', retryAfterMs: 3_600_000 } },
      });
    });

    it(`reports the later of two with the same wait (${kind})`, async () => {
      freezeClock();
      const s = await start({
        store: store(),
        policies: [
          { name: 'first', limit: 1, window: '1m' },
          { name: 'second', limit: 1, window: '1m' },
        ],
      });
      await (await postJsonRpc(s.url, ping())).text();
      expect(await seen(await postJsonRpc(s.url, ping()))).toMatchObject({
        status: 429,
        error: { data: { policy: 'second' } },
      });
    });

    it(`still counts the other policies when a key function throws (${kind})`, async () => {
      let throws = true;
      const s = await start({
        store: store(),
        policies: [
          { name: 'counted', limit: 5, window: '1m' },
          {
            name: 'fragile',
            limit: 5,
            window: '1m',
            key: (subject) => {
              if (throws) throw new Error('key failed');
              return subject.client;
            },
          },
        ],
      });
      const failed = await postJsonRpc(s.url, ping());
      expect(failed.status).toBe(500);
      await failed.text();
      throws = false;
      const next = await postJsonRpc(s.url, ping());
      // 'counted' was charged by the failed request too.
      expect(next.headers.get('ratelimit')).toMatch(/^"counted";r=3;t=\d+, "fragile";r=4;t=\d+$/);
    });
  }
});

describe('when the store fails', () => {
  const boom = new Error('store down');
  const failing = {
    'throws synchronously': (): RateLimitStore => ({
      consume() {
        throw boom;
      },
    }),
    rejects: (): RateLimitStore => ({ consume: () => Promise.reject(boom) }),
    'is a closed MemoryStore': (): RateLimitStore => {
      const store = new MemoryStore();
      void store.close();
      return store;
    },
  };

  for (const [how, make] of Object.entries(failing)) {
    describe(`(it ${how})`, () => {
      const startFailing = async (onStoreFailure: 'open' | 'closed' | 'local', policies?: LimitPolicy[]) => {
        const failures: Array<{ error: unknown; event: StoreFailureEvent }> = [];
        const s = await start({
          store: make(),
          policies: policies ?? [{ name: 'per-client', limit: 2, window: '1m' }],
          onStoreFailure,
          onStoreError: (error, event) => failures.push({ error, event }),
        });
        return { s, failures };
      };

      it("admits without limit headers under 'open', and reports each failure", async () => {
        const { s, failures } = await startFailing('open');
        for (let i = 0; i < 3; i++) {
          const res = await postJsonRpc(s.url, ping());
          expect(res.status).toBe(200);
          expect(res.headers.get('ratelimit')).toBeNull();
          await res.text();
        }
        expect(failures.map((f) => f.event)).toEqual(
          Array(3).fill({ policy: 'per-client', outcome: 'open' }),
        );
        if (how !== 'is a closed MemoryStore') expect(failures[0]!.error).toBe(boom);
      });

      it("answers 503 with Retry-After: 1 under 'closed'", async () => {
        const { s, failures } = await startFailing('closed');
        const res = await postJsonRpc(s.url, ping());
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        await res.text();
        expect(failures.map((f) => f.event)).toEqual([{ policy: 'per-client', outcome: 'closed' }]);
      });

      it("limits per instance with the local store under 'local'", async () => {
        const { s, failures } = await startFailing('local');
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await postJsonRpc(s.url, ping());
          statuses.push(res.status);
          if (i === 0) expect(res.headers.get('ratelimit')).toMatch(/^"per-client";r=1;t=\d+$/);
          await res.text();
        }
        expect(statuses).toEqual([200, 200, 429]);
        expect(failures.every((f) => f.event.outcome === 'local')).toBe(true);
      });

      it("reports the failure of each policy, with several, and admits under 'open'", async () => {
        const { s, failures } = await startFailing('open', [
          { name: 'per-client', limit: 2, window: '1m' },
          { name: 'per-tenant', limit: 2, window: '1m', key: (subject) => `t:${subject.client}` },
        ]);
        const res = await postJsonRpc(s.url, ping());
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
        await res.text();
        expect(failures.map((f) => f.event.policy)).toEqual(['per-client', 'per-tenant']);
      });
    });
  }

  it('fails only the policy whose store call failed, with several policies', async () => {
    const inner = new MemoryStore();
    // Keys of 'remote' fail; 'local-only' counts. Fail open: the headers list only what counted.
    const store: RateLimitStore = {
      consume: (key, policy, cost) =>
        key.startsWith('remote:') ? Promise.reject(new Error('down')) : inner.consume(key, policy, cost),
    };
    const failures: StoreFailureEvent[] = [];
    const s = await start({
      store,
      policies: [
        { name: 'remote', limit: 2, window: '1m' },
        { name: 'local-only', limit: 2, window: '1m' },
      ],
      onStoreError: (_error, event) => failures.push(event),
    });
    const res = await postJsonRpc(s.url, ping());
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe('"local-only";q=2;w=60');
    expect(res.headers.get('ratelimit')).toMatch(/^"local-only";r=1;t=\d+$/);
    expect(failures).toEqual([{ policy: 'remote', outcome: 'open' }]);
  });
});
