import {
  postJsonRpc,
  RedisServerProcess,
  startTestServer,
  type TestServer,
  waitFor,
} from '@mcp-middleware/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisSessions, redisSessions } from './index.js';
import {
  connectRedis,
  FAST_FAIL,
  initializeBody,
  recordsOptions,
  routedClient,
  textOf,
} from './test-records.js';

/** The session stores' command timeout here. */
const TIMEOUT_MS = 300;

describe('session records while Redis is down (a private redis-server, stopped and restarted)', () => {
  let redisServer: RedisServerProcess;
  let clients: Redis[] = [];
  let servers: TestServer[] = [];
  const logs: string[] = [];
  let scales: RedisSessions[] = [];

  beforeAll(async () => {
    redisServer = await RedisServerProcess.start();
    for (let i = 0; i < 2; i++) {
      const redis = new Redis(redisServer.port, '127.0.0.1', { ...FAST_FAIL, lazyConnect: true });
      redis.on('error', () => {});
      await redis.connect();
      clients.push(redis);
      const scale = redisSessions({
        redis,
        prefix: 'outage:',
        records: { replicaId: `r${i}`, timeout: `${TIMEOUT_MS}ms`, log: (line) => void logs.push(line) },
      });
      scales.push(scale);
      servers.push(
        await startTestServer({
          ...recordsOptions(`r${i}`),
          middleware: [scale, ...(recordsOptions(`r${i}`).middleware ?? [])],
          sessions: { store: scale.sessions, touchInterval: '50ms' },
          onError: (error) => void logs.push(String(error)),
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.handler.close({ drainTimeout: '100ms' }).then(() => s.close())));
    // The stores' subscribers too: left open, they would go on reconnecting to this port after the server is gone.
    await Promise.all(scales.map((s) => s.close?.()));
    for (const c of clients) c.disconnect();
    await redisServer?.destroy();
    servers = [];
    clients = [];
    scales = [];
  });

  it('keeps local sessions working, starts new ones locally, refuses remote ones with 503, and restores again once Redis is back', async () => {
    const urls = servers.map((s) => s.url);
    let target = 0;
    const { client, transport } = await routedClient(urls, () => target, { 'x-who': 'alice' });
    const other = await routedClient(urls, () => 0, { 'x-who': 'alice' });
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toMatch(/^r0 /);

    await redisServer.stop();
    const check = await scales[0]!.sessions.check.check();
    expect(check.status).toBe('warn');

    // The session r0 holds keeps working, touches failing quietly in the background.
    for (let i = 0; i < 5; i++) {
      expect(textOf(await client.callTool({ name: 'ask', arguments: { question: `q${i}` } }))).toBe(
        `r0 asked, client said q${i} ok`,
      );
    }
    // A new session starts on r0 alone, without waiting for Redis (far below a hang: five times the store's timeout,
    // plus room for a loaded CI machine); its record is saved once Redis is back (below).
    const started = performance.now();
    const fresh = await postJsonRpc(urls[0]!, initializeBody(), { 'x-who': 'alice' });
    expect(fresh.status).toBe(200);
    await fresh.body?.cancel();
    expect(performance.now() - started).toBeLessThan(5 * TIMEOUT_MS + 2000);
    // r1 cannot read the record of the session r0 holds: 503, not 404 (the session may well exist).
    const remote = await postJsonRpc(
      urls[1]!,
      { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25', 'x-who': 'alice' },
    );
    expect(remote.status).toBe(503);
    await remote.text();
    await waitFor(() => logs.some((l) => l.includes('Redis unreachable')), 'an outage log line');
    expect(logs.some((l) => l.includes('session store failed'))).toBe(true);
    expect(logs.join('\n')).not.toContain(transport.sessionId!);

    await redisServer.start();
    await waitFor(
      async () => (await scales[0]!.sessions.check.check()).status === 'pass',
      'Redis back',
      10_000,
    );
    // The restart lost every record: r0, still serving the session, saves its record again on its next touch. A
    // touch is in the background and may itself time out on a loaded machine (or fall within the touch interval):
    // until r1 restores the session, each round gives r0 another request, hence another touch.
    const headers = {
      'mcp-session-id': transport.sessionId!,
      'mcp-protocol-version': '2025-11-25',
      'x-who': 'alice',
    };
    await waitFor(
      async () => {
        await client.callTool({ name: 'whoami', arguments: {} });
        const res = await postJsonRpc(urls[1]!, { jsonrpc: '2.0', id: 6, method: 'tools/list' }, headers);
        await res.text();
        return res.status === 200;
      },
      'r1 to restore the session once r0 saved its record again',
      10_000,
    );
    // Restores resume: the same session is now served by r1.
    target = 1;
    expect(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).toBe(
      `r1 ${transport.sessionId}`,
    );
    // And the answer to a sampling request forwarded over pub/sub: r0's subscriber reconnects and subscribes again by
    // itself, on its own retry timer, not necessarily before the command client the check above used. Wait for that
    // (a forward nobody listens to is dropped, and the client's answer with it).
    const admin = await connectRedis(redisServer.url);
    try {
      await waitFor(
        async () => {
          const [, listeners] = (await admin.pubsub('NUMSUB', 'outage:replica:r0')) as [string, number];
          return listeners > 0;
        },
        "r0's subscriber to listen on its channel again",
        10_000,
      );
    } finally {
      admin.disconnect();
    }
    target = 0;
    const routedAnswers = await routedClient(urls, (_n, body) => (body?.includes('"result"') ? 1 : 0), {
      'x-who': 'alice',
    });
    expect(
      textOf(await routedAnswers.client.callTool({ name: 'ask', arguments: { question: 'back?' } })),
    ).toBe('r0 asked, client said back? ok');
    await Promise.all([client.close(), other.client.close(), routedAnswers.client.close()]);
  });
});
