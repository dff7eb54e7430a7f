import { type Duration, type EventId, type EventStore, type StreamId, toMs } from '@mcp-middleware/core';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Cluster, Redis } from 'ioredis';
import { type RedisCommands, RedisScript, redisCommands } from './redis-commands.js';

export interface RedisEventStoreOptions {
  /** The command client (give it `enableOfflineQueue: false`). `ioredis` `Cluster` works too: one key per command. */
  redis: Redis | Cluster;
  /** Prefix of every key. @default 'mcp:' */
  prefix?: string;
  /** Most events kept per stream (trimmed approximately, `MAXLEN ~`): older ones cannot be replayed. @default 1000 */
  maxEvents?: number;
  /** A stream is deleted this long after its last event. @default '1h' */
  ttl?: Duration;
  /** Largest message stored, in bytes of JSON; a larger one is still sent, but cannot be replayed. @default 1048576 */
  maxEventSize?: number;
  /** How long one Redis command may take before it counts as failed. @default '500ms' */
  timeout?: Duration;
  /** Where outage notes go: one line when storing starts failing, one when it works again. @default console.warn */
  log?: (line: string) => void;
  /**
   * @internal Ids of notifications the bus hands to sessions, by message or params object. When copies of one
   * session on several replicas store the same notification, it is stored once and each gets the same event id.
   */
  marks?: WeakMap<object, string>;
}

/** Most streams whose last stored position is remembered, for ids of events stored while Redis was away. */
const MAX_CURSORS = 10_000;
/** Events read per replay round trip. */
const REPLAY_BATCH = 100;
/** Longest `Last-Event-ID` parsed; anything longer is not one of ours. */
const MAX_EVENT_ID = 512;
/** The last entry id within a millisecond: what was stored in the current one counts as seen. */
const MAX_SEQUENCE = '18446744073709551615';
/** `<stream id>#<entry id>`, `~<n>` after it for an event that was not stored. */
const EVENT_ID = /^(.+)#(\d+-\d+)(?:~(t?)\d+)?$/s;

// Appends an event; for a marked one, only the first time its mark is seen on the stream, returning the same entry
// id every time after.
const STORE = `
if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return seen end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] then redis.call('SET', KEYS[2], id, 'PX', ARGV[3]) end
return id`;
const STORE_SCRIPT = new RedisScript(STORE);

/**
 * Where an event sits: its stream and its Redis Streams entry id. An event that could not be stored (Redis away, or
 * too large) gets the entry id of the last event this replica stored on that stream and a `~n` suffix that keeps ids
 * unique: a replay after it sends what was stored after that position, so nothing stored is lost and nothing the
 * client saw is repeated; the unstored events themselves are gone. When this replica stored nothing on the stream
 * (another replica's copy of the session did), the position is this replica's clock (the end of the current
 * millisecond, suffix `~t<n>`): approximate, so it is not looked up before the replay.
 */
function parseEventId(eventId: EventId): { streamId: StreamId; entry: string; exact: boolean } | undefined {
  if (eventId.length > MAX_EVENT_ID) return undefined;
  const match = EVENT_ID.exec(eventId);
  return match ? { streamId: match[1]!, entry: match[2]!, exact: match[3] !== 't' } : undefined;
}

/** Why a replay cannot give the client every event it missed. */
export class EventReplayError extends Error {
  override readonly name = 'EventReplayError';
}

/**
 * Resumable SSE streams for any replica: the SDK `EventStore` on Redis Streams. Each stream is one Redis stream
 * (`<prefix>events:{<stream id>}`; core names streams `<session id>/<stream id>`), bounded in length (`XADD MAXLEN ~`)
 * and age (the key expires `ttl` after its last event). Event ids carry the stream id and the entry id, so a replica
 * that never saw the stream replays it from the id alone.
 *
 * When Redis is away, `storeEvent` does not fail: the event is still sent, without resumability, and the outage is
 * logged once (and its end once). A replay that cannot be complete (the stream expired, or events after the client's
 * position were trimmed) throws, so the client gets an error (the SDK answers 500) instead of a silent gap.
 */
export class RedisEventStore implements EventStore {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #maxEvents: number;
  readonly #ttlMs: number;
  readonly #maxEventSize: number;
  readonly #commands: RedisCommands;
  readonly #log: (line: string) => void;
  readonly #marks: WeakMap<object, string> | undefined;
  /** Stream id → the entry id of its last stored event (least recently stored evicted first). */
  readonly #cursors = new Map<StreamId, string>();
  #unstored = 0;
  #failing = false;

  constructor(options: RedisEventStoreOptions) {
    if (!options?.redis) throw new TypeError('RedisEventStore: `redis` (an ioredis client) is required');
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? 'mcp:';
    this.#maxEvents = options.maxEvents ?? 1000;
    if (!Number.isInteger(this.#maxEvents) || this.#maxEvents < 1) {
      throw new TypeError(`RedisEventStore: maxEvents must be a whole number >= 1, got ${this.#maxEvents}`);
    }
    this.#ttlMs = toMs(options.ttl ?? '1h', 'RedisEventStore: ttl');
    if (this.#ttlMs < 1) throw new TypeError('RedisEventStore: ttl must be at least 1 ms');
    this.#maxEventSize = options.maxEventSize ?? 1024 * 1024;
    if (!Number.isInteger(this.#maxEventSize) || this.#maxEventSize < 1) {
      throw new TypeError(
        `RedisEventStore: maxEventSize must be a whole number >= 1, got ${this.#maxEventSize}`,
      );
    }
    this.#commands = redisCommands(toMs(options.timeout ?? '500ms', 'RedisEventStore: timeout'));
    this.#log = options.log ?? ((line) => console.warn(line));
    this.#marks = options.marks;
  }

  /** The stream's key; its braces keep a stream and its marks in one Cluster slot. */
  #key(streamId: StreamId): string {
    return `${this.#prefix}events:{${streamId}}`;
  }

  #markOf(message: JSONRPCMessage): string | undefined {
    if (!this.#marks) return undefined;
    const params = (message as { params?: unknown }).params;
    return (
      this.#marks.get(message) ??
      (typeof params === 'object' && params !== null ? this.#marks.get(params) : undefined)
    );
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const json = JSON.stringify(message);
    // Bytes, roughly: a string's length undercounts multi-byte text at most 3 times.
    if (json.length * 3 > this.#maxEventSize && Buffer.byteLength(json) > this.#maxEventSize) {
      return this.#unstoredId(streamId);
    }
    let entry: string;
    try {
      const key = this.#key(streamId);
      const mark = this.#markOf(message);
      const keys = mark === undefined ? [key] : [key, `${key}:mark:${mark}`];
      entry = (await this.#commands.run('store an event', () =>
        STORE_SCRIPT.run(this.#redis, keys, [this.#maxEvents, json, this.#ttlMs]),
      )) as string;
    } catch (error) {
      if (!this.#failing) {
        this.#failing = true;
        this.#log(
          `[sessions-redis] events are sent without being stored (not resumable) while Redis fails: ${(error as Error).message}`,
        );
      }
      return this.#unstoredId(streamId);
    }
    if (this.#failing) {
      this.#failing = false;
      this.#log('[sessions-redis] events are stored again (resumable)');
    }
    this.#cursors.delete(streamId);
    this.#cursors.set(streamId, entry);
    if (this.#cursors.size > MAX_CURSORS) this.#cursors.delete(this.#cursors.keys().next().value as StreamId);
    return `${streamId}#${entry}`;
  }

  #unstoredId(streamId: StreamId): EventId {
    const cursor = this.#cursors.get(streamId);
    return cursor === undefined
      ? `${streamId}#${Date.now()}-${MAX_SEQUENCE}~t${++this.#unstored}`
      : `${streamId}#${cursor}~${++this.#unstored}`;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return parseEventId(eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const position = parseEventId(lastEventId);
    if (!position) throw new EventReplayError('not an event id of this store');
    const { streamId } = position;
    const key = this.#key(streamId);
    let after = position.entry;
    if (position.exact && after !== '0-0') {
      // The client's own event must still be there: if it was trimmed or expired, events after it may be gone too.
      const first = await this.#commands.run('replay events', () =>
        this.#redis.xrange(key, after, '+', 'COUNT', 1),
      );
      if (first[0]?.[0] !== after) {
        throw new EventReplayError('the stream expired or was trimmed past the client position');
      }
    }
    for (;;) {
      const start = after === '0-0' ? '-' : `(${after}`;
      const batch = await this.#commands.run('replay events', () =>
        this.#redis.xrange(key, start, '+', 'COUNT', REPLAY_BATCH),
      );
      for (const [entry, fields] of batch) {
        after = entry;
        const message = JSON.parse(fields[1] ?? '{}') as JSONRPCMessage;
        // The SDK's priming events (an empty message) only mark a position.
        if (!('jsonrpc' in message)) continue;
        await send(`${streamId}#${entry}`, message);
      }
      if (batch.length < REPLAY_BATCH) return streamId;
    }
  }
}
