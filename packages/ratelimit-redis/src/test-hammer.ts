/**
 * One of the processes of the multi-process test: consumes one key as fast as it can, `attempts` times, and
 * prints how many were admitted. Starts on a `go` line on stdin, so that every process hammers at once.
 * Usage: test-hammer.ts <redis-url> <prefix> <key> <limit> <attempts>
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { RedisStore } from './redis-store.js';

const [url, prefix, key, limit, attempts] = process.argv.slice(2);
const client = new Redis(url!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
await client.connect();
const store = new RedisStore({ client, prefix: prefix!, timeout: '10s' });
// A week-long window: no unit comes back while the test runs, so exactly `limit` may pass.
const policy = { limit: Number(limit), windowMs: 7 * 86_400_000 };

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
lines.close();

let next = 0;
let admitted = 0;
const total = Number(attempts);
// 16 in flight per process, as a busy server would have.
await Promise.all(
  Array.from({ length: 16 }, async () => {
    while (next < total) {
      next++;
      if ((await store.consume(key!, policy)).allowed) admitted++;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ admitted, attempts: total })}\n`);
await client.quit();
