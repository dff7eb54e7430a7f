/**
 * Rate-limit decisions per second on one Redis, at concurrency 1 and 64, arms interleaved in rounds:
 * - Redis PING through ioredis: one round trip doing nothing, the ceiling for any one-round-trip limiter;
 * - our RedisStore.consume (GCRA, one EVALSHA);
 * - rate-limiter-flexible's RateLimiterRedis.consume, what a user would pick instead.
 * Same client settings for all three; 1000 keys in rotation; limits high enough that nothing is refused.
 * Reports the median round and the spread (min-max), ratios per round (then their median), and Redis's own
 * cost per call: `INFO commandstats` µs per call of the arm's command (PING or EVALSHA) and the Redis process's
 * CPU time (`INFO cpu`) per call, which includes reading and answering the request.
 *
 * By default it starts a private redis-server on a free port, so that no other client's commands pollute the
 * counters; set REDIS_URL to use another Redis (its commandstats then include everyone else's commands).
 *
 *   cd bench && node --import tsx ratelimit.ts
 *   BENCH_SECONDS=2 BENCH_ROUNDS=5 to change the shape of the run.
 */
import { RedisServerProcess } from '@mcp-middleware/core/testing';
import { deleteKeys } from '@mcp-middleware/core/testing/redis';
import { RedisStore } from '@mcp-middleware/ratelimit-redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const WARMUP_MS = 300;
const KEYS = 1000;
const CONCURRENCIES = [1, 64] as const;
const run = `bench:rl:${process.pid}:${Date.now().toString(36)}`;

const own = process.env['REDIS_URL'] ? undefined : await RedisServerProcess.start();
const url = process.env['REDIS_URL'] ?? own!.url;
const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
await redis.connect();
// A second connection reads the counters, so that reading them is not counted against an arm.
const admin = new Redis(url, { lazyConnect: true });
await admin.connect();

const store = new RedisStore({ client: redis, prefix: `${run}:ours:`, timeout: '10s' });
// 1,000,000 per minute and key: nothing is refused during the run (and the GCRA interval is a whole 60 µs).
const policy = { limit: 1_000_000, windowMs: 60_000 };
const rlf = new RateLimiterRedis({
  storeClient: redis,
  keyPrefix: `${run}:rlf`,
  points: 1_000_000,
  duration: 60,
});

interface Arm {
  name: string;
  /** The Redis command whose commandstats count this arm's calls. */
  command: 'ping' | 'evalsha';
  op: (i: number) => Promise<unknown>;
}

const arms: Arm[] = [
  { name: 'Redis PING', command: 'ping', op: () => redis.ping() },
  { name: 'RedisStore.consume', command: 'evalsha', op: (i) => store.consume(`k${i % KEYS}`, policy) },
  { name: 'RateLimiterRedis.consume', command: 'evalsha', op: (i) => rlf.consume(`k${i % KEYS}`) },
];

/** Runs `op` from `concurrency` loops for `ms`; returns operations done and seconds taken. */
async function measure(op: Arm['op'], concurrency: number, ms: number): Promise<{ n: number; s: number }> {
  let n = 0;
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) await op(n++);
    }),
  );
  return { n, s: (performance.now() - started) / 1000 };
}

interface Counters {
  calls: number;
  usec: number;
  cpuUs: number;
}

async function counters(command: string): Promise<Counters> {
  const stats = await admin.info('commandstats');
  const m = new RegExp(`cmdstat_${command}:calls=(\\d+),usec=(\\d+)`).exec(stats);
  const cpu = await admin.info('cpu');
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(cpu)![1]);
  const user = Number(/used_cpu_user:([\d.]+)/.exec(cpu)![1]);
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0), cpuUs: (sys + user) * 1e6 };
}

interface Sample {
  opsPerSecond: number;
  /** commandstats µs per call of the arm's command. */
  usecPerCall: number;
  /** Redis process CPU µs per operation (includes network I/O and the counter reads). */
  cpuPerOp: number;
  /** This (client) process's CPU µs per operation: ioredis, the limiter's own code, the loop. */
  clientCpuPerOp: number;
}

const samples = new Map<string, Sample[]>();
/** Rounds of ours that ended with the store reading TIME in the script (no usable clock estimate). */
let roundsOnRedisClock = 0;
const cell = (name: string, c: number) => `${name}@${c}`;

for (let round = 0; round < ROUNDS; round++) {
  for (const concurrency of CONCURRENCIES) {
    // Rotate the order each round so that no arm always runs first or last.
    const order = arms.map((_, i) => arms[(i + round) % arms.length]!);
    for (const arm of order) {
      await measure(arm.op, concurrency, WARMUP_MS);
      const before = await counters(arm.command);
      const cpuBefore = process.cpuUsage();
      const { n, s } = await measure(arm.op, concurrency, SECONDS * 1000);
      const cpu = process.cpuUsage(cpuBefore);
      const after = await counters(arm.command);
      const list = samples.get(cell(arm.name, concurrency)) ?? [];
      list.push({
        opsPerSecond: n / s,
        usecPerCall: (after.usec - before.usec) / Math.max(1, after.calls - before.calls),
        cpuPerOp: (after.cpuUs - before.cpuUs) / n,
        clientCpuPerOp: (cpu.user + cpu.system) / n,
      });
      samples.set(cell(arm.name, concurrency), list);
      if (arm.name === 'RedisStore.consume' && store.stats.clock === 'redis') roundsOnRedisClock++;
    }
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const spread = (xs: number[], digits = 0) =>
  `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const get = (name: string, c: number) => samples.get(cell(name, c))!;

const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
console.log(
  `Redis ${redisVersion} at ${own ? 'a private redis-server' : url}, Node ${process.version}, ${ROUNDS} interleaved rounds of ${SECONDS} s, ${KEYS} keys`,
);
console.log('median round (min-max over rounds)\n');
console.log(
  '| concurrency | arm | ops/s | Redis µs/call (commandstats) | Redis CPU µs/op (INFO cpu) | client CPU µs/op |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const c of CONCURRENCIES) {
  for (const arm of arms) {
    const xs = get(arm.name, c);
    const ops = xs.map((x) => x.opsPerSecond);
    const us = xs.map((x) => x.usecPerCall);
    const cpu = xs.map((x) => x.cpuPerOp);
    const client = xs.map((x) => x.clientCpuPerOp);
    console.log(
      `| ${c} | ${arm.name} | ${fmt(median(ops))} (${fmt(Math.min(...ops))}-${fmt(Math.max(...ops))}) | ${median(us).toFixed(1)} (${spread(us, 1)}) | ${median(cpu).toFixed(1)} (${spread(cpu, 1)}) | ${median(client).toFixed(1)} (${spread(client, 1)}) |`,
    );
  }
}

console.log('\nratios, per round then median (min-max)\n');
console.log(
  '| concurrency | ours / PING | ours / rate-limiter-flexible | Redis µs per call: ours / theirs |',
);
console.log('| --- | --- | --- | --- |');
for (const c of CONCURRENCIES) {
  const ping = get('Redis PING', c);
  const ours = get('RedisStore.consume', c);
  const theirs = get('RateLimiterRedis.consume', c);
  const vsPing = ours.map((x, i) => x.opsPerSecond / ping[i]!.opsPerSecond);
  const vsRlf = ours.map((x, i) => x.opsPerSecond / theirs[i]!.opsPerSecond);
  console.log(
    `| ${c} | ${median(vsPing).toFixed(2)} (${spread(vsPing, 2)}) | ${median(vsRlf).toFixed(2)}x (${spread(vsRlf, 2)}) | ${median(ours.map((x) => x.usecPerCall)).toFixed(1)} / ${median(theirs.map((x) => x.usecPerCall)).toFixed(1)} |`,
  );
}

const { decisions, timeouts, lateAnswers } = store.stats;
console.log(
  `\nRedisStore.stats: ${decisions} decisions, ${timeouts} timeouts, ${lateAnswers} answers read after the timeout had passed (and used); ${roundsOnRedisClock} of ${ROUNDS * CONCURRENCIES.length} rounds ended on Redis's own clock (no usable estimate)`,
);

// Clean up the keys this run wrote (on a shared Redis; a private one goes away).
if (!own) await deleteKeys(admin, run);
await redis.quit();
await admin.quit();
await own?.destroy();
