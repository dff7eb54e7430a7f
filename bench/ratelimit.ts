/**
 * Rate-limit decisions per second on one Redis, at concurrency 1 and 64:
 * - Redis PING through ioredis: one round trip doing nothing, the ceiling for any one-round-trip limiter;
 * - our RedisStore.consume (GCRA, one EVALSHA);
 * - rate-limiter-flexible's RateLimiterRedis.consume, what a user would pick instead.
 * Same client settings for all three; 1000 keys in rotation; limits high enough that nothing is refused.
 * Run: node --conditions=mcp-middleware-source --import tsx ratelimit.ts   (REDIS_URL to use another Redis)
 */
import { RedisStore } from '@mcp-middleware/ratelimit-redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2.5);
const WARMUP_MS = 300;
const ROUNDS = 2;
const KEYS = 1000;
const run = `bench:rl:${process.pid}:${Date.now().toString(36)}`;

const redis = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
await redis.connect();

const store = new RedisStore({ client: redis, prefix: `${run}:ours:`, timeout: '1s' });
const policy = { limit: 1_000_000_000, windowMs: 60_000 };
const rlf = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: `${run}:rlf`,
  points: 1_000_000_000,
  duration: 60,
});

const subjects: Record<string, (i: number) => Promise<unknown>> = {
  'Redis PING': () => redis.ping(),
  'RedisStore.consume': (i) => store.consume(`k${i % KEYS}`, policy),
  'RateLimiterRedis.consume': (i) => rlf.consume(`k${i % KEYS}`),
};

/** Runs `op` from `concurrency` loops for `ms` and returns operations per second. */
async function measure(
  op: (i: number) => Promise<unknown>,
  concurrency: number,
  ms: number,
): Promise<number> {
  let n = 0;
  const deadline = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await op(n++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

const best = new Map<string, number>();
for (let round = 0; round < ROUNDS; round++) {
  for (const concurrency of [1, 64]) {
    for (const [name, op] of Object.entries(subjects)) {
      await measure(op, concurrency, WARMUP_MS);
      const opsPerSecond = await measure(op, concurrency, SECONDS * 1000);
      const cell = `${name}@${concurrency}`;
      best.set(cell, Math.max(best.get(cell) ?? 0, opsPerSecond));
    }
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`Redis ${REDIS_URL}, Node ${process.version}, best of ${ROUNDS} rounds of ${SECONDS} s\n`);
console.log(
  '| concurrency | Redis PING ops/s | RedisStore.consume ops/s | RateLimiterRedis.consume ops/s | ours / PING | ours / RLF |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const concurrency of [1, 64]) {
  const ping = best.get(`Redis PING@${concurrency}`)!;
  const ours = best.get(`RedisStore.consume@${concurrency}`)!;
  const theirs = best.get(`RateLimiterRedis.consume@${concurrency}`)!;
  console.log(
    `| ${concurrency} | ${fmt(ping)} | ${fmt(ours)} | ${fmt(theirs)} | ${(ours / ping).toFixed(2)} | ${(ours / theirs).toFixed(2)}x |`,
  );
}

// Clean up the keys this run wrote.
let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${run}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) await redis.del(...keys);
} while (cursor !== '0');
await redis.quit();
