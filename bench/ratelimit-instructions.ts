/**
 * Redis's own cost per rate-limit decision, counted rather than timed: `redis-server` runs under valgrind
 * (`cachegrind`, no cache simulation) while this process makes decisions one at a time (concurrency 1, so that
 * each is one read and one write on the socket, the same in every run). Each arm runs twice, with 1,000 and
 * 5,000 decisions; the difference over 4,000 is the instructions one decision costs Redis: reading and parsing
 * the command, running it (the script), expiring keys, answering. Counts repeat to about 1 % (PING, the
 * smallest, to 8 %), so they settle what `INFO commandstats` on a busy machine cannot: whether our script costs
 * Redis more than rate-limiter-flexible's.
 *
 * Arms: `PING` (the floor: a command that does nothing), our `RedisStore.consume` (GCRA) on its clock
 * estimate and on Redis's own clock (the script reads `TIME`, as before an estimate exists), and
 * rate-limiter-flexible's `RateLimiterRedis.consume`. 1,000 keys in rotation, nothing refused.
 *
 *   cd bench && node --import tsx ratelimit-instructions.ts      (needs valgrind and redis-server; ~20 s)
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServerProcess } from '@mcp-middleware/core/testing';
import { RedisStore } from '@mcp-middleware/ratelimit-redis';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';

const LOW = 1000;
const HIGH = 5000;
const KEYS = 1000;
const policy = { limit: 1_000_000, windowMs: 60_000 };

type Op = (i: number) => Promise<unknown>;
interface Arm {
  name: string;
  /** Makes the arm's operation on a client; resolves once it is ready to be counted. */
  setUp(client: Redis): Promise<Op>;
}

/** Decides until the store's clock is on its estimate (a sample a second; under valgrind it may take a few). */
async function storeOnEstimate(client: Redis): Promise<Op> {
  const store = new RedisStore({ client, prefix: 'bench:rli:', timeout: '10s' });
  const deadline = performance.now() + 30_000;
  while (store.stats.clock !== 'estimate') {
    if (performance.now() > deadline) throw new Error('RedisStore: no clock estimate within 30 s');
    await store.consume('warm', policy);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return (i) => store.consume(`k${i % KEYS}`, policy);
}

const arms: Arm[] = [
  { name: 'Redis PING', setUp: async (client) => () => client.ping() },
  { name: 'RedisStore.consume (clock estimate)', setUp: storeOnEstimate },
  {
    name: "RedisStore.consume (Redis's clock: TIME in the script)",
    setUp: async (client) => {
      // The same store with its clock samples withheld (never answered), so it stays on Redis's clock, as it
      // is before its first sample.
      const withheld = {
        get status() {
          return client.status;
        },
        evalsha: client.evalsha.bind(client),
        eval: (script: string, keys: number, ...args: (string | number)[]) =>
          keys === 0 ? new Promise<never>(() => {}) : client.eval(script, keys, ...args),
        del: client.del.bind(client),
        ping: client.ping.bind(client),
      };
      const store = new RedisStore({ client: withheld, prefix: 'bench:rli:', timeout: '10s' });
      await store.consume('load', policy);
      if (store.stats.clock !== 'redis')
        throw new Error('the store found a clock estimate it should not have');
      return (i) => store.consume(`k${i % KEYS}`, policy);
    },
  },
  {
    name: 'RateLimiterRedis.consume',
    setUp: async (client) => {
      const rlf = new RateLimiterRedis({
        storeClient: client,
        keyPrefix: 'bench:rli:rlf',
        points: 1_000_000,
        duration: 60,
      });
      return (i) => rlf.consume(`k${i % KEYS}`);
    },
  },
];

/**
 * Instructions `redis-server` runs, start to exit, while this process makes `n` decisions of an arm. The server
 * is core's test `RedisServerProcess`, started through a wrapper that runs it under valgrind.
 */
async function count(arm: Arm, n: number): Promise<number> {
  const report = join(dir, `${process.pid}-${n}.txt`);
  process.env['BENCH_VALGRIND_LOG'] = report;
  const server = await RedisServerProcess.start();
  const client = new Redis(server.url, {
    retryStrategy: () => null,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  client.on('error', () => {}); // the SHUTDOWN at the end closes the connection
  await client.connect();
  const op = await arm.setUp(client);
  for (let i = 0; i < n; i++) await op(i);
  // A clean exit, so that valgrind writes its count (stop() would SIGKILL it).
  await client.call('SHUTDOWN', 'NOSAVE').catch(() => {});
  const deadline = performance.now() + 30_000;
  let text = '';
  while (!/I\s+refs:/.test(text)) {
    if (performance.now() > deadline) throw new Error(`valgrind wrote no count for ${arm.name}:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    text = await readFile(report, 'utf8').catch(() => '');
  }
  await server.destroy();
  return Number(/I\s+refs:\s+([\d,]+)/.exec(text)![1]!.replaceAll(',', ''));
}

// REDIS_SERVER is the binary RedisServerProcess starts: here a script that runs the real one under valgrind.
const dir = await mkdtemp(join(tmpdir(), 'mcp-mw-rli-'));
const wrapper = join(dir, 'redis-server-valgrind');
await writeFile(
  wrapper,
  `#!/bin/sh\nexec valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null --log-file="$BENCH_VALGRIND_LOG" ${process.env['REDIS_SERVER'] ?? 'redis-server'} "$@"\n`,
  { mode: 0o755 },
);
process.env['REDIS_SERVER'] = wrapper;

console.log(
  `instructions redis-server runs per decision (valgrind), concurrency 1, ${HIGH - LOW} decisions\n`,
);
console.log('| arm | K instructions per decision | x PING |');
console.log('| --- | --- | --- |');
let ping = 0;
for (const arm of arms) {
  const perOp = ((await count(arm, HIGH)) - (await count(arm, LOW))) / (HIGH - LOW);
  if (arm.name === 'Redis PING') ping = perOp;
  console.log(`| ${arm.name} | ${(perOp / 1000).toFixed(2)} | ${(perOp / ping).toFixed(2)} |`);
}
await rm(dir, { recursive: true, force: true });
