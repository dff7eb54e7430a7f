import type { Duration, RateLimitDecision, RateLimitPolicy, RateLimitStore } from '@mcp-middleware/core';
import { toMs } from '@mcp-middleware/core';
import { type CompiledPolicy, checkCost, EPOCH_MS, PolicyCache } from './algorithms.js';
import { RateLimitStoreError } from './errors.js';

/**
 * What the store needs from a Redis client: ioredis `Redis` and `Cluster` both fit. Typed structurally so that
 * users of `MemoryStore` alone need no ioredis.
 */
export interface RedisClientLike {
  /** ioredis connection status; the store sends only when it is `'ready'`. */
  readonly status: string;
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  del(key: string): Promise<number>;
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

// Both scripts read the clock from Redis itself, so every instance agrees (as ms since EPOCH_MS), touch exactly
// one key (Redis Cluster routes it), check before charging (a denial writes nothing) and return
// {allowed, remaining, resetMs, retryAfterMs}. They are `gcra` and `fixedWindow` of algorithms.ts in Lua.
// Numbers are returned rounded up: Redis truncates Lua numbers to integers. A number passed to redis.call is
// written in full precision. Writing after TIME needs effects replication: the default since Redis 5.
const CLOCK = `
local t = redis.call('TIME')
local now = (tonumber(t[1]) - ${EPOCH_MS / 1000}) * 1000 + tonumber(t[2]) / 1000
`;

/** KEYS[1] = key; ARGV = emission interval (ms), tolerance (ms), cost. */
const GCRA_LUA = `${CLOCK}
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local newTat = tat + interval * cost
local allowAt = newTat - tolerance
if allowAt - now > 1e-6 then
  return {0, math.max(0, math.floor((tolerance - (tat - now)) / interval + 1e-6)), math.ceil(tat - now), math.ceil(allowAt - now)}
end
local ttl = math.max(1, math.ceil(newTat - now))
redis.call('SET', KEYS[1], newTat, 'PX', ttl)
return {1, math.max(0, math.floor((tolerance - (newTat - now)) / interval + 1e-6)), ttl, 0}
`;

/** KEYS[1] = key; ARGV = limit, window (ms), cost. The value is "windowStart count". */
const FIXED_WINDOW_LUA = `${CLOCK}
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
return {1, limit - count, untilEnd, 0}
`;

const GCRA_COMMAND = 'mcpRateLimitGcra';
const FIXED_WINDOW_COMMAND = 'mcpRateLimitFixedWindow';

type ScriptCommand = (key: string, a: number, b: number, cost: number) => Promise<unknown>;

function toDecision(reply: unknown, limit: number): RateLimitDecision {
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

/**
 * Counts in Redis: each decision is one `EVALSHA` of an atomic script (ioredis `defineCommand`, which falls back to
 * `EVAL` after `SCRIPT FLUSH` or a failover), so limits hold exactly across any number of instances.
 */
export class RedisStore implements RateLimitStore {
  readonly #client: RedisClientLike;
  readonly #commands: Record<string, ScriptCommand>;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #policies = new PolicyCache();
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const client = options?.client;
    if (typeof client?.defineCommand !== 'function' || typeof client.status !== 'string') {
      throw new TypeError('RedisStore: client must be an ioredis Redis or Cluster instance');
    }
    const prefix = options.prefix ?? 'mcp-rl:';
    if (typeof prefix !== 'string') throw new TypeError('RedisStore: prefix must be a string');
    const timeoutMs = toMs(options.timeout ?? '100ms', 'RedisStore: timeout');
    if (timeoutMs <= 0) throw new TypeError('RedisStore: timeout must be greater than zero');
    client.defineCommand(GCRA_COMMAND, { numberOfKeys: 1, lua: GCRA_LUA });
    client.defineCommand(FIXED_WINDOW_COMMAND, { numberOfKeys: 1, lua: FIXED_WINDOW_LUA });
    this.#client = client;
    this.#commands = client as unknown as Record<string, ScriptCommand>;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
  }

  consume(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    let p: CompiledPolicy;
    try {
      p = this.#policies.get(policy);
      checkCost(cost, p);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(new RateLimitStoreError('closed', 'RedisStore is closed'));
    // Not connected: answer now rather than queue behind a reconnect.
    if (this.#client.status !== 'ready') {
      return Promise.reject(
        new RateLimitStoreError('not-connected', `Redis is not connected (status ${this.#client.status})`),
      );
    }
    const fullKey = this.#prefix + key;
    const reply =
      p.algorithm === 'gcra'
        ? this.#commands[GCRA_COMMAND]!.call(this.#client, fullKey, p.intervalMs, p.toleranceMs, cost)
        : this.#commands[FIXED_WINDOW_COMMAND]!.call(this.#client, fullKey, p.limit, p.windowMs, cost);
    return this.#settle(reply, (value) => toDecision(value, p.limit));
  }

  async reset(key: string): Promise<void> {
    if (this.#client.status !== 'ready') {
      throw new RateLimitStoreError(
        'not-connected',
        `Redis is not connected (status ${this.#client.status})`,
      );
    }
    await this.#settle(this.#client.del(this.#prefix + key), () => undefined);
  }

  /** Bounds a command by the timeout and turns every failure into a `RateLimitStoreError`. */
  #settle<T>(reply: Promise<unknown>, map: (value: unknown) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new RateLimitStoreError('timeout', `Redis did not answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      reply.then(
        (value) => {
          clearTimeout(timer);
          try {
            resolve(map(value));
          } catch (error) {
            reject(new RateLimitStoreError('command', 'Redis rate-limit command failed', error));
          }
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(new RateLimitStoreError('command', 'Redis rate-limit command failed', error));
        },
      );
    });
  }

  /** Stops taking decisions. The Redis client is yours and stays open. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
