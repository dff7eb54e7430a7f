import { createHash, randomBytes } from 'node:crypto';
import {
  type Duration,
  type SessionRecord,
  type SessionStore,
  type SessionStoreEvents,
  throttled,
  toMs,
} from '@mcp-middleware/core';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';
import { type RedisCommands, RedisScript, redisCommands } from './redis-commands.js';

export interface RedisSessionStoreOptions {
  /** The command client (give it `enableOfflineQueue: false`). Its duplicate subscribes to this replica's channel. */
  redis: Redis;
  /** Prefix of every key and channel. @default 'mcp:' */
  prefix?: string;
  /**
   * This replica's name among those sharing the Redis, carried in the ids of its server-to-client requests. Letters,
   * digits, `_` and `-`, at most 64. @default a random id per process
   */
  replicaId?: string;
  /** How long one Redis command may take before it counts as failed. @default '1s' */
  timeout?: Duration;
  /** Most forwards of client answers to other replicas in flight at once; more get 503. @default 1000 */
  maxPendingForwards?: number;
  /** Where outage and drop notes go (at most one line per 10 s per kind). @default console.warn */
  log?: (line: string) => void;
}

/** What a health check hook sees: the shape `@mcp-middleware/health` takes as a `HealthCheck`. */
export interface SessionStoreCheck {
  readonly name: string;
  readonly critical: false;
  readonly componentType: 'datastore';
  check(): Promise<{ status: 'pass' | 'warn'; output?: string }>;
}

const REPLICA_ID = /^[\w-]{1,64}$/;

// Keys: the record under a digest of the session id (a key listing shows no live session ids), the owner's live
// sessions as a sorted set scored by expiry. TIME in the script: replicas' clocks need not agree.
const CREATE = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl)
return 1`);

// A missing record that left no tombstone was lost (a restart), not deleted: the replica touching it saves it again.
const TOUCH = new RedisScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
if redis.call('PEXPIRE', KEYS[1], ttl) == 0 then
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('ZREM', KEYS[2], ARGV[2])
    return 0
  end
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`);

const SET_LOG_LEVEL = new RedisScript(`
local json = redis.call('GET', KEYS[1])
if not json then return 0 end
local record = cjson.decode(json)
record['logLevel'] = ARGV[1]
redis.call('SET', KEYS[1], cjson.encode(record), 'PX', tonumber(ARGV[2]))
return 1`);

/** Most session ids remembered for mapping pub/sub notices (which carry digests) back to sessions. */
const MAX_KNOWN = 100_000;

/** A failed or timed-out Redis command. */
export class SessionStoreError extends Error {
  override readonly name = 'SessionStoreError';
}

/**
 * Session records in Redis, so any replica can restore any session, with the per-principal session share counted
 * across replicas, and a pub/sub channel per replica for answers to its server-to-client requests.
 */
export class RedisSessionStore implements SessionStore {
  readonly replicaId: string;
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #commands: RedisCommands;
  readonly #maxPendingForwards: number;
  readonly #listeners = new Set<SessionStoreEvents>();
  /** Digest of a session id → the id, for the sessions this replica saved or restored. */
  readonly #known = new Map<string, string>();
  readonly #warn: (kind: string, line: string) => void;
  readonly #log: (line: string) => void;
  #subscriber: Redis | undefined;
  #pendingForwards = 0;
  /** How long a deleted session's tombstone lasts: the longest record lifetime seen (a record outlives none). */
  #tombstoneMs = 30 * 60_000;
  #lastFailure: string | undefined;
  #closed = false;

  constructor(options: RedisSessionStoreOptions) {
    if (!options?.redis) throw new TypeError('RedisSessionStore: `redis` (an ioredis client) is required');
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? 'mcp:';
    this.replicaId =
      options.replicaId ??
      randomBytes(6)
        .toString('base64url')
        .replace(/[^\w-]/g, '_');
    if (!REPLICA_ID.test(this.replicaId)) {
      throw new TypeError(
        `RedisSessionStore: replicaId must be 1-64 letters, digits, '_' or '-', got '${this.replicaId}'`,
      );
    }
    this.#commands = redisCommands(
      toMs(options.timeout ?? '1s', 'RedisSessionStore: timeout'),
      (message, cause) => new SessionStoreError(message, cause === undefined ? undefined : { cause }),
    );
    this.#maxPendingForwards = options.maxPendingForwards ?? 1000;
    if (!Number.isInteger(this.#maxPendingForwards) || this.#maxPendingForwards < 1) {
      throw new TypeError('RedisSessionStore: maxPendingForwards must be a whole number >= 1');
    }
    const log = options.log ?? ((line: string) => console.warn(line));
    this.#log = log;
    // One throttle per kind of note: an outage must not hide a drop, nor flood the log.
    const throttles = new Map<string, (line: string) => void>();
    this.#warn = (kind, line) => {
      let t = throttles.get(kind);
      if (!t) {
        t = throttled('10s', (text: string, suppressed: number) =>
          log(`[sessions-redis] ${text}${suppressed > 0 ? ` (${suppressed} more like it since)` : ''}`),
        );
        throttles.set(kind, t);
      }
      t(line);
    };
  }

  /** A readiness check (the shape `@mcp-middleware/health` takes): `warn` while Redis is unreachable. */
  get check(): SessionStoreCheck {
    return {
      name: 'sessions-redis',
      critical: false,
      componentType: 'datastore',
      check: async () => {
        try {
          await this.#run('check', () => this.#redis.ping());
          return { status: 'pass' };
        } catch {
          return {
            status: 'warn',
            output: 'Redis unreachable: only sessions held by this replica are served',
          };
        }
      },
    };
  }

  async create(record: SessionRecord, options: { ttlMs: number; maxPerOwner: number }): Promise<boolean> {
    const member = this.#remember(record.id);
    this.#tombstoneMs = Math.max(this.#tombstoneMs, Math.ceil(options.ttlMs));
    const created = await this.#run('save a session', () =>
      CREATE.run(
        this.#redis,
        [this.#recordKey(member), this.#ownerKey(record.owner)],
        [JSON.stringify(record), Math.max(1, Math.ceil(options.ttlMs)), options.maxPerOwner, member],
      ),
    );
    return created === 1;
  }

  async load(id: string): Promise<SessionRecord | undefined> {
    const member = idDigest(id);
    const json = await this.#run('load a session', () => this.#redis.get(this.#recordKey(member)));
    if (json === null) return undefined;
    let record: SessionRecord;
    try {
      record = JSON.parse(json) as SessionRecord;
    } catch {
      this.#warn('corrupt', 'ignored a session record that is not JSON');
      return undefined;
    }
    // A record under the digest of another id would mean a collision or tampering: never serve it.
    if (record?.id !== id) return undefined;
    this.#remember(id);
    return record;
  }

  async touch(record: SessionRecord, ttlMs: number): Promise<boolean> {
    const member = idDigest(record.id);
    const alive = await this.#run('touch a session', () =>
      TOUCH.run(
        this.#redis,
        [this.#recordKey(member), this.#ownerKey(record.owner), this.#tombstoneKey(member)],
        [Math.ceil(ttlMs), member, JSON.stringify(record)],
      ),
    );
    return alive === 1;
  }

  async setLogLevel(id: string, level: string, ttlMs: number): Promise<void> {
    await this.#run('set a log level', () =>
      SET_LOG_LEVEL.run(this.#redis, [this.#recordKey(idDigest(id))], [level, Math.ceil(ttlMs)]),
    );
  }

  async delete(id: string, owner: string): Promise<void> {
    const member = idDigest(id);
    this.#known.delete(member);
    await this.#run('delete a session', () =>
      this.#redis
        .multi()
        .del(this.#recordKey(member))
        // Tells a replica whose copy missed the notice that the session ended (rather than was lost).
        .set(this.#tombstoneKey(member), '1', 'PX', this.#tombstoneMs)
        .zrem(this.#ownerKey(owner), member)
        .publish(this.#deletedChannel(), member)
        .exec(),
    );
  }

  async forward(replicaId: string, sessionId: string, messages: readonly JSONRPCMessage[]): Promise<void> {
    if (!REPLICA_ID.test(replicaId)) throw new SessionStoreError('an answer names no valid replica');
    if (this.#pendingForwards >= this.#maxPendingForwards) {
      throw new SessionStoreError(`more than ${this.#maxPendingForwards} forwards pending`);
    }
    this.#pendingForwards++;
    try {
      const receivers = await this.#run('forward answers', () =>
        this.#redis.publish(
          this.#replicaChannel(replicaId),
          JSON.stringify({ session: idDigest(sessionId), messages }),
        ),
      );
      // Nobody listening: that replica is gone, and its waiting request with it.
      if (receivers === 0) this.#warn('unrouted', 'dropped answers for a replica that is not listening');
    } finally {
      this.#pendingForwards--;
    }
  }

  listen(events: SessionStoreEvents): () => void {
    this.#listeners.add(events);
    if (!this.#subscriber && !this.#closed) this.#subscribe();
    return () => {
      this.#listeners.delete(events);
    };
  }

  /** Quits the subscriber (the command client stays the caller's). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  #subscribe(): void {
    // The duplicate keeps the command client's options; it resubscribes by itself after a reconnect.
    const subscriber = this.#redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', (error: Error) => this.#failed(error));
    const replicaChannel = this.#replicaChannel(this.replicaId);
    const deletedChannel = this.#deletedChannel();
    subscriber.on('message', (channel: string, payload: string) => {
      if (channel === deletedChannel) this.#onDeleted(payload);
      else if (channel === replicaChannel) this.#onForwarded(payload);
    });
    subscriber.subscribe(replicaChannel, deletedChannel).catch((error: unknown) => this.#failed(error));
  }

  #onDeleted(member: string): void {
    const id = this.#known.get(member);
    if (id === undefined) return;
    this.#known.delete(member);
    for (const l of this.#listeners) l.deleted(id);
  }

  #onForwarded(payload: string): void {
    let parsed: { session?: unknown; messages?: unknown };
    try {
      parsed = JSON.parse(payload) as typeof parsed;
    } catch {
      this.#warn('drop', 'dropped a forward that is not JSON');
      return;
    }
    const id = typeof parsed.session === 'string' ? this.#known.get(parsed.session) : undefined;
    if (id === undefined || !Array.isArray(parsed.messages)) {
      this.#warn('drop', 'dropped forwarded answers for a session this replica does not hold');
      return;
    }
    for (const l of this.#listeners) l.forwarded(id, parsed.messages as JSONRPCMessage[]);
  }

  /** Remembers a session this replica serves, so notices about its digest reach it. Returns the digest. */
  #remember(id: string): string {
    const member = idDigest(id);
    if (!this.#known.has(member)) {
      if (this.#known.size >= MAX_KNOWN) this.#known.delete(this.#known.keys().next().value as string);
      this.#known.set(member, id);
    }
    return member;
  }

  /** Runs a command under the store's timeout; failures are noted once per interval and rethrown. */
  async #run<T>(what: string, command: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.#commands.run(what, command);
    } catch (error) {
      this.#failed(error);
      throw error;
    }
    if (this.#lastFailure !== undefined) {
      this.#lastFailure = undefined;
      this.#log('[sessions-redis] Redis reachable again: sessions restore across replicas');
    }
    return result;
  }

  #failed(error: unknown): void {
    const message = (error as Error)?.message ?? String(error);
    this.#lastFailure = message;
    this.#warn(
      'outage',
      `Redis unreachable (${message}): sessions held here keep working; new sessions and sessions held elsewhere get 503`,
    );
  }

  #recordKey(member: string): string {
    return `${this.#prefix}session:${member}`;
  }
  #tombstoneKey(member: string): string {
    return `${this.#prefix}deleted:${member}`;
  }
  #ownerKey(owner: string): string {
    return `${this.#prefix}owner:${owner}`;
  }
  #replicaChannel(replicaId: string): string {
    return `${this.#prefix}replica:${replicaId}`;
  }
  #deletedChannel(): string {
    return `${this.#prefix}sessions:deleted`;
  }
}

/** Keys and notices name sessions by digest: reading Redis shows no live session id. */
function idDigest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
