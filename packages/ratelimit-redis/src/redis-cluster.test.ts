import { rateLimitStoreContract } from '@mcp-middleware/core/testing';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from './redis-store.js';
import { connectCluster, type RedisServerProcess, startCluster, uniquePrefix } from './test-redis.js';

// A 3-master Redis Cluster from redis-server processes on free ports, for this file only.
let cluster: Cluster;
let nodes: RedisServerProcess[];
let destroy: (() => Promise<void>) | undefined;
const prefix = uniquePrefix('cluster');

beforeAll(async () => {
  ({ nodes, destroy } = await startCluster());
  cluster = await connectCluster(nodes);
}, 60_000);
afterAll(async () => {
  cluster?.disconnect();
  await destroy?.();
});

rateLimitStoreContract(
  'RedisStore on a 3-master Redis Cluster',
  () => new RedisStore({ client: cluster, prefix, timeout: '2s' }),
  {
    describe,
    it,
    expect,
    beforeAll,
    afterAll,
  },
);

describe('RedisStore on a Redis Cluster', () => {
  it('routes each decision to the master that owns its key, spreading keys over all three', async () => {
    const store = new RedisStore({ client: cluster, prefix: `${prefix}spread:`, timeout: '2s' });
    const policy = { limit: 1, windowMs: 60_000 };
    for (let i = 0; i < 60; i++) expect((await store.consume(`client-${i}`, policy)).allowed).toBe(true);
    for (let i = 0; i < 60; i++) expect((await store.consume(`client-${i}`, policy)).allowed).toBe(false);
    const perMaster = await Promise.all(
      cluster.nodes('master').map(async (node) => (await node.keys(`${prefix}spread:*`)).length),
    );
    expect(perMaster.length).toBe(3);
    expect(perMaster.every((n) => n > 0)).toBe(true);
    expect(perMaster.reduce((a, b) => a + b, 0)).toBe(60);
  });

  it('keeps hash-tagged keys of one tenant on one master', async () => {
    const store = new RedisStore({ client: cluster, prefix: `${prefix}tagged:`, timeout: '2s' });
    for (const user of ['u1', 'u2', 'u3', 'u4'])
      await store.consume(`{acme}:${user}`, { limit: 5, windowMs: 60_000 });
    const perMaster = await Promise.all(
      cluster.nodes('master').map(async (node) => (await node.keys(`${prefix}tagged:*`)).length),
    );
    expect(perMaster.sort()).toEqual([0, 0, 4]);
  });

  it('keeps counting after SCRIPT FLUSH on every master', async () => {
    const store = new RedisStore({ client: cluster, prefix: `${prefix}flush:`, timeout: '2s' });
    const policy = { limit: 4, windowMs: 60_000 };
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    for (const k of keys) expect((await store.consume(k, policy)).remaining).toBe(3);
    await Promise.all(cluster.nodes('master').map((node) => node.script('FLUSH')));
    for (const k of keys) expect((await store.consume(k, policy)).remaining).toBe(2);
  });
});
