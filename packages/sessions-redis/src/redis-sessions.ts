import type { Middleware } from '@mcp-middleware/core';
import type { Redis } from 'ioredis';
import {
  NotificationBus,
  type NotificationBusOptions,
  type ServerEventBus,
  type SharedNotification,
} from './bus.js';
import { RedisEventStore, type RedisEventStoreOptions } from './event-store.js';
import { RedisSessionStore, type RedisSessionStoreOptions } from './session-store.js';

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
  /** Notifications across replicas: forwarding, subscription bounds, timeout, log. See `NotificationBusOptions`. */
  notifications?: Omit<NotificationBusOptions, 'redis' | 'prefix'>;
  /** Session records (`scale.sessions`): this replica's name, Redis timeout, forward bound, log. See `RedisSessionStoreOptions`. */
  records?: Omit<RedisSessionStoreOptions, 'redis' | 'prefix'>;
}

/** The scale-out kit: a middleware (name `sessions-redis`) plus the pieces to pass to `createMiddlewareHandler`. */
export interface RedisSessions extends Middleware {
  readonly name: 'sessions-redis';
  /** Resumable SSE streams any replica can replay: `createMiddlewareHandler({ eventStore: scale.eventStore })`. */
  readonly eventStore: RedisEventStore;
  /**
   * Sends a shared notification (`notifications/{tools,prompts,resources}/list_changed`, `notifications/resources/
   * updated` with `{ uri }`) to every session on every replica; `resources/updated` only to sessions subscribed to
   * the URI. A failed publish (Redis away) is logged: this replica's sessions still get it.
   */
  notify(notification: SharedNotification): Promise<void>;
  /** The same bus in SDK v2's `ServerEventBus` shape: `createMcpHandler(factory, { bus: scale.serverEventBus })`. */
  readonly serverEventBus: ServerEventBus;
  /** Session records any replica can restore: `createMiddlewareHandler({ sessions: { store: scale.sessions } })`. */
  readonly sessions: RedisSessionStore;
}

/** Shares what an MCP server keeps per session across replicas through Redis. */
export function redisSessions(options: RedisSessionsOptions): RedisSessions {
  if (!options?.redis) throw new TypeError('redisSessions: `redis` (an ioredis client) is required');
  const prefix = options.prefix ?? 'mcp:';
  if (typeof prefix !== 'string') throw new TypeError('redisSessions: `prefix` must be a string');
  // The bus marks what it hands to sessions; the store keeps a marked event once per stream.
  const marks = new WeakMap<object, string>();
  const eventStore = new RedisEventStore({ ...options.events, redis: options.redis, prefix, marks });
  const bus = new NotificationBus({ ...options.notifications, redis: options.redis, prefix, marks });
  const sessions = new RedisSessionStore({ ...options.records, redis: options.redis, prefix });
  return {
    name: 'sessions-redis',
    eventStore,
    sessions,
    notify: (notification) => bus.notify(notification),
    serverEventBus: bus.serverEventBus,
    attach: (host) => bus.attach(host),
    rpc: (call, next) => bus.rpc(call, next),
    http: (req, ctx, next) => bus.http(req, ctx, next),
    async close() {
      await Promise.all([bus.close(), sessions.close()]);
    },
  };
}
