import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { rateLimitStoreContract, typeScriptNodeArgs } from '@mcp-middleware/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPOCH_MS } from './algorithms.js';
import { RateLimitStoreError } from './errors.js';
import { RedisStore } from './redis-store.js';
import { connectRedis, privateRedis, REDIS_URL, useSharedRedis } from './test-redis.js';

const DAY = 86_400_000;
const shared = useSharedRedis('store');
const { prefix } = shared;

rateLimitStoreContract(
  'RedisStore',
  () => new RedisStore({ client: shared.redis(), prefix, timeout: '2s' }),
  {
    describe,
    it,
    expect,
    beforeAll,
    afterAll,
  },
);

describe('RedisStore', () => {
  const store = () => new RedisStore({ client: shared.redis(), prefix, timeout: '2s' });

  describe('when the script cache is flushed mid-test (SCRIPT FLUSH, or a failover to a fresh node)', () => {
    it('reloads the script and keeps counting where it was', async () => {
      const s = store();
      const policy = { limit: 5, windowMs: DAY };
      expect((await s.consume('flush', policy)).remaining).toBe(4);
      expect((await s.consume('flush', policy)).remaining).toBe(3);
      await shared.redis().script('FLUSH');
      expect((await s.consume('flush', policy)).remaining).toBe(2);
      await shared.redis().script('FLUSH');
      const fixed = { limit: 2, windowMs: DAY, algorithm: 'fixed-window' as const };
      expect((await s.consume('flush-fixed', fixed)).remaining).toBe(1);
    });
  });

  describe('when a request is refused', () => {
    it('leaves the stored state untouched', async () => {
      const s = store();
      for (const algorithm of ['gcra', 'fixed-window'] as const) {
        const key = `untouched-${algorithm}`;
        const policy = { limit: 1, windowMs: DAY, algorithm };
        expect((await s.consume(key, policy)).allowed).toBe(true);
        const before = await shared.redis().get(prefix + key);
        const ttlBefore = await shared.redis().pttl(prefix + key);
        expect((await s.consume(key, policy)).allowed).toBe(false);
        expect(await shared.redis().get(prefix + key)).toBe(before);
        expect(await shared.redis().pttl(prefix + key)).toBeLessThanOrEqual(ttlBefore);
      }
    });
  });

  describe('the keys it writes', () => {
    it('expire when they would mean nothing: after the TAT (GCRA) or at the window end', async () => {
      const s = store();
      await s.consume('ttl-gcra', { limit: 10, windowMs: 60_000 });
      const gcraTtl = await shared.redis().pttl(`${prefix}ttl-gcra`);
      expect(gcraTtl).toBeGreaterThan(0);
      expect(gcraTtl).toBeLessThanOrEqual(6_000);
      await s.consume('ttl-fixed', { limit: 10, windowMs: 60_000, algorithm: 'fixed-window' });
      const fixedTtl = await shared.redis().pttl(`${prefix}ttl-fixed`);
      expect(fixedTtl).toBeGreaterThan(0);
      expect(fixedTtl).toBeLessThanOrEqual(60_000);
    });
  });

  describe("its clock, Redis's", () => {
    /** Redis's clock in µs since EPOCH_MS, the unit of the stored state. */
    const redisNowUs = async (client: Redis) => {
      const [s, us] = await client.time();
      return (Number(s) * 1000 - EPOCH_MS) * 1000 + Number(us);
    };
    /**
     * Consumes until the store is on its estimate, or fails after `ms`: a sample goes once a second, and on a
     * busy machine the first few may be too slow to use.
     */
    const untilEstimate = async (s: RedisStore, key: string, ms: number) => {
      const deadline = performance.now() + ms;
      while (s.stats.clock !== 'estimate') {
        if (performance.now() > deadline) throw new Error(`no clock estimate within ${ms} ms`);
        await s.consume(key, { limit: 1_000_000, windowMs: DAY }); // a decision is what sends a sample
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };

    it("stores Redis's time plus the increment, read in the script at first and then estimated to 1 ms", async () => {
      const s = store();
      const redis = shared.redis();
      const policy = { limit: 1000, windowMs: 60_000 }; // an increment of 60,000 µs
      expect(s.stats.clock).toBe('redis');
      for (const key of ['clock-first', 'clock-estimated']) {
        if (key === 'clock-estimated') await untilEstimate(s, 'clock-warm', 15_000);
        const before = await redisNowUs(redis);
        expect((await s.consume(key, policy)).remaining).toBe(999);
        const after = await redisNowUs(redis);
        const stored = Number(await redis.get(prefix + key)) - 60_000;
        expect(stored).toBeGreaterThanOrEqual(before - 1000);
        expect(stored).toBeLessThanOrEqual(after + 1000);
      }
    });

    it("reads Redis's clock in the script while no sample is quick enough, then goes back to the estimate", async () => {
      const { server, client } = await privateRedis();
      const admin = await connectRedis(server.url);
      try {
        const s = new RedisStore({ client, prefix, timeout: '2s' });
        const policy = { limit: 5, windowMs: DAY };
        // Every client waits 300 ms, so the first sample's round trip is far too slow to use.
        await admin.call('CLIENT', 'PAUSE', '300', 'ALL');
        expect((await s.consume('paused', policy)).remaining).toBe(4);
        expect(s.stats.clock).toBe('redis');
        expect((await s.consume('paused', policy)).remaining).toBe(3);
        // The next sample goes a second later, and is quick.
        await untilEstimate(s, 'unpaused', 15_000);
        expect((await s.consume('paused', policy)).remaining).toBe(2);
      } finally {
        client.disconnect();
        admin.disconnect();
        await server.destroy();
      }
    });
  });

  describe('when the key holds something else (a prefix shared with other data)', () => {
    it('fails with reason command, naming the failed SET and the Redis version it needs', async () => {
      const s = store();
      await shared.redis().hset(`${prefix}not-a-string`, 'field', 'value');
      const error = await s.consume('not-a-string', { limit: 5, windowMs: DAY }).catch((e: unknown) => e);
      expect(RateLimitStoreError.is(error)).toBe(true);
      expect((error as RateLimitStoreError).reason).toBe('command');
      expect(String((error as RateLimitStoreError).cause)).toMatch(
        /SET NX GET failed \(it needs Redis 7\.0 or later\).*WRONGTYPE/,
      );
    });
  });

  describe('when this process is too busy to read an answer Redis gave in time', () => {
    it('uses the decision rather than failing with a timeout, and counts it in stats.lateAnswers', async () => {
      const s = new RedisStore({ client: shared.redis(), prefix, timeout: 50 });
      const policy = { limit: 5, windowMs: DAY };
      const decision = s.consume('busy-loop', policy);
      // Block the event loop from the check phase, so that the next iteration's timers phase (where the store's
      // deadline has passed) comes before the poll phase that would read the answer. Block until Redis has
      // decided (the key exists, read by a synchronous redis-cli) and our own deadline has passed.
      setImmediate(() => {
        const started = performance.now();
        while (
          performance.now() - started < 200 ||
          execFileSync('redis-cli', ['-u', REDIS_URL, 'EXISTS', `${prefix}busy-loop`], {
            encoding: 'utf8',
          }).trim() !== '1'
        ) {
          // busy: nothing else runs on this thread
        }
      });
      const d = await decision;
      expect(d.allowed).toBe(true);
      expect(d.remaining).toBe(4);
      expect(s.stats).toMatchObject({ decisions: 1, timeouts: 0, lateAnswers: 1 });
    });
  });

  describe('when the client is not connected', () => {
    it('fails at once with reason not-connected, sending nothing', async () => {
      const idle = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false });
      const s = new RedisStore({ client: idle, prefix });
      const started = performance.now();
      const error = await s.consume('idle', { limit: 1, windowMs: 1000 }).catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThan(50);
      expect(RateLimitStoreError.is(error)).toBe(true);
      expect((error as RateLimitStoreError).reason).toBe('not-connected');
      expect((error as RateLimitStoreError).code).toBe('unavailable');
      idle.disconnect();
    });
  });

  describe('configuration', () => {
    it('throws a TypeError naming the option', () => {
      expect(() => new RedisStore({ client: {} as never })).toThrow(/client must be an ioredis/);
      expect(() => new RedisStore({ client: shared.redis(), timeout: 'soon' as never })).toThrow(/timeout/);
      expect(() => new RedisStore({ client: shared.redis(), timeout: 0 })).toThrow(TypeError);
    });

    it('rejects a policy or cost that could never be honoured, before calling Redis', async () => {
      const s = store();
      await expect(s.consume('bad', { limit: 0, windowMs: 1000 })).rejects.toThrow(/limit/);
      await expect(s.consume('bad', { limit: 5, windowMs: 1000 }, 6)).rejects.toThrow(/cost/);
      await expect(s.consume('bad', { limit: 5, windowMs: 1000, burst: 2 }, 3)).rejects.toThrow(/burst/);
      await expect(s.consume('bad', { limit: 5, windowMs: 1000 }, 1.5)).rejects.toThrow(TypeError);
    });
  });
});

describe('when 4 processes hammer one key at limit 1000', () => {
  it('admits exactly 1000 between them', async () => {
    const key = 'hammer';
    const children = Array.from({ length: 4 }, () =>
      spawn(
        process.execPath,
        [
          ...typeScriptNodeArgs(join(import.meta.dirname, 'test-hammer.ts')),
          REDIS_URL,
          prefix,
          key,
          '1000',
          '600',
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      ),
    );
    try {
      const outputs = children.map((child) => {
        const lines = createInterface({ input: child.stdout! });
        const queue: string[] = [];
        const waiters: Array<(line: string) => void> = [];
        lines.on('line', (line) => {
          const w = waiters.shift();
          if (w) w(line);
          else queue.push(line);
        });
        // 'close', not 'exit': a process may exit before its last line has been read from the pipe.
        const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
        const nextLine = () =>
          Promise.race([
            new Promise<string>((resolve) => {
              const queued = queue.shift();
              if (queued !== undefined) resolve(queued);
              else waiters.push(resolve);
            }),
            exited.then((code) => {
              // Lines read just before 'close' are already queued.
              const queued = queue.shift();
              if (queued !== undefined) return queued;
              throw new Error(`a hammer process exited early with code ${code}`);
            }),
          ]);
        return { nextLine, exited };
      });
      for (const o of outputs) expect(await o.nextLine()).toBe('ready');
      for (const child of children) child.stdin!.write('go\n');
      const results = await Promise.all(
        outputs.map(async (o) => JSON.parse(await o.nextLine()) as { admitted: number; attempts: number }),
      );
      expect(results.map((r) => r.attempts)).toEqual([600, 600, 600, 600]);
      expect(results.reduce((sum, r) => sum + r.admitted, 0)).toBe(1000);
      expect(await Promise.all(outputs.map((o) => o.exited))).toEqual([0, 0, 0, 0]);
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill();
    }
  }, 60_000);
});
