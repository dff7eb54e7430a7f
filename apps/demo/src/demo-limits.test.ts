import { generateApiKey } from '@mcp-middleware/auth-apikey';
import { initializeRequest, postJsonRpc, RedisServerProcess, waitFor } from '@mcp-middleware/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from './test-demo.js';

const linesOf = (demo: Demo, message: string) =>
  demo
    .output()
    .split('\n')
    .filter((line) => line.includes(`"msg":"${message}"`));

describe('the demo under an unauthenticated flood', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ AUTH_MODE: 'apikey', PRE_AUTH_LIMIT_PER_MINUTE: '20', TRUST_PROXY_HOPS: '1' });
  });
  afterAll(() => demo?.stop());

  it('answers 429 per address before checking keys once the pre-auth limit is spent, counting IPv6 per /64', async () => {
    const bad = generateApiKey({ owner: 'nobody' }).key; // well-formed, unknown to the demo
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      // One client rotating through its /64: one address as far as the limit is concerned.
      const res = await postJsonRpc(demo.url, initializeRequest(), {
        'x-api-key': bad,
        'x-forwarded-for': `2001:db8:a:b::${(i + 1).toString(16)}`,
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses.slice(0, 20)).toEqual(new Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(new Array(10).fill(429));
    // Another /64 is another client.
    const other = await postJsonRpc(demo.url, initializeRequest(), {
      'x-api-key': bad,
      'x-forwarded-for': '2001:db8:a:c::1',
    });
    expect(other.status).toBe(401);
    await other.body?.cancel();
  });

  it('logs refused keys aggregated: one line per 10 s with the count held back, not one per request', async () => {
    await waitFor(() => linesOf(demo, 'api key refused').length > 0, 'the first refusal line');
    const lines = linesOf(demo, 'api key refused');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ reason: 'unknown_key', suppressed: 0 });
  });
});

describe('the demo while its Redis is down', () => {
  let redis: RedisServerProcess;
  let demo: Demo;
  beforeAll(async () => {
    redis = await RedisServerProcess.start();
    demo = await startDemo({ AUTH_MODE: 'apikey', REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(async () => {
    await demo?.stop();
    await redis?.destroy();
  });

  const readiness = async () => {
    const res = await fetch(new URL('/readyz', demo.base));
    const body = (await res.json()) as { status: string; checks: Record<string, Array<{ status: string }>> };
    return { code: res.status, status: body.status, redis: body.checks['redis']?.[0]?.status };
  };

  it("stays ready with status warn, since onStoreFailure 'local' keeps serving, and logs the failure once", async () => {
    await waitFor(async () => (await readiness()).redis === 'pass', 'the demo to connect to Redis', 15_000);
    await redis.stop();
    let seen: Awaited<ReturnType<typeof readiness>> | undefined;
    await waitFor(async () => {
      seen = await readiness();
      return seen.redis !== 'pass';
    }, 'readiness to notice Redis is gone');
    expect(seen).toEqual({ code: 200, status: 'warn', redis: 'warn' });

    for (let i = 0; i < 50; i++) {
      const res = await postJsonRpc(demo.url, initializeRequest(), { 'x-api-key': demo.devKey! });
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }
    await waitFor(() => linesOf(demo, 'rate-limit store failure').length > 0, 'the store failure line');
    const lines = linesOf(demo, 'rate-limit store failure');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ outcome: 'local', policy: 'per-client' });
    expect(lines[0]).not.toContain('stack');

    await redis.start();
    await waitFor(async () => (await readiness()).redis === 'pass', 'readiness to see Redis back', 15_000);
  });
});
