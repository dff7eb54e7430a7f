import type { McpHandlerOptions } from '@mcp-middleware/core';
import { connectClient, startTestServer, type TestServer, waitFor } from '@mcp-middleware/core/testing';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerEvent } from './bus.js';
import { type RedisSessions, redisSessions } from './redis-sessions.js';
import { connectRedis, deleteKeys, privateRedis, REDIS_URL, uniquePrefix } from './test-redis.js';
import { scaleTestServer } from './test-server.js';

interface Replica {
  readonly scale: RedisSessions;
  readonly server: TestServer;
  readonly redis: Redis;
  readonly lines: string[];
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One "replica": a handler with its own Redis client and bus, as a separate process would have. */
async function replica(
  name: string,
  prefix: string,
  url = REDIS_URL,
  extra: Partial<McpHandlerOptions> = {},
): Promise<Replica> {
  const redis = await connectRedis(url);
  const lines: string[] = [];
  const scale = redisSessions({ redis, prefix, notifications: { log: (l) => void lines.push(l) } });
  const server = await startTestServer({ server: scaleTestServer(name), middleware: [scale], ...extra });
  cleanups.push(async () => {
    await server.close();
    // The bus's subscriber too: left open, it would go on reconnecting to a private Redis after the test ends.
    await scale.close?.();
    await deleteKeys(redis, prefix).catch(() => {});
    redis.disconnect();
  });
  return { scale, server, redis, lines };
}

/** A client that counts the shared notifications it gets, by method. */
async function listener(url: URL) {
  const client = await connectClient(url);
  const got: Record<string, number> = {};
  const uris: string[] = [];
  const count = (method: string) => () => {
    got[method] = (got[method] ?? 0) + 1;
  };
  client.setNotificationHandler(ToolListChangedNotificationSchema, count('tools'));
  client.setNotificationHandler(PromptListChangedNotificationSchema, count('prompts'));
  client.setNotificationHandler(ResourceListChangedNotificationSchema, count('resources'));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
    count('updated')();
    uris.push(n.params.uri);
  });
  cleanups.push(() => client.close());
  return { client, got, uris };
}

/**
 * Waits until every client's standalone (GET) stream is open, which the SDK client opens on its own after
 * initialization: notifications sent before that are not delivered. Sends resources/list_changed until all got one.
 */
async function streamsOpen(scale: RedisSessions, clients: Array<{ got: Record<string, number> }>) {
  await waitFor(async () => {
    await scale.notify({ method: 'notifications/resources/list_changed' });
    return clients.every((c) => (c.got['resources'] ?? 0) > 0);
  }, 'the clients to open their GET streams');
}

/** Sends prompts/list_changed as a marker and waits for it: anything sent before it on a stream has arrived. */
async function settled(scale: RedisSessions, clients: Array<{ got: Record<string, number> }>) {
  const before = clients.map((c) => c.got['prompts'] ?? 0);
  await scale.notify({ method: 'notifications/prompts/list_changed' });
  await waitFor(
    () => clients.every((c, i) => (c.got['prompts'] ?? 0) > before[i]!),
    'the marker notification',
  );
}

describe('notifications across replicas', () => {
  it('notify() on one replica reaches the sessions on every replica exactly once', async () => {
    const prefix = uniquePrefix('bus');
    const [one, two] = [await replica('one', prefix), await replica('two', prefix)];
    const clients = [
      await listener(one.server.url),
      await listener(two.server.url),
      await listener(two.server.url),
    ];
    await streamsOpen(one.scale, clients);

    await one.scale.notify({ method: 'notifications/tools/list_changed' });
    await waitFor(() => clients.every((c) => c.got['tools'] === 1), 'tools/list_changed everywhere');
    await settled(one.scale, clients);
    expect(clients.map((c) => c.got['tools'])).toEqual([1, 1, 1]);
  });

  it('passes on the list change a session server sends: the other sessions hear it once, the sender once', async () => {
    const prefix = uniquePrefix('bus');
    const [one, two] = [await replica('one', prefix), await replica('two', prefix)];
    const changer = await listener(one.server.url);
    const clients = [changer, await listener(one.server.url), await listener(two.server.url)];
    await streamsOpen(two.scale, clients);

    await changer.client.callTool({ name: 'add_tool', arguments: {} });
    await waitFor(() => clients.every((c) => c.got['tools'] === 1), 'tools/list_changed on both replicas');
    await settled(one.scale, clients);
    expect(clients.map((c) => c.got['tools'])).toEqual([1, 1, 1]);
  });

  it('sends resources/updated only to the sessions subscribed to that URI, on any replica', async () => {
    const prefix = uniquePrefix('bus');
    const [one, two] = [await replica('one', prefix), await replica('two', prefix)];
    const toucher = await listener(one.server.url);
    const subscribed = await listener(two.server.url);
    const unsubscribedLater = await listener(two.server.url);
    const bystander = await listener(two.server.url);
    const clients = [toucher, subscribed, unsubscribedLater, bystander];
    await streamsOpen(one.scale, clients);
    await subscribed.client.subscribeResource({ uri: 'note://a' });
    await unsubscribedLater.client.subscribeResource({ uri: 'note://a' });
    await unsubscribedLater.client.unsubscribeResource({ uri: 'note://a' });
    // Recorded in Redis too, so a replica that restores the session knows it.
    const sessionOf = (c: { client: { transport?: unknown } }) =>
      (c.client.transport as { sessionId: string }).sessionId;
    expect(await one.redis.smembers(`${prefix}subscribers:note://a`)).toEqual([sessionOf(subscribed)]);

    // From a server (its tool calls sendResourceUpdated) and from app code.
    await toucher.client.callTool({ name: 'touch', arguments: { uri: 'note://a' } });
    await one.scale.notify({ method: 'notifications/resources/updated', params: { uri: 'note://b' } });
    await waitFor(() => subscribed.got['updated'] === 1, 'the subscriber to get resources/updated');
    await settled(one.scale, clients);
    expect(subscribed.uris).toEqual(['note://a']);
    expect([unsubscribedLater.got['updated'], bystander.got['updated']]).toEqual([undefined, undefined]);
    // The toucher's own server sent it the update (the SDK does not check subscriptions): once, not twice.
    expect(toucher.got['updated']).toBe(1);
  });

  it("serves SDK v2's ServerEventBus shape, both ways with 2025 sessions", async () => {
    const prefix = uniquePrefix('bus');
    const [one, two] = [await replica('one', prefix), await replica('two', prefix)];
    const onOne: ServerEvent[] = [];
    const onTwo: ServerEvent[] = [];
    // Leaving out the resources/list_changed the warm-up below sends.
    const keep = (into: ServerEvent[]) => (e: ServerEvent) => {
      if (e.kind !== 'resources_list_changed') into.push(e);
    };
    one.scale.serverEventBus.subscribe(keep(onOne));
    const unsubscribe = two.scale.serverEventBus.subscribe(keep(onTwo));
    const client = await listener(two.server.url);
    await streamsOpen(two.scale, [client]);

    one.scale.serverEventBus.publish({ kind: 'resource_updated', uri: 'note://a' });
    one.scale.serverEventBus.publish({ kind: 'tools_list_changed' });
    await waitFor(() => onTwo.length === 2 && client.got['tools'] === 1, 'the events on replica two');
    expect(onTwo).toEqual([
      { kind: 'resource_updated', uri: 'note://a', params: { uri: 'note://a' } },
      { kind: 'tools_list_changed' },
    ]);
    expect(onOne.map((e) => e.kind)).toEqual(['resource_updated', 'tools_list_changed']);
    expect(() => one.scale.serverEventBus.publish({ kind: 'nonsense' } as never)).toThrow(
      /unknown event kind/,
    );
    unsubscribe();
    await one.scale.notify({ method: 'notifications/prompts/list_changed' });
    await waitFor(() => client.got['prompts'] === 1, 'prompts/list_changed on replica two');
    expect(onTwo).toHaveLength(2);
  });

  it('refuses to carry anything but the shared notifications', async () => {
    const prefix = uniquePrefix('bus');
    const one = await replica('one', prefix);
    await expect(one.scale.notify({ method: 'notifications/progress' as never })).rejects.toThrow(
      /method must be/,
    );
    await expect(one.scale.notify({ method: 'notifications/resources/updated' })).rejects.toThrow(
      /params.uri/,
    );
  });

  it('ignores junk on the channel', async () => {
    const prefix = uniquePrefix('bus');
    const one = await replica('one', prefix);
    const client = await listener(one.server.url);
    await streamsOpen(one.scale, [client]);
    for (const junk of [
      'not json',
      '{"o":"x","m":"notifications/progress"}',
      '{"o":"x","m":"notifications/resources/updated"}',
      'null',
    ]) {
      await one.redis.publish(`${prefix}notifications`, junk);
    }
    await one.redis.publish(
      `${prefix}notifications`,
      JSON.stringify({ o: 'x', i: 'x:1', m: 'notifications/tools/list_changed' }),
    );
    await waitFor(() => client.got['tools'] === 1, 'the valid message');
    expect(client.got['updated']).toBeUndefined();
    expect(one.lines.join('\n')).toContain('not JSON');
  });
});

describe('notifications when Redis fails', () => {
  it('keeps local delivery going while Redis is down and carries notifications across again once it is back', async () => {
    const { server: redisServer, client: admin } = await privateRedis();
    cleanups.push(
      () => redisServer.destroy(),
      async () => admin.disconnect(),
    );
    const prefix = uniquePrefix('bus-outage');
    const [one, two] = [
      await replica('one', prefix, redisServer.url),
      await replica('two', prefix, redisServer.url),
    ];
    const local = await listener(one.server.url);
    const remote = await listener(two.server.url);
    await streamsOpen(one.scale, [local, remote]);

    await redisServer.stop();
    await one.scale.notify({ method: 'notifications/tools/list_changed' });
    await waitFor(() => local.got['tools'] === 1, 'the local session to hear it during the outage');
    expect(one.lines.join('\n')).toContain('do not reach other replicas');
    // Sessions keep working meanwhile.
    const answer = await remote.client.callTool({ name: 'replica', arguments: {} });
    expect(answer.content).toEqual([{ type: 'text', text: 'two' }]);

    await redisServer.start();
    await waitFor(
      async () => {
        await one.scale.notify({ method: 'notifications/prompts/list_changed' });
        return (remote.got['prompts'] ?? 0) > 0;
      },
      'notifications to cross replicas again',
      15_000,
    );
    await deleteKeys(admin, prefix).catch(() => {});
  });
});
