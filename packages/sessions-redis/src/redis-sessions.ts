import type { Middleware } from '@mcp-middleware/core';
import type { Redis } from 'ioredis';
import { RedisEventStore, type RedisEventStoreOptions } from './event-store.js';

export interface RedisSessionsOptions {
  /**
   * The Redis client for commands. Give it `enableOfflineQueue: false` and a small `maxRetriesPerRequest` so a
   * Redis outage fails fast instead of queueing. The notification bus opens its own subscriber from it
   * (`redis.duplicate()`), which `close()` quits; this client stays yours to quit.
   */
  redis: Redis;
  /** Prefix of every key and channel this package uses, so several servers can share one Redis. @default 'mcp:' */
  prefix?: string;
  /** Resumable streams (`scale.eventStore`): stream length and age, event size, timeout, log. See `RedisEventStoreOptions`. */
  events?: Omit<RedisEventStoreOptions, 'redis' | 'prefix'>;
}

/** The scale-out kit: a middleware (name `sessions-redis`) plus the pieces to pass to `createMiddlewareHandler`. */
export interface RedisSessions extends Middleware {
  readonly name: 'sessions-redis';
  /** Resumable SSE streams any replica can replay: `createMiddlewareHandler({ eventStore: scale.eventStore })`. */
  readonly eventStore: RedisEventStore;
}

/** Shares what an MCP server keeps per session across replicas through Redis. */
export function redisSessions(options: RedisSessionsOptions): RedisSessions {
  if (!options?.redis) throw new TypeError('redisSessions: `redis` (an ioredis client) is required');
  const prefix = options.prefix ?? 'mcp:';
  if (typeof prefix !== 'string') throw new TypeError('redisSessions: `prefix` must be a string');
  const eventStore = new RedisEventStore({ ...options.events, redis: options.redis, prefix });
  return {
    name: 'sessions-redis',
    eventStore,
    async close() {},
  };
}
