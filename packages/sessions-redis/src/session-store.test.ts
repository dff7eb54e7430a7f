import { postJsonRpc, startTestServer, type TestServer, waitFor } from '@mcp-middleware/core/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSessionStore, type RedisSessions, redisSessions } from './index.js';
import {
  connectRedis,
  deleteKeys,
  recordsOptions,
  routedClient,
  textOf,
  uniquePrefix,
} from './test-records.js';

describe('session records in Redis (two handlers in one process sharing one Redis)', () => {
  const prefix = uniquePrefix('inproc');
  let redis: Redis;
  let scales: RedisSessions[] = [];
  let servers: TestServer[] = [];
  const urls = () => servers.map((s) => s.url);

  async function startReplicas(count: number, sessions: { maxPerPrincipal?: number } = {}) {
    for (let i = 0; i < count; i++) {
      const scale = redisSessions({ redis, prefix, records: { replicaId: `r${i}`, log: () => {} } });
      scales.push(scale);
      servers.push(
        await startTestServer({
          ...recordsOptions(`r${i}`),
          middleware: [scale, ...(recordsOptions(`r${i}`).middleware ?? [])],
          sessions: { store: scale.sessions, touchInterval: '100ms', ...sessions },
        }),
      );
    }
    // Each store subscribes to its channels in the background: a forwarded answer or a deletion notice published
    // before its replica listens would be lost. Exact counts: the stores of earlier tests are closed (afterEach).
    await waitFor(async () => {
      const channels = [
        `${prefix}sessions:deleted`,
        ...scales.map((s) => `${prefix}replica:${s.sessions.replicaId}`),
      ];
      // NUMSUB answers channel, count, channel, count, ...
      const reply = (await redis.pubsub('NUMSUB', ...channels)) as Array<string | number>;
      const counts = channels.map((_, i) => Number(reply[2 * i + 1]));
      return counts[0] === scales.length && counts.slice(1).every((n) => n === 1);
    }, 'every replica to listen on its channels');
  }

  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterEach(async () => {
    await Promise.all(servers.map((s) => s.handler.close({ drainTimeout: '100ms' }).then(() => s.close())));
    // Their subscribers too (the handler only stops listening): the next test's replicas reuse the channel names.
    await Promise.all(scales.map((s) => s.close?.()));
    servers = [];
    scales = [];
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('serves a session created on one replica from another that restores it from its record', async () => {
    await startReplicas(2);
    // initialize on r0, everything after it on r1.
    const { client, transport } = await routedClient(urls(), (n) => (n === 0 ? 0 : 1), { 'x-who': 'alice' });
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(textOf(result)).toBe(`r1 ${transport.sessionId}`);
    expect(servers[1]!.handler.host.sessions).toBe(1);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('ask');
    await client.close();
  });

  it('keeps the client capabilities: a restored session samples from the client', async () => {
    await startReplicas(2);
    const { client } = await routedClient(urls(), (n) => (n === 0 ? 0 : 1), { 'x-who': 'alice' });
    const result = await client.callTool({ name: 'ask', arguments: { question: 'ready?' } });
    expect(textOf(result)).toBe('r1 asked, client said ready? ok');
    await client.close();
  });

  it('forwards the answer to a sampling request that lands on another replica to the one that waits', async () => {
    await startReplicas(2);
    // Answers (a JSON-RPC result in the body) go to r1; everything else to r0, which asks.
    const { client, log } = await routedClient(urls(), (_n, body) => (body?.includes('"result"') ? 1 : 0), {
      'x-who': 'alice',
    });
    const result = await client.callTool({ name: 'ask', arguments: { question: 'there?' } });
    expect(textOf(result)).toBe('r0 asked, client said there? ok');
    const answer = log.find((entry) => entry.body?.includes('"result"'));
    expect(answer?.target).toBe(1);
    // The id on the wire names the replica that asked.
    expect(JSON.parse(answer!.body!).id).toMatch(/^r0:\d+$/);
    // r1 forwarded without making a copy of the session.
    expect(servers[1]!.handler.host.sessions).toBe(0);
    await client.close();
  });

  it('answers a stranger asking for someone else’s session 404, exactly as for an unknown session', async () => {
    await startReplicas(2);
    const { client, transport } = await routedClient(urls(), () => 0, { 'x-who': 'alice' });
    const sessionId = transport.sessionId!;
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const call = { jsonrpc: '2.0', id: 9, method: 'tools/list' };
    const stranger = await postJsonRpc(urls()[1]!, call, { ...headers, 'x-who': 'mallory' });
    const unknown = await postJsonRpc(urls()[1]!, call, {
      ...headers,
      'mcp-session-id': crypto.randomUUID(),
      'x-who': 'mallory',
    });
    const anonymous = await postJsonRpc(urls()[1]!, call, headers);
    const strangerBody = await stranger.text();
    expect(stranger.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(anonymous.status).toBe(404);
    expect(strangerBody).toBe(await unknown.text());
    expect(await anonymous.text()).toBe(strangerBody);
    expect(stranger.headers.get('mcp-session-id')).toBeNull();
    // Nothing was restored for the stranger, and the owner still works.
    expect(servers[1]!.handler.host.sessions).toBe(0);
    await client.listTools();
    await client.close();
  });

  it('refuses a stranger’s DELETE of someone else’s session and keeps the record', async () => {
    await startReplicas(2);
    const { client, transport } = await routedClient(urls(), () => 0, { 'x-who': 'alice' });
    const res = await fetch(urls()[1]!, {
      method: 'DELETE',
      headers: { 'mcp-session-id': transport.sessionId!, 'x-who': 'mallory' },
    });
    expect(res.status).toBe(404);
    await client.listTools();
    await client.close();
  });

  it('removes the record everywhere on DELETE: the replica that held the session drops its copy', async () => {
    await startReplicas(2);
    let target = 0;
    const { client, transport } = await routedClient(urls(), () => target, { 'x-who': 'alice' });
    await client.listTools();
    expect(servers[0]!.handler.host.sessions).toBe(1);
    const sessionId = transport.sessionId!;
    target = 1;
    await transport.terminateSession();
    await waitFor(
      () => servers[0]!.handler.host.sessions === 0,
      'r0 to drop its copy after the DELETE on r1',
    );
    const res = await postJsonRpc(
      urls()[0]!,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25', 'x-who': 'alice' },
    );
    expect(res.status).toBe(404);
    await client.close();
  });

  it('counts the per-principal session share across replicas', async () => {
    await startReplicas(2, { maxPerPrincipal: 2 });
    const first = await routedClient([urls()[0]!], () => 0, { 'x-who': 'bob' });
    const second = await routedClient([urls()[1]!], () => 0, { 'x-who': 'bob' });
    // Each replica holds one of bob's sessions: a third anywhere is beyond his share of 2.
    await expect(routedClient([urls()[0]!], () => 0, { 'x-who': 'bob' })).rejects.toThrow(
      /Too Many Requests: this client holds too many sessions/,
    );
    // Someone else is not affected.
    const carol = await routedClient([urls()[1]!], () => 0, { 'x-who': 'carol' });
    // Ending one of bob's sessions frees a place.
    await second.transport.terminateSession();
    const third = await routedClient([urls()[0]!], () => 0, { 'x-who': 'bob' });
    await Promise.all([first, second, carol, third].map((c) => c.client.close()));
  });

  it('restores the log level the client set on another replica', async () => {
    await startReplicas(2);
    let target = 0;
    const { client } = await routedClient(urls(), () => target, { 'x-who': 'alice' });
    const seen: string[] = [];
    client.setNotificationHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).LoggingMessageNotificationSchema,
      (n) => void seen.push(String(n.params.data)),
    );
    await client.setLoggingLevel('error');
    target = 1;
    expect(textOf(await client.callTool({ name: 'log', arguments: { level: 'debug' } }))).toBe('filtered');
    expect(textOf(await client.callTool({ name: 'log', arguments: { level: 'error' } }))).toBe('sent');
    expect(seen).toEqual(['error line']);
    expect(servers[1]!.handler.host.sessions).toBe(1);
    await client.close();
  });

  it('lets one request restore a session once when several arrive together', async () => {
    await startReplicas(2);
    const { client } = await routedClient(urls(), (n) => (n === 0 ? 0 : 1), { 'x-who': 'alice' });
    const results = await Promise.all(
      Array.from({ length: 5 }, () => client.callTool({ name: 'whoami', arguments: {} })),
    );
    expect(new Set(results.map(textOf)).size).toBe(1);
    expect(servers[1]!.handler.host.sessions).toBe(1);
    await client.close();
  });
});

describe('RedisSessionStore against a Redis that forgot its scripts', () => {
  const prefix = uniquePrefix('scripts');
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('runs its scripts by SHA, and sends one again when Redis answers NOSCRIPT (SCRIPT FLUSH, a restart)', async () => {
    const store = new RedisSessionStore({ redis, prefix, log: () => {} });
    const record = {
      id: crypto.randomUUID(),
      principal: 'p',
      owner: 'o',
      protocolVersion: '2025-11-25',
      clientCapabilities: {},
      clientInfo: undefined,
      createdAt: Date.now(),
    };
    expect(await store.create(record, { ttlMs: 60_000, maxPerOwner: 10 })).toBe(true);
    await redis.script('FLUSH');
    expect(await store.touch(record, 60_000)).toBe(true);
    await redis.script('FLUSH');
    await store.setLogLevel(record.id, 'debug', 60_000);
    expect(await store.load(record.id)).toMatchObject({ id: record.id, logLevel: 'debug' });
    await store.close();
  });
});
