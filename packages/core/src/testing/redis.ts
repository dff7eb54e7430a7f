/**
 * Test helpers for packages that keep state in Redis (`@mcp-middleware/core/testing/redis`; needs `ioredis`): the
 * shared Redis at REDIS_URL or 127.0.0.1:6379, failing loudly when it is absent (tests never skip), key prefixes no
 * other run shares, and a private `redis-server` with a client for outage tests.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisServerProcess } from './redis-server.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** What our READMEs recommend for a command client: fail fast instead of queueing while Redis is down. */
export const FAST_FAIL: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: () => 50,
};

/** Connects to `url` (the shared Redis by default), or throws a message that says what to do. */
export async function connectRedis(url = REDIS_URL, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(url, { ...FAST_FAIL, lazyConnect: true, ...options });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis is not reachable at ${url} (${(error as Error).message}). These tests need a real Redis: start one ` +
        '(redis-server) or set REDIS_URL.',
    );
  }
  return client;
}

/** A key prefix no other run shares, e.g. `uniquePrefix('rl:store')`. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;
}

/** The keys matching `pattern` on a standalone Redis, one SCAN step's worth at a time, over every step. */
export async function* scanKeys(client: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    yield keys;
  } while (cursor !== '0');
}

/** Deletes every key under `prefix` on a standalone Redis. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  for await (const keys of scanKeys(client, `${prefix}*`)) {
    if (keys.length > 0) await client.del(...keys);
  }
}

/**
 * The shared Redis for one test file under its own key prefix: connected before the file's tests, its keys deleted
 * and the connection closed after them. Read `redis()` inside tests.
 */
export function useSharedRedis(label: string): { redis(): Redis; readonly prefix: string } {
  const prefix = uniquePrefix(label);
  let client: Redis | undefined;
  beforeAll(async () => {
    client = await connectRedis();
  });
  afterAll(async () => {
    if (!client) return;
    await deleteKeys(client, prefix);
    await client.quit();
  });
  return {
    prefix,
    redis: () => {
      if (!client) throw new Error('useSharedRedis: the shared Redis is read before beforeAll connected it');
      return client;
    },
  };
}

/** A private `redis-server` this test owns and a fast-failing client of it, for outage tests. */
export async function privateRedis(): Promise<{ server: RedisServerProcess; client: Redis }> {
  const server = await RedisServerProcess.start();
  const client = await connectRedis(server.url);
  return { server, client };
}
