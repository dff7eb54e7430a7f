/**
 * Test helpers: the shared Redis (REDIS_URL or 127.0.0.1:6379, failing loudly when absent), and private
 * `redis-server` processes on free ports for cluster and outage tests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, RedisServerProcess } from '@mcp-middleware/core/testing';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export { freePort, RedisServerProcess };

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Options that make a client give up fast instead of queueing: what the README recommends. */
export const FAST_FAIL: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: () => 50,
};

/** Connects to the shared Redis, or throws a message that says what to do. Tests never skip. */
export async function connectRedis(options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    ...FAST_FAIL,
    lazyConnect: true,
    retryStrategy: () => null,
    ...options,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(error as Error).message}). These tests need a real Redis: ` +
        'start one (redis-server) or set REDIS_URL.',
    );
  }
  return client;
}

/** A key prefix no other run shares. */
export function uniquePrefix(label: string): string {
  return `test:rl:${label}:${process.pid}:${Math.random().toString(36).slice(2, 10)}:`;
}

/** Deletes every key under `prefix` on a standalone Redis. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** A 3-master Redis Cluster from `redis-server` processes this test owns. */
export async function startCluster(): Promise<{ nodes: RedisServerProcess[]; destroy(): Promise<void> }> {
  const nodes: RedisServerProcess[] = [];
  const destroy = async () => {
    await Promise.all(nodes.map((n) => n.destroy()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await RedisServerProcess.start([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    await promisify(execFile)(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'],
      { timeout: 20_000 },
    );
    // Every node must agree the cluster is up before clients use it.
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      const client = new Redis(node.port, '127.0.0.1', { lazyConnect: true });
      await client.connect();
      try {
        while (!(await client.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error('the test cluster did not reach cluster_state:ok');
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        client.disconnect();
      }
    }
    return { nodes, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** An ioredis Cluster client for `nodes`, ready to use. */
export async function connectCluster(nodes: readonly RedisServerProcess[]): Promise<Cluster> {
  const cluster = new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { enableOfflineQueue: true, redisOptions: { maxRetriesPerRequest: 1 } },
  );
  cluster.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    cluster.once('ready', resolve);
    cluster.once('error', reject);
  });
  return cluster;
}

/**
 * The shared Redis for one test file, under its own key prefix: connected before the file's tests, its keys deleted
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
