/**
 * Test helpers: core's shared-Redis helpers (`@mcp-middleware/core/testing/redis`), and a Redis Cluster of private
 * `redis-server` processes for the cluster tests.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, RedisServerProcess } from '@mcp-middleware/core/testing';
import { Cluster, Redis } from 'ioredis';

export {
  connectRedis,
  deleteKeys,
  FAST_FAIL,
  privateRedis,
  REDIS_URL,
  uniquePrefix,
  useSharedRedis,
} from '@mcp-middleware/core/testing/redis';
export { freePort, RedisServerProcess };

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
