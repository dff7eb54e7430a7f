import type { Duration } from '@mcp-middleware/core';
import type { HealthCheck } from './checks.js';

/** Anything with `ping()`: an ioredis `Redis` or `Cluster`, a node-redis client, or your own wrapper. */
export interface PingClient {
  ping(): Promise<unknown>;
}

export interface RedisCheckOptions {
  /** The check's key in reports. @default 'redis' */
  name?: string;
  /** @default the `timeout` given to `health()` */
  timeout?: Duration;
  /** @default true */
  critical?: boolean;
}

/**
 * Readiness of a Redis client: `PING` answers `PONG`. The check's timeout bounds the wait, but a client that queues
 * commands while disconnected (ioredis' default) keeps each ping pending until it reconnects; give it
 * `maxRetriesPerRequest: 1` and a `commandTimeout` so a dead Redis fails fast and the pings do not pile up.
 */
export function redisCheck(client: PingClient, options: RedisCheckOptions = {}): HealthCheck {
  if (typeof client?.ping !== 'function') {
    throw new TypeError('redisCheck: client must have a ping() method (an ioredis or node-redis client)');
  }
  return {
    name: options.name ?? 'redis',
    componentType: 'datastore',
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.critical === undefined ? {} : { critical: options.critical }),
    async check() {
      const reply = await client.ping();
      if (reply !== 'PONG') return { status: 'fail', output: 'PING did not answer PONG' };
    },
  };
}
