import { postJsonRpc, startTestServer, type TestServer, waitFor } from '@mcp-middleware/core/testing';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RateLimitStoreError } from './errors.js';
import { rateLimit, type StoreFailureEvent } from './rate-limit.js';
import { RedisStore } from './redis-store.js';
import { FAST_FAIL, RedisServerProcess, uniquePrefix } from './test-redis.js';

/** The store's command timeout in these tests; every decision must come within it plus a generous margin. */
const TIMEOUT_MS = 250;
const MARGIN_MS = 1000;

let redisServer: RedisServerProcess;
let client: Redis;
beforeAll(async () => {
  redisServer = await RedisServerProcess.start();
  client = new Redis(redisServer.port, '127.0.0.1', { ...FAST_FAIL, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await redisServer?.destroy();
});

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

type Outcome = 'open' | 'closed' | 'local';

async function start(onStoreFailure: Outcome) {
  const failures: Array<{ reason: string; event: StoreFailureEvent }> = [];
  const store = new RedisStore({ client, prefix: uniquePrefix('outage'), timeout: TIMEOUT_MS });
  const s = await startTestServer({
    server: ({ jsonSchemaValidator }) => new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator }),
    middleware: [
      rateLimit({
        store,
        policies: [{ name: 'per-client', limit: 3, window: '1h' }],
        onStoreFailure,
        onStoreError: (error, event) =>
          failures.push({ reason: (error as RateLimitStoreError).reason, event }),
      }),
    ],
    sessions: false,
    enableJsonResponse: true,
  });
  servers.push(s);
  const ping = async () => {
    const started = performance.now();
    const res = await postJsonRpc(s.url, { jsonrpc: '2.0', id: 1, method: 'ping' });
    await res.arrayBuffer();
    return { res, ms: performance.now() - started };
  };
  return { ping, failures, store };
}

const ready = () => waitFor(() => client.status === 'ready', 'the client to reconnect', 10_000);

describe('when Redis stops mid-test', () => {
  afterEach(async () => {
    await redisServer.start();
    await ready();
  });

  it("onStoreFailure 'open' admits within the timeout, reports it, and counts in Redis again on recovery", async () => {
    const { ping, failures } = await start('open');
    expect((await ping()).res.headers.get('ratelimit')).toBe('"per-client";r=2;t=1200');
    await redisServer.stop();
    for (let i = 0; i < 5; i++) {
      const { res, ms } = await ping();
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toBeNull(); // nothing was counted
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    }
    expect(failures.length).toBe(5);
    expect(failures.every((f) => f.event.outcome === 'open' && f.event.policy === 'per-client')).toBe(true);

    await redisServer.start();
    await ready();
    // The restarted Redis is empty (no persistence): counting starts over, in Redis.
    expect((await ping()).res.headers.get('ratelimit')).toBe('"per-client";r=2;t=1200');
    expect(failures.length).toBe(5);
  });

  it("onStoreFailure 'closed' answers 503 within the timeout, and admits again on recovery", async () => {
    const { ping, failures } = await start('closed');
    expect((await ping()).res.status).toBe(200);
    await redisServer.stop();
    const { res, ms } = await ping();
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(failures.map((f) => f.event.outcome)).toEqual(['closed']);

    await redisServer.start();
    await ready();
    expect((await ping()).res.status).toBe(200);
  });

  it("onStoreFailure 'local' limits with the in-process store, and goes back to Redis on recovery", async () => {
    const { ping, failures } = await start('local');
    expect((await ping()).res.headers.get('ratelimit')).toBe('"per-client";r=2;t=1200');
    await redisServer.stop();
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 3; i++) {
      const { res, ms } = await ping();
      expect(res.status).toBe(200);
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
      remaining.push(res.headers.get('ratelimit'));
    }
    // The local store counts from zero: this instance alone, bounded by the same policy.
    expect(remaining).toEqual([
      '"per-client";r=2;t=1200',
      '"per-client";r=1;t=2400',
      '"per-client";r=0;t=3600',
    ]);
    expect((await ping()).res.status).toBe(429);
    expect(failures.every((f) => f.event.outcome === 'local')).toBe(true);

    await redisServer.start();
    await ready();
    // Redis decides again (and has forgotten everything): admitted although the local count is spent.
    const back = await ping();
    expect(back.res.status).toBe(200);
    expect(back.res.headers.get('ratelimit')).toBe('"per-client";r=2;t=1200');
  });
});

describe('when Redis is slow (every client paused)', () => {
  const pause = async (ms: number) => {
    const admin = new Redis(redisServer.port, '127.0.0.1', { lazyConnect: true });
    await admin.connect();
    await admin.call('CLIENT', 'PAUSE', String(ms), 'ALL');
    admin.disconnect();
  };

  it("decides by the failure policy within the timeout, reporting reason 'timeout'", async () => {
    const open = await start('open');
    const closed = await start('closed');
    await pause(1500);
    const [a, b] = await Promise.all([open.ping(), closed.ping()]);
    expect(a.res.status).toBe(200);
    expect(b.res.status).toBe(503);
    expect(a.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(b.ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(open.failures.map((f) => f.reason)).toEqual(['timeout']);
    expect(closed.failures.map((f) => f.reason)).toEqual(['timeout']);
    expect(open.store.stats).toMatchObject({ decisions: 0, timeouts: 1, lateAnswers: 0 });
    // Once the pause ends (this PING waits for it), Redis decides again.
    expect(await client.ping()).toBe('PONG');
    expect((await closed.ping()).res.status).toBe(200);
    expect(closed.failures.length).toBe(1);
  });
});

describe('what an operator sees while Redis is down', () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    await redisServer.start();
    await ready();
  });

  it("reports the store as warn in readiness under 'local' and 'open' (requests are served) and fail under 'closed'", async () => {
    const store = new RedisStore({ client, prefix: uniquePrefix('ready'), timeout: TIMEOUT_MS });
    const policies = [{ name: 'per-client', limit: 3, window: '1h' as const }];
    const checks = (['local', 'open', 'closed'] as const).map((onStoreFailure) =>
      rateLimit({ store, policies, onStoreFailure }).storeCheck(),
    );
    expect(checks.map((c) => [c.name, c.critical])).toEqual([
      ['ratelimit-store', false],
      ['ratelimit-store', false],
      ['ratelimit-store', true],
    ]);
    expect(await Promise.all(checks.map((c) => c.check()))).toEqual([undefined, undefined, undefined]);
    await redisServer.stop();
    const down = await Promise.all(checks.map((c) => c.check()));
    expect(down.map((d) => d?.status)).toEqual(['warn', 'warn', 'fail']);
    expect(down[0]?.output).toContain('limits hold per instance');
    await redisServer.start();
    await ready();
    expect(await checks[0]!.check()).toBeUndefined();
  });

  it('warns once per 10 s by default, with a count, not once per request', async () => {
    const warnings: string[] = [];
    vi.spyOn(console, 'warn').mockImplementation((line: string) => {
      warnings.push(line);
    });
    const s = await startTestServer({
      server: ({ jsonSchemaValidator }) =>
        new McpServer({ name: 't', version: '1' }, { jsonSchemaValidator }),
      middleware: [
        rateLimit({
          store: new RedisStore({ client, prefix: uniquePrefix('quiet'), timeout: TIMEOUT_MS }),
          policies: [{ name: 'per-client', limit: 1000, window: '1h' }],
          onStoreFailure: 'local',
        }),
      ],
      sessions: false,
      enableJsonResponse: true,
    });
    servers.push(s);
    await redisServer.stop();
    for (let i = 0; i < 30; i++) {
      const res = await postJsonRpc(s.url, { jsonrpc: '2.0', id: i, method: 'ping' });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^\[ratelimit\] store failed for policy 'per-client' \(.*\); failing local$/);
    expect(warnings[0]).not.toContain('\n');
  });
});
