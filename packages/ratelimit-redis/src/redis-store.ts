import { createHash } from 'node:crypto';
import type { Duration, RateLimitDecision, RateLimitPolicy, RateLimitStore } from '@mcp-middleware/core';
import { toMs } from '@mcp-middleware/core';
import { type CompiledPolicy, checkCost, EPOCH_MS, gcraDecision, PolicyCache } from './algorithms.js';
import { RateLimitStoreError } from './errors.js';
import { RedisClock } from './redis-clock.js';

type Arg = string | number;

/**
 * What the store needs from a Redis client: ioredis `Redis` and `Cluster` both fit. Typed structurally so that
 * users of `MemoryStore` alone need no ioredis.
 */
export interface RedisClientLike {
  /** ioredis connection status; the store sends only when it is `'ready'`. */
  readonly status: string;
  evalsha(sha: string, numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...keysAndArgs: Arg[]): Promise<unknown>;
  del(key: string): Promise<number>;
  ping(): Promise<unknown>;
}
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster`. Recommended settings: `enableOfflineQueue: false` and
   * `maxRetriesPerRequest: 1`, so that nothing queues while Redis is away. The client stays yours: the store
   * never quits it.
   */
  client: RedisClientLike;
  /** Prepended to every key. @default 'mcp-rl:' */
  prefix?: string;
  /**
   * How long one decision may take before it fails with reason `'timeout'` (the middleware then applies its
   * failure policy). A command that timed out may still reach Redis and be counted later.
   * @default '100ms'
   */
  timeout?: Duration;
}

/** What a store has seen since it was made: for metrics and alerts. */
export interface RedisStoreStats {
  /** Decisions Redis answered and the store used. */
  readonly decisions: number;
  /** Decisions that failed with reason `'timeout'`: no answer had been read when the store gave up. */
  readonly timeouts: number;
  /**
   * Answers read after the timeout had passed on this process's clock, but used rather than discarded: Redis
   * answered, and this process's event loop was too busy to read the answer in time. Rising numbers mean the
   * process is CPU-starved, not that Redis is slow.
   */
  readonly lateAnswers: number;
  /**
   * Where GCRA decisions get the time now: `'estimate'`, Redis's clock as estimated in this process to within
   * 1 ms from a `TIME` a second (the fast path), or `'redis'`, read by the script itself: before the first quick
   * sample, and when no sample has been quick enough for a while.
   */
  readonly clock: 'estimate' | 'redis';
}

// Both scripts decide on Redis's clock, so every instance agrees, touch exactly one key (Redis Cluster routes it)
// and check before charging (a denial writes nothing). They are `gcra` and `fixedWindow` of algorithms.ts in Lua.
// Writing after TIME needs effects replication: the default since Redis 5.
//
// GCRA is the hot path. Its clock is RedisClock's estimate of Redis's, sent as the state a fresh key would get
// (ARGV[3], now + increment), so it calls no TIME and formats no number for such a key; without an estimate
// ('') it reads TIME itself. A key with no state (most keys, most of the time: it expires when its TAT passes)
// takes one `SET … NX GET`, which Redis 7.0 added; a key with state takes one more SET. The state is whole
// microseconds since EPOCH_MS: an integer formats and parses cheaply. It returns one integer: how far the TAT
// runs ahead of now (µs) when admitted, minus that and one when refused, and 0 for a fresh key (ahead by just the
// increment; 0 is never an answer otherwise, since an admitted TAT runs ahead by at least the increment):
// gcraDecision() turns it into a decision. Integers only, and three arguments: at high concurrency a string
// answer or another argument costs the client more than it saves Redis.
/**
 * KEYS[1] = key; ARGV = increment (interval × cost, µs), tolerance (µs), now + increment (µs since EPOCH_MS, on
 * the estimate of Redis's clock), or '' to read TIME.
 */
const GCRA_LUA = `local fresh = ARGV[3]
local now = tonumber(fresh)
if now then
  now = now - ARGV[1]
else
  local t = redis.call('TIME')
  now = (t[1] - ${EPOCH_MS / 1000}) * 1000000 + t[2]
  fresh = now + ARGV[1]
end
local old = redis.pcall('SET', KEYS[1], fresh, 'PX', math.ceil(ARGV[1] / 1000), 'NX', 'GET')
if not old then return 0 end
if type(old) == 'table' then
  return redis.error_reply('rate-limit script: SET NX GET failed (it needs Redis 7.0 or later): ' .. old.err)
end
local tat = tonumber(old) or now
if tat < now then tat = now end
local new = tat + ARGV[1]
if new - ARGV[2] > now then return now - tat - 1 end
redis.call('SET', KEYS[1], new, 'PX', math.ceil((new - now) / 1000))
return new - now`;

/**
 * KEYS[1] = key; ARGV = limit, window (ms), cost. The value is "windowStart count". Returns
 * {allowed, remaining, resetMs, retryAfterMs}, rounded up: Redis truncates Lua numbers to integers.
 */
const FIXED_WINDOW_LUA = `local t = redis.call('TIME')
local now = (tonumber(t[1]) - ${EPOCH_MS / 1000}) * 1000 + tonumber(t[2]) / 1000
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local start = math.floor(now / window) * window
local untilEnd = math.ceil(start + window - now)
local count = 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, c = string.match(stored, '^(%S+) (%S+)$')
  if tonumber(s) == start then count = tonumber(c) end
end
if count + cost > limit then
  local reset = 0
  if count > 0 then reset = untilEnd end
  return {0, limit - count, reset, untilEnd}
end
count = count + cost
redis.call('SET', KEYS[1], string.format('%.17g %d', start, count), 'PX', math.max(1, untilEnd))
return {1, limit - count, untilEnd, 0}`;

interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const GCRA = script(GCRA_LUA);
const FIXED_WINDOW = script(FIXED_WINDOW_LUA);

function toFixedWindowDecision(reply: unknown, limit: number): RateLimitDecision {
  if (!Array.isArray(reply) || reply.length !== 4) {
    throw new TypeError(`unexpected reply from the rate-limit script: ${JSON.stringify(reply)}`);
  }
  return {
    allowed: reply[0] === 1,
    limit,
    remaining: Number(reply[1]),
    resetMs: Number(reply[2]),
    retryAfterMs: Number(reply[3]),
  };
}

/** One command waiting for Redis. Deadlines grow in sending order (one timeout per store), so they queue. */
class Pending {
  settled = false;
  constructor(
    readonly deadline: number,
    readonly policy: CompiledPolicy | undefined,
    readonly cost: number,
    readonly resolve: (value: never) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/**
 * Counts in Redis: each decision is one `EVALSHA` of an atomic script (falling back to `EVAL` once after
 * `SCRIPT FLUSH` or a failover to a fresh node), so limits hold exactly across any number of instances.
 */
export class RedisStore implements RateLimitStore {
  readonly #client: RedisClientLike;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #policies = new PolicyCache();
  readonly #clock: RedisClock;
  /** Commands in sending order; `#head` is the oldest that may still be waiting. */
  #queue: Pending[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #decisions = 0;
  #timeouts = 0;
  #lateAnswers = 0;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const client = options?.client;
    if (typeof client?.evalsha !== 'function' || typeof client.status !== 'string') {
      throw new TypeError('RedisStore: client must be an ioredis Redis or Cluster instance');
    }
    const prefix = options.prefix ?? 'mcp-rl:';
    if (typeof prefix !== 'string') throw new TypeError('RedisStore: prefix must be a string');
    const timeoutMs = toMs(options.timeout ?? '100ms', 'RedisStore: timeout');
    if (timeoutMs <= 0) throw new TypeError('RedisStore: timeout must be greater than zero');
    this.#client = client;
    this.#clock = new RedisClock((lua) => client.eval(lua, 0));
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
  }

  /** Counters since the store was made (see `RedisStoreStats`). */
  get stats(): RedisStoreStats {
    return {
      decisions: this.#decisions,
      timeouts: this.#timeouts,
      lateAnswers: this.#lateAnswers,
      clock: this.#clock.source,
    };
  }

  consume(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    let p: CompiledPolicy;
    try {
      p = this.#policies.get(policy);
      checkCost(cost, p);
    } catch (error) {
      return Promise.reject(error);
    }
    const failure = this.#unavailable();
    if (failure) return Promise.reject(failure);
    const fullKey = this.#prefix + key;
    if (p.algorithm === 'gcra') {
      const [increment, tolerance] = p.scriptArgs;
      const incrementUs = p.intervalUs * cost;
      const now = this.#clock.now();
      return this.#send(GCRA, fullKey, p, cost, [
        cost === 1 ? increment : incrementUs,
        tolerance,
        now === undefined ? '' : now + incrementUs,
      ]);
    }
    return this.#send(FIXED_WINDOW, fullKey, p, cost, [p.limit, p.windowMs, cost]);
  }

  async reset(key: string): Promise<void> {
    await this.#plain(() => this.#client.del(this.#prefix + key));
  }

  /** Resolves when Redis answers a `PING` within the timeout; rejects with a `RateLimitStoreError` otherwise. */
  async ping(): Promise<void> {
    await this.#plain(() => this.#client.ping());
  }

  /** Stops taking decisions. The Redis client is yours and stays open. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  /** A command other than a decision, under the same timeout and failure rules. */
  async #plain(command: () => Promise<unknown>): Promise<void> {
    const failure = this.#unavailable();
    if (failure) throw failure;
    await new Promise<void>((resolve, reject) => {
      const pending = this.#enqueue(undefined, 0, resolve as (value: never) => void, reject);
      command().then(
        () => this.#answer(pending, undefined),
        (error: unknown) => this.#fail(pending, error),
      );
    });
  }

  #unavailable(): RateLimitStoreError | undefined {
    if (this.#closed) return new RateLimitStoreError('closed', 'RedisStore is closed');
    // Not connected: answer now rather than queue behind a reconnect.
    if (this.#client.status !== 'ready') {
      return new RateLimitStoreError(
        'not-connected',
        `Redis is not connected (status ${this.#client.status})`,
      );
    }
    return undefined;
  }

  #send(s: Script, key: string, p: CompiledPolicy, cost: number, args: Arg[]): Promise<RateLimitDecision> {
    return new Promise<RateLimitDecision>((resolve, reject) => {
      const pending = this.#enqueue(p, cost, resolve as (value: never) => void, reject);
      this.#client.evalsha(s.sha, 1, key, ...args).then(
        (value) => this.#answer(pending, value),
        (error: unknown) => {
          if (!(error instanceof Error && error.message.startsWith('NOSCRIPT')))
            return this.#fail(pending, error);
          // The script cache was flushed or this is a fresh node: EVAL runs it and loads it for next time.
          this.#client.eval(s.lua, 1, key, ...args).then(
            (value) => this.#answer(pending, value),
            (e: unknown) => this.#fail(pending, e),
          );
        },
      );
    });
  }

  #enqueue(
    policy: CompiledPolicy | undefined,
    cost: number,
    resolve: (value: never) => void,
    reject: (error: unknown) => void,
  ): Pending {
    const pending = new Pending(performance.now() + this.#timeoutMs, policy, cost, resolve, reject);
    this.#queue.push(pending);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
    return pending;
  }

  #answer(pending: Pending, reply: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    if (performance.now() > pending.deadline) this.#lateAnswers++;
    const { policy, cost } = pending;
    let decision: RateLimitDecision | undefined;
    try {
      if (policy?.algorithm === 'gcra') {
        if (typeof reply !== 'number') {
          throw new TypeError(`unexpected reply from the rate-limit script: ${JSON.stringify(reply)}`);
        }
        decision =
          reply > 0
            ? gcraDecision(true, reply, policy, cost)
            : reply === 0 // a fresh key: ahead by the increment
              ? gcraDecision(true, policy.intervalUs * cost, policy, cost)
              : gcraDecision(false, -1 - reply, policy, cost);
      } else if (policy) {
        decision = toFixedWindowDecision(reply, policy.limit);
      }
    } catch (error) {
      pending.reject(new RateLimitStoreError('command', 'Redis rate-limit command failed', error));
      return;
    }
    if (decision) this.#decisions++;
    pending.resolve(decision as never);
  }

  #fail(pending: Pending, error: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.reject(new RateLimitStoreError('command', 'Redis rate-limit command failed', error));
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#onTimer(), Math.max(1, Math.ceil(delayMs)));
    // A pending decision must not keep the process alive on its own.
    this.#timer.unref?.();
  }

  /**
   * The oldest deadline has passed on this process's clock. If the event loop was busy, Redis's answer may be
   * sitting unread in the socket: the timers phase runs before the poll phase that would read it. So look again
   * in the check phase (setImmediate), after one poll, and give up only on what is still unanswered then.
   */
  #onTimer(): void {
    setImmediate(() => this.#expire());
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const queue = this.#queue;
    let head = this.#head;
    while (head < queue.length) {
      const pending = queue[head]!;
      if (!pending.settled) {
        if (pending.deadline > now) break;
        pending.settled = true;
        this.#timeouts++;
        pending.reject(
          new RateLimitStoreError('timeout', `Redis did not answer within ${this.#timeoutMs} ms`),
        );
      }
      head++;
    }
    // Drop what is done; compact rather than shift() each entry.
    if (head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    if (head > 1024 && head * 2 > queue.length) {
      this.#queue = queue.slice(head);
      head = 0;
    }
    this.#head = head;
    this.#arm(this.#queue[head]!.deadline - now);
  }
}
