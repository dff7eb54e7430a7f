/**
 * The scale-out pieces across real processes: replica servers sharing one Redis behind a round-robin proxy, with the
 * SDK client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectRedis, deleteKeys, privateRedis, REDIS_URL, scanKeys, uniquePrefix } from './test-redis.js';
import {
  type Replica,
  type Proxy as ReplicaProxy,
  startReplica,
  startRoundRobinProxy,
} from './testing/replicas.js';

/**
 * These tests start replica processes (Node with a TypeScript loader) inside the test: on a loaded CI machine, and on
 * Node versions that start slower, that alone can take many seconds, so they get more than the default 20 s.
 */
vi.setConfig({ testTimeout: 60_000 });

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function replicas(names: string[], env: Record<string, string>): Promise<Replica[]> {
  const started = await Promise.all(names.map((name) => startReplica({ name, env })));
  cleanups.push(() => Promise.all(started.map((r) => r.kill('SIGKILL'))));
  return started;
}

/** A proxy that sends each request to the replica its `x-replica` header names (default: the first). */
async function proxyFor(targets: Replica[]): Promise<ReplicaProxy> {
  const proxy = await startRoundRobinProxy(targets.map((r) => r.url));
  proxy.route((_, req) =>
    Math.max(
      0,
      targets.findIndex((r) => r.name === req.headers['x-replica']),
    ),
  );
  cleanups.push(() => proxy.close());
  return proxy;
}

/** The SDK client through the proxy to one replica, retrying a cut stream for long enough. */
async function clientOf(proxy: ReplicaProxy, replica: string) {
  const client = new Client({ name: `client-of-${replica}`, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', proxy.url), {
    requestInit: { headers: { 'x-replica': replica } },
    reconnectionOptions: {
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 1000,
      reconnectionDelayGrowFactor: 1.5,
      maxRetries: 30,
    },
  });
  const errors: string[] = [];
  await client.connect(transport);
  client.onerror = (error) => void errors.push(error.message);
  let listChanged = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
  });
  cleanups.push(() => client.close());
  return { client, errors, listChanged: () => listChanged };
}

/** Calls add_tool through `changer` until `listener` has heard a list change (its GET stream opens on its own). */
async function changeUntilHeard(
  changer: Client,
  listener: { listChanged(): number },
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const before = listener.listChanged();
  const deadline = Date.now() + timeoutMs;
  while (listener.listChanged() === before) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await changer.callTool({ name: 'add_tool', arguments: {} });
    const waitUntil = Date.now() + 200;
    while (listener.listChanged() === before && Date.now() < waitUntil)
      await new Promise((r) => setTimeout(r, 20));
  }
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

describe('replicas sharing one Redis', () => {
  it('a tool on replica one changes the tool list; a client connected to replica two gets list_changed', async () => {
    const prefix = uniquePrefix('mp-list');
    const [a, b] = await replicas(['a', 'b'], { REDIS_URL, PREFIX: prefix });
    const proxy = await proxyFor([a!, b!]);
    const one = await clientOf(proxy, 'a');
    const two = await clientOf(proxy, 'b');
    expect(text(await one.client.callTool({ name: 'replica', arguments: {} }))).toBe('a');
    expect(text(await two.client.callTool({ name: 'replica', arguments: {} }))).toBe('b');

    await changeUntilHeard(one.client, two, 'list_changed from replica a on replica b');
    const redis = await connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  it('a stream cut mid-call resumes with Last-Event-ID: every progress event once, in order, then the result', async () => {
    const prefix = uniquePrefix('mp-cut');
    const [a, b] = await replicas(['a', 'b'], { REDIS_URL, PREFIX: prefix });
    const proxy = await proxyFor([a!, b!]);
    const { client, errors } = await clientOf(proxy, 'b');
    const progress: number[] = [];
    let cut = 0;
    const result = await client.callTool(
      { name: 'countdown', arguments: { steps: 12, intervalMs: 100 } },
      undefined,
      {
        onprogress: (p) => {
          progress.push(p.progress);
          // After the fourth event: drop the connection under the open stream, as a balancer restart does.
          if (p.progress === 4) cut = proxy.cut();
        },
      },
    );
    expect(cut).toBeGreaterThan(0);
    expect(errors.join('\n')).toContain('SSE stream disconnected');
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(text(result)).toBe('counted to 12 on b');
    const redis = await connectRedis();
    // The events are in Redis, under the session's own stream names (a full SCAN: the shared Redis may hold more
    // keys than one SCAN step looks at).
    const keys: string[] = [];
    for await (const found of scanKeys(redis, `${prefix}events:*`)) keys.push(...found);
    expect(keys).not.toEqual([]);
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
});

describe('replicas when Redis stops and starts again', () => {
  it('keep serving, deliver notifications locally meanwhile, and carry them across again once Redis is back', async () => {
    const { server: redisServer, client: admin } = await privateRedis();
    cleanups.push(
      () => redisServer.destroy(),
      async () => admin.disconnect(),
    );
    const [a, b] = await replicas(['a', 'b'], { REDIS_URL: redisServer.url, PREFIX: 'mcp:' });
    const proxy = await proxyFor([a!, b!]);
    const changer = await clientOf(proxy, 'a');
    const neighbour = await clientOf(proxy, 'a');
    const remote = await clientOf(proxy, 'b');
    await changeUntilHeard(changer.client, remote, 'the remote client to listen');
    await changeUntilHeard(changer.client, neighbour, 'the neighbour client to listen');

    await redisServer.stop();
    // Local work goes on: calls, progress streams (not resumable now), notifications within the replica.
    expect(text(await remote.client.callTool({ name: 'replica', arguments: {} }))).toBe('b');
    const counted = await changer.client.callTool({
      name: 'countdown',
      arguments: { steps: 3, intervalMs: 0 },
    });
    expect(text(counted)).toBe('counted to 3 on a');
    const remoteBefore = remote.listChanged();
    await changeUntilHeard(changer.client, neighbour, 'list_changed within replica a during the outage');
    expect(remote.listChanged()).toBe(remoteBefore);

    await redisServer.start();
    await changeUntilHeard(
      changer.client,
      remote,
      'list_changed to cross replicas after the restart',
      20_000,
    );
    // Neither replica crashed.
    for (const replica of [a!, b!]) {
      const res = await fetch(new URL('/replica', replica.url));
      expect(await res.text()).toBe(replica.name);
    }
    // Written by another process: wait for it rather than read its output once.
    await a!.output.waitFor((text) => text.includes('do not reach other replicas'), 'a to log the outage');
  });
});
