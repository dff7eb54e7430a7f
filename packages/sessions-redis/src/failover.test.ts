/**
 * A stream cut by the death of the replica serving it (SIGKILL mid-call), resumed on another replica. Needs session
 * records (`sessions: { store: scale.sessions }`): the replica the client reconnects to restores the session.
 *
 * What can be replayed when the producing replica died: what it stored before dying. Its tool died with it, so the
 * rest of the call comes from a durable job runner, which the test replica's `POST /takeover` plays: it reads how far
 * the dead replica's stream got in Redis and writes the remaining events and the result into that stream. The client
 * meanwhile retries its resume (the dead replica answers 502 through the proxy) until the proxy sends it to the
 * survivor, which replays everything after the client's Last-Event-ID.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectRedis, deleteKeys, REDIS_URL, uniquePrefix } from './test-redis.js';
import { type Replica, startReplica, startRoundRobinProxy } from './testing/replicas.js';

/**
 * These tests start replica processes (Node with a TypeScript loader) inside the test: on a loaded CI machine, and on
 * Node versions that start slower, that alone can take many seconds, so they get more than the default 20 s (the
 * resumed call below may take up to its own 30 s timeout).
 */
vi.setConfig({ testTimeout: 60_000 });

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('a replica killed mid-stream', () => {
  it('the client resumes through the proxy on another replica and gets every event exactly once, in order', async () => {
    const prefix = uniquePrefix('mp-kill');
    const replicas: Replica[] = await Promise.all(
      ['a', 'b'].map((name) => startReplica({ name, env: { REDIS_URL, PREFIX: prefix } })),
    );
    cleanups.push(() => Promise.all(replicas.map((r) => r.kill('SIGKILL'))));
    const [a, b] = replicas as [Replica, Replica];
    const proxy = await startRoundRobinProxy([a.url, b.url]);
    cleanups.push(() => proxy.close());
    let target = 0;
    proxy.route(() => target);

    const client = new Client({ name: 'resumer', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', proxy.url), {
      reconnectionOptions: {
        initialReconnectionDelay: 100,
        maxReconnectionDelay: 1000,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 50,
      },
    });
    await client.connect(transport);
    cleanups.push(() => client.close());
    const sessionId = transport.sessionId!;

    const progress: number[] = [];
    let failover: Promise<unknown> | undefined;
    const result = await client.callTool(
      { name: 'countdown', arguments: { steps: 12, intervalMs: 150 } },
      undefined,
      {
        timeout: 30_000,
        onprogress: (p) => {
          progress.push(p.progress);
          if (p.progress !== 4) return;
          failover = (async () => {
            await a.kill('SIGKILL');
            const res = await fetch(new URL('/takeover', b.url), {
              method: 'POST',
              body: JSON.stringify({ sessionId }),
            });
            expect(res.status).toBe(200);
            target = 1;
          })();
        },
      },
    );
    await failover;
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].slice(0, progress.length));
    expect(progress).toHaveLength(12);
    expect((result.content as Array<{ text: string }>)[0]!.text).toBe('counted to 12, finished on b');
    expect((await a.output.closed).signal).toBe('SIGKILL');
    // Later calls in the session go on, on the survivor.
    const answer = await client.callTool({ name: 'replica', arguments: {} });
    expect((answer.content as Array<{ text: string }>)[0]!.text).toBe('b');
    const redis = await connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
});

describe('notifications with sessions on every replica (round robin, no affinity)', () => {
  it('a session whose requests land on all replicas hears each list change and subscribed update once, resumes included', async () => {
    const prefix = uniquePrefix('mp-rr');
    const replicas: Replica[] = await Promise.all(
      ['a', 'b', 'c'].map((name) => startReplica({ name, env: { REDIS_URL, PREFIX: prefix } })),
    );
    cleanups.push(() => Promise.all(replicas.map((r) => r.kill('SIGKILL'))));
    const proxy = await startRoundRobinProxy(replicas.map((r) => r.url));
    cleanups.push(() => proxy.close());

    const connect = async (name: string) => {
      const client = new Client({ name, version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL('/mcp', proxy.url), {
        reconnectionOptions: {
          initialReconnectionDelay: 100,
          maxReconnectionDelay: 1000,
          reconnectionDelayGrowFactor: 1.5,
          maxRetries: 30,
        },
      });
      await client.connect(transport);
      cleanups.push(() => client.close());
      return client;
    };
    const listener = await connect('listener');
    const changer = await connect('changer');
    let tools = 0;
    let updated = 0;
    listener.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      tools++;
    });
    listener.setNotificationHandler(ResourceUpdatedNotificationSchema, () => {
      updated++;
    });
    await listener.subscribeResource({ uri: 'note://a' });
    // The listener's GET stream opens on its own, on whichever replica the proxy picks.
    const deadline = Date.now() + 10_000;
    while (tools === 0) {
      if (Date.now() > deadline) throw new Error('the listener never heard a list change');
      await changer.callTool({ name: 'add_tool', arguments: {} });
      await new Promise((r) => setTimeout(r, 100));
    }
    const heard = async (what: string, done: () => boolean) => {
      const until = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Let any list change still in flight from the warm-up arrive: a marker change, then counting starts.
    const settle = async () => {
      const before = tools;
      await changer.callTool({ name: 'add_tool', arguments: {} });
      await heard('the marker list change', () => tools > before);
      return tools;
    };
    let base = await settle();

    await changer.callTool({ name: 'touch', arguments: { uri: 'note://a' } });
    await heard('resources/updated', () => updated === 1);
    await changer.callTool({ name: 'add_tool', arguments: {} });
    await heard('one list change', () => tools === base + 1);
    base = await settle();
    expect([updated, tools]).toEqual([1, base]);

    // Cut every stream: the listener resumes with Last-Event-ID on some replica; nothing comes twice.
    proxy.cut();
    await changer.callTool({ name: 'touch', arguments: { uri: 'note://a' } }).catch(() => {});
    await heard('resources/updated after the cut', () => updated === 2);
    base = await settle();
    base = await settle();
    expect(updated).toBe(2);
    expect(tools).toBe(base);
    const redis = await connectRedis();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });
});
