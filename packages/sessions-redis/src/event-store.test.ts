import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, it } from 'vitest';
import { EventReplayError, RedisEventStore } from './event-store.js';
import { connectRedis, privateRedis, useSharedRedis } from './test-redis.js';

const shared = useSharedRedis('events');

function progress(n: number): JSONRPCMessage {
  return { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: n } };
}

async function replay(store: RedisEventStore, after: string) {
  const got: Array<[string, JSONRPCMessage]> = [];
  const streamId = await store.replayEventsAfter(after, {
    send: async (id, message) => void got.push([id, message]),
  });
  return { streamId, ids: got.map(([id]) => id), messages: got.map(([, m]) => m) };
}

describe('RedisEventStore', () => {
  const store = (options: Partial<ConstructorParameters<typeof RedisEventStore>[0]> = {}) =>
    new RedisEventStore({ redis: shared.redis(), prefix: shared.prefix, ...options });

  it('gives ids that carry the stream, so another replica replays from the id alone, in order, once', async () => {
    const writer = store();
    const priming = await writer.storeEvent('s1/a', {} as JSONRPCMessage);
    const ids = [];
    for (let n = 1; n <= 5; n++) ids.push(await writer.storeEvent('s1/a', progress(n)));
    await writer.storeEvent('s1/b', progress(99));

    // Another replica: its own client and store object, nothing in memory.
    const otherClient = await connectRedis();
    try {
      const reader = new RedisEventStore({ redis: otherClient, prefix: shared.prefix });
      expect(await reader.getStreamIdForEventId(ids[1]!)).toBe('s1/a');
      const after2 = await replay(reader, ids[1]!);
      expect(after2.streamId).toBe('s1/a');
      expect(after2.ids).toEqual(ids.slice(2));
      expect(after2.messages).toEqual([progress(3), progress(4), progress(5)]);
      // From the priming event: everything, the priming event itself not sent (it has no message).
      expect((await replay(reader, priming)).messages).toEqual([1, 2, 3, 4, 5].map(progress));
      expect((await replay(reader, ids[4]!)).ids).toEqual([]);
    } finally {
      await otherClient.quit();
    }
  });

  it('replays long streams in batches', async () => {
    const writer = store();
    const first = await writer.storeEvent('s2/a', progress(0));
    for (let n = 1; n <= 250; n++) await writer.storeEvent('s2/a', progress(n));
    const all = await replay(writer, first);
    expect(
      all.messages.map((m) => (m as unknown as { params: { progress: number } }).params.progress),
    ).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('treats ids it did not make as unknown', async () => {
    const s = store();
    for (const id of ['', 'nohash', 's#x', 's#1-1~', `${'s'.repeat(600)}#1-1`, '#1-1']) {
      expect(await s.getStreamIdForEventId(id)).toBeUndefined();
      await expect(replay(s, id)).rejects.toBeInstanceOf(EventReplayError);
    }
  });

  it('bounds each stream in length and age, and refuses to replay across a gap', async () => {
    const s = store({ maxEvents: 10, ttl: '30s' });
    const first = await s.storeEvent('s3/a', progress(0));
    for (let n = 1; n < 1000; n++) await s.storeEvent('s3/a', progress(n));
    const key = `${shared.prefix}events:{s3/a}`;
    // MAXLEN ~ trims whole macro nodes (100 entries by default): approximately, never far above.
    expect(await shared.redis().xlen(key)).toBeLessThanOrEqual(200);
    const ttl = await shared.redis().pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30_000);
    await expect(replay(s, first)).rejects.toThrow(/trimmed/);
    await shared.redis().del(key);
    await expect(replay(s, first)).rejects.toThrow(/expired/);
  });

  it('sends an event too large to store without storing it; a replay after it goes on from there', async () => {
    const s = store({ maxEventSize: 200 });
    await s.storeEvent('s4/a', progress(1));
    const big = await s.storeEvent('s4/a', {
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'x'.repeat(500) },
    });
    expect(big).toMatch(/~\d+$/);
    const next = await s.storeEvent('s4/a', progress(2));
    expect(await s.getStreamIdForEventId(big)).toBe('s4/a');
    const after = await replay(s, big);
    expect(after.ids).toEqual([next]);
  });

  it('stores a notification that copies of one session on several replicas hand it once, under one id', async () => {
    // Each replica has its own objects and marks; what they share is the notification's id from the bus.
    const marksA = new WeakMap<object, string>();
    const marksB = new WeakMap<object, string>();
    const a = store({ marks: marksA });
    const b = store({ marks: marksB });
    const changed = () => ({
      jsonrpc: '2.0' as const,
      method: 'notifications/tools/list_changed',
      params: {},
    });
    const onA = changed();
    const onB = changed();
    marksA.set(onA.params, 'bus:1');
    marksB.set(onB, 'bus:1');
    const first = await a.storeEvent('s5/_GET_stream', progress(1));
    const idA = await a.storeEvent('s5/_GET_stream', onA);
    const idB = await b.storeEvent('s5/_GET_stream', onB);
    expect(idB).toBe(idA);
    // Unmarked events are stored each time.
    const again = [
      await b.storeEvent('s5/_GET_stream', changed()),
      await a.storeEvent('s5/_GET_stream', changed()),
    ];
    expect(new Set([idA, ...again]).size).toBe(3);
    expect((await replay(b, first)).ids).toEqual([idA, ...again]);
  });

  it('marks an unstored event by the clock when this replica never stored on its stream; a replay after it goes on from then', async () => {
    const s = store();
    await s.storeEvent('s6/a', progress(1));
    await s.storeEvent('s6/a', progress(2));
    // Another replica's copy of the session, which stored nothing on this stream yet, cannot store this one.
    const copy = store({ maxEventSize: 200 });
    const big = await copy.storeEvent('s6/a', {
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'x'.repeat(500) },
    });
    expect(big).toMatch(/^s6\/a#\d+-18446744073709551615~t\d+$/);
    // Redis's clock and this process's are the same here; across machines they agree to what NTP gives.
    await new Promise((r) => setTimeout(r, 2));
    const next = await s.storeEvent('s6/a', progress(3));
    expect((await replay(copy, big)).ids).toEqual([next]);
  });

  it('checks its options', () => {
    expect(() => new RedisEventStore({} as never)).toThrow(/redis/);
    expect(() => store({ maxEvents: 0 })).toThrow(/maxEvents/);
    expect(() => store({ ttl: 'soon' as never })).toThrow(/ttl/);
    expect(() => store({ maxEventSize: -1 })).toThrow(/maxEventSize/);
  });
});

describe('RedisEventStore when Redis fails', () => {
  /** The stores' command timeout in these tests. */
  const TIMEOUT_MS = 200;
  /**
   * "Does not wait for Redis" for one store call: far below a hang, with room for a loaded CI machine (timers that
   * fire late, a starved event loop): five times the timeout plus a second.
   */
  const NO_HANG_MS = 5 * TIMEOUT_MS + 1000;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('keeps streams going while Redis is down (events unstored, logged once) and stores again once it is back', async () => {
    const { server, client } = await privateRedis();
    cleanups.push(
      () => server.destroy(),
      async () => client.disconnect(),
    );
    const lines: string[] = [];
    const s = new RedisEventStore({
      redis: client,
      timeout: `${TIMEOUT_MS}ms`,
      log: (l) => void lines.push(l),
    });
    const before = await s.storeEvent('s/a', progress(1));

    await server.stop();
    const started = performance.now();
    const during = [await s.storeEvent('s/a', progress(2)), await s.storeEvent('s/a', progress(3))];
    expect(performance.now() - started).toBeLessThan(2 * NO_HANG_MS);
    expect(during[0]).toMatch(/~\d+$/);
    expect(new Set([before, ...during]).size).toBe(3);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('without being stored');
    await expect(replay(s, before)).rejects.toThrow();

    await server.start();
    let after = '';
    const deadline = Date.now() + 10_000;
    while (!after || after.includes('~')) {
      if (Date.now() > deadline) throw new Error('storing did not resume after Redis came back');
      after = await s.storeEvent('s/a', progress(4));
      if (after.includes('~')) await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines.at(-1)).toContain('stored again');
    // The restarted Redis lost the old events: a replay after an unstored event sends what was stored since.
    const fresh = new RedisEventStore({ redis: client });
    const since = await s.storeEvent('s/a', progress(5));
    expect((await replay(fresh, after)).ids).toEqual([since]);
  });

  it('gives up on a Redis that does not answer within the timeout', async () => {
    const { server, client } = await privateRedis();
    cleanups.push(
      () => server.destroy(),
      async () => client.disconnect(),
    );
    const admin = await connectRedis(server.url);
    cleanups.push(async () => admin.disconnect());
    const lines: string[] = [];
    const s = new RedisEventStore({
      redis: client,
      timeout: `${TIMEOUT_MS}ms`,
      log: (l) => void lines.push(l),
    });
    // Paused far longer than the bound below: a store that waited for Redis could not pass for one that gave up.
    const pauseMs = 4 * NO_HANG_MS;
    await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'WRITE');
    const started = performance.now();
    const id = await s.storeEvent('s/a', progress(1));
    expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
    expect(id).toMatch(/~t?\d+$/);
    expect(lines[0]).toContain(`within ${TIMEOUT_MS} ms`);
  });
});
