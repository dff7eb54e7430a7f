import { randomUUID } from 'node:crypto';
import { type Duration, type HandlerHost, type Middleware, throttled, toMs } from '@mcp-middleware/core';
import type { Redis } from 'ioredis';
import { type RedisCommands, redisCommands } from './redis-commands.js';

export interface NotificationBusOptions {
  /** The command client: it publishes, and its duplicate subscribes (that one `close()` quits). */
  redis: Redis;
  /** Prefix of the channel (`<prefix>notifications`). @default 'mcp:' */
  prefix?: string;
  /**
   * Pass on to every replica the shared notifications a session's server sends (list changes, resource updates), as
   * if `notify()` had been called: right when servers build their lists from shared state, which is the usual case.
   * Set `false` when a server's lists differ per session; `notify()` still reaches everyone.
   * @default true
   */
  forward?: boolean;
  /** Most sessions whose resource subscriptions are tracked here. @default 10000 */
  maxSubscribedSessions?: number;
  /** Most resource subscriptions tracked per session. @default 100 */
  maxSubscriptionsPerSession?: number;
  /**
   * Most sessions recorded in Redis as subscribed to one URI (beyond it, only the replica that took the subscription
   * knows it). @default 10000
   */
  maxSubscribersPerUri?: number;
  /** A URI's subscriber list in Redis expires this long after its last subscription. @default '1h' */
  subscriptionTtl?: Duration;
  /** How long a publish may take before it counts as failed. @default '500ms' */
  timeout?: Duration;
  /** Where outage notes go (at most one line per 10 s). @default console.warn */
  log?: (line: string) => void;
  /**
   * @internal Where each notification handed to sessions is marked with its id (by its message or params object),
   * for the event store: copies of one session on several replicas then store it once, under one event id.
   */
  marks?: WeakMap<object, string>;
}

/** The notifications the bus carries: what every session may need to hear, whichever replica raised it. */
export const SHARED_NOTIFICATIONS = [
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
] as const;
export type SharedNotificationMethod = (typeof SHARED_NOTIFICATIONS)[number];

export interface SharedNotification {
  readonly method: SharedNotificationMethod;
  /** `notifications/resources/updated` needs `{ uri }`. */
  readonly params?: Record<string, unknown>;
}

/**
 * SDK v2's `ServerEventBus` (`createMcpHandler(factory, { bus })`) event shape: one kind per shared notification.
 * Declared here so the package does not need SDK v2 installed.
 */
export type ServerEvent = (
  | { kind: 'tools_list_changed' }
  | { kind: 'prompts_list_changed' }
  | { kind: 'resources_list_changed' }
  | { kind: 'resource_updated'; uri: string }
) & { params?: Record<string, unknown> };

/** SDK v2's `ServerEventBus` interface, structurally. */
export interface ServerEventBus {
  publish(event: ServerEvent): void;
  subscribe(listener: (event: ServerEvent) => void): () => void;
}

const KIND_OF: Record<SharedNotificationMethod, ServerEvent['kind']> = {
  'notifications/tools/list_changed': 'tools_list_changed',
  'notifications/prompts/list_changed': 'prompts_list_changed',
  'notifications/resources/list_changed': 'resources_list_changed',
  'notifications/resources/updated': 'resource_updated',
};
const METHOD_OF = Object.fromEntries(Object.entries(KIND_OF).map(([m, k]) => [k, m])) as Record<
  ServerEvent['kind'],
  SharedNotificationMethod
>;

/** Largest message accepted from the channel, in characters of JSON. */
const MAX_MESSAGE = 64 * 1024;
const MAX_URI = 2048;

/** What travels on the channel: the replica that raised it, its id, the notification. */
interface Envelope {
  readonly o: string;
  readonly i: string;
  readonly m: SharedNotificationMethod;
  readonly p?: Record<string, unknown>;
}

function isShared(method: string): method is SharedNotificationMethod {
  return (SHARED_NOTIFICATIONS as readonly string[]).includes(method);
}

function uriOf(params: Record<string, unknown> | undefined): string | undefined {
  const uri = params?.['uri'];
  return typeof uri === 'string' && uri.length > 0 && uri.length <= MAX_URI ? uri : undefined;
}

/** Checks a notification given to `notify()` or `publish()`; throws a TypeError naming what is wrong. */
function checkNotification(notification: SharedNotification): void {
  if (!isShared(notification?.method)) {
    throw new TypeError(`notify: method must be one of ${SHARED_NOTIFICATIONS.join(', ')}`);
  }
  if (notification.method === 'notifications/resources/updated' && !uriOf(notification.params)) {
    throw new TypeError('notify: notifications/resources/updated needs params.uri');
  }
}

/**
 * Notifications across replicas over Redis pub/sub. A shared notification raised on one replica (by `notify()`, a
 * session's server, or SDK v2's bus) goes at once to this replica's sessions, and through one channel to every other
 * replica, which delivers it to its own: list changes to every session, `resources/updated` to the sessions that
 * subscribed to that URI (tracked from `resources/subscribe` / `unsubscribe` in the RPC layer). A replica ignores
 * what it published itself, and what it hands to sessions is not taken for something their servers sent: no echoes.
 *
 * Pub/sub keeps nothing: what is published while Redis is away (or while a replica is cut off) is lost for the other
 * replicas. Local delivery goes on regardless, and the subscriber reconnects and resubscribes by itself.
 */
export class NotificationBus implements Middleware {
  readonly name = 'sessions-redis';
  /** This process's id on the channel. */
  readonly origin = randomUUID();
  readonly #redis: Redis;
  readonly #channel: string;
  readonly #forward: boolean;
  readonly #maxSessions: number;
  readonly #maxPerSession: number;
  readonly #maxPerUri: number;
  readonly #subscriptionTtlMs: number;
  readonly #prefix: string;
  readonly #commands: RedisCommands;
  readonly #warn: (line: string) => void;
  readonly #hosts = new Set<HandlerHost>();
  readonly #listeners = new Set<(event: ServerEvent) => void>();
  /** Session id → the resource URIs it subscribed to (least recently subscribing session evicted first). */
  readonly #subscriptions = new Map<string, Set<string>>();
  readonly #marks: WeakMap<object, string>;
  #subscriber: Redis | undefined;
  #raised = 0;
  #closed = false;

  constructor(options: NotificationBusOptions) {
    if (!options?.redis) throw new TypeError('NotificationBus: `redis` (an ioredis client) is required');
    this.#redis = options.redis;
    this.#prefix = options.prefix ?? 'mcp:';
    this.#channel = `${this.#prefix}notifications`;
    this.#forward = options.forward ?? true;
    this.#maxSessions = options.maxSubscribedSessions ?? 10_000;
    this.#maxPerSession = options.maxSubscriptionsPerSession ?? 100;
    this.#maxPerUri = options.maxSubscribersPerUri ?? 10_000;
    this.#subscriptionTtlMs = toMs(options.subscriptionTtl ?? '1h', 'NotificationBus: subscriptionTtl');
    for (const [name, value] of [
      ['maxSubscribedSessions', this.#maxSessions],
      ['maxSubscriptionsPerSession', this.#maxPerSession],
      ['maxSubscribersPerUri', this.#maxPerUri],
      ['subscriptionTtl', this.#subscriptionTtlMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 1)
        throw new TypeError(`NotificationBus: ${name} must be a whole number >= 1, got ${value}`);
    }
    this.#marks = options.marks ?? new WeakMap();
    this.#commands = redisCommands(toMs(options.timeout ?? '500ms', 'NotificationBus: timeout'));
    const log = options.log ?? ((line: string) => console.warn(line));
    this.#warn = throttled('10s', (line: string, suppressed: number) =>
      log(`[sessions-redis] ${line}${suppressed > 0 ? ` (${suppressed} more since)` : ''}`),
    );
  }

  /** Starts listening on the channel (once); the handler calls it through `attach`. */
  start(): void {
    if (this.#subscriber || this.#closed) return;
    // Its own connection (a subscribed connection runs no other commands), which waits through outages: subscribing
    // is queued until connected, and ioredis subscribes again after each reconnect.
    const subscriber = this.#redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.#subscriber = subscriber;
    subscriber.on('error', () => {});
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.#channel) this.#received(text);
    });
    subscriber.subscribe(this.#channel).catch((error: Error) => {
      if (!this.#closed) this.#warn(`cannot listen for notifications from other replicas: ${error.message}`);
    });
  }

  attach(host: HandlerHost): void {
    this.#hosts.add(host);
    this.start();
    if (!this.#forward) return;
    host.onServerNotification((notification, sessionId) => {
      if (!isShared(notification.method)) return;
      const params = notification.params as Record<string, unknown> | undefined;
      if (notification.method === 'notifications/resources/updated' && !uriOf(params)) return;
      const shared: SharedNotification = { method: notification.method, ...(params ? { params } : {}) };
      // The server's own message is marked too: other replicas' copies of its session store it under the same id.
      const id = this.#nextId();
      this.#marks.set(notification, id);
      void this.#raise(shared, sessionId, id);
    });
  }

  async rpc(
    call: Parameters<NonNullable<Middleware['rpc']>>[0],
    next: Parameters<NonNullable<Middleware['rpc']>>[1],
  ) {
    const result = await next();
    if (call.sessionId === undefined || result.error !== undefined) return result;
    if (call.method === 'resources/subscribe') {
      const uri = uriOf(call.params as Record<string, unknown> | undefined);
      if (uri) await this.#subscribe(call.sessionId, uri);
    } else if (call.method === 'resources/unsubscribe') {
      const uri = uriOf(call.params as Record<string, unknown> | undefined);
      if (uri) {
        this.#subscriptions.get(call.sessionId)?.delete(uri);
        await this.#commands
          .run('forget a subscription', () => this.#redis.srem(this.#subscribersKey(uri), call.sessionId!))
          .catch((error: Error) => this.#warn(`a subscription stays recorded in Redis: ${error.message}`));
      }
    }
    return result;
  }

  async http(
    req: Request,
    ctx: Parameters<NonNullable<Middleware['http']>>[1],
    next: () => Promise<Response>,
  ) {
    if (req.method === 'DELETE' && ctx.route === 'mcp' && ctx.sessionId !== undefined) {
      const response = await next();
      if (response.ok) this.#subscriptions.delete(ctx.sessionId);
      return response;
    }
    return next();
  }

  /**
   * Sends a shared notification to every session on every replica (`resources/updated` only to the sessions that
   * subscribed to its URI). Resolves once this replica's sessions have it and it is published; a publish that fails
   * (Redis away) is logged, not thrown: the other replicas miss it.
   */
  async notify(notification: SharedNotification): Promise<void> {
    checkNotification(notification);
    await this.#raise(notification, undefined, this.#nextId());
  }

  /** SDK v2's `ServerEventBus` over this bus: `createMcpHandler(factory, { bus: scale.serverEventBus })`. */
  readonly serverEventBus: ServerEventBus = {
    publish: (event) => {
      const method = METHOD_OF[event?.kind];
      if (!method) throw new TypeError(`publish: unknown event kind '${String(event?.kind)}'`);
      const params = { ...event.params, ...(event.kind === 'resource_updated' ? { uri: event.uri } : {}) };
      const notification: SharedNotification = {
        method,
        ...(Object.keys(params).length > 0 ? { params } : {}),
      };
      checkNotification(notification);
      void this.#raise(notification, undefined, this.#nextId());
    },
    subscribe: (listener) => {
      this.start();
      // Its own wrapper, so subscribing one listener twice gives two independent subscriptions.
      const entry = (event: ServerEvent) => listener(event);
      this.#listeners.add(entry);
      return () => void this.#listeners.delete(entry);
    },
  };

  /** Sessions whose resource subscriptions are tracked (for tests and metrics). */
  get trackedSessions(): number {
    return this.#subscriptions.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscriptions.clear();
    this.#listeners.clear();
    if (!subscriber) return;
    try {
      await this.#commands.run('close the subscriber', () => subscriber.quit());
    } catch {
      subscriber.disconnect();
    }
  }

  /** The sessions subscribed to `uri`, on any replica: a session another replica restored keeps its subscriptions. */
  #subscribersKey(uri: string): string {
    return `${this.#prefix}subscribers:${uri}`;
  }

  async #subscribe(sessionId: string, uri: string): Promise<void> {
    this.#subscribeHere(sessionId, uri);
    const key = this.#subscribersKey(uri);
    try {
      const results = await this.#commands.run('record a subscription', () =>
        this.#redis.multi().sadd(key, sessionId).pexpire(key, this.#subscriptionTtlMs).scard(key).exec(),
      );
      const count = results?.[2]?.[1];
      if (typeof count === 'number' && count > this.#maxPerUri) {
        await this.#commands.run('record a subscription', () => this.#redis.srem(key, sessionId));
        this.#warn(
          'a resource has more subscribers than maxSubscribersPerUri; the rest are known only where they subscribed',
        );
      }
    } catch (error) {
      this.#warn(
        `a subscription is known only to this replica while Redis fails: ${(error as Error).message}`,
      );
    }
  }

  /** The sessions Redis lists as subscribed to `uri`; undefined when Redis cannot say (this replica's list alone). */
  async #subscribersOf(uri: string): Promise<Set<string> | undefined> {
    try {
      return new Set(
        await this.#commands.run('read subscriptions', () => this.#redis.smembers(this.#subscribersKey(uri))),
      );
    } catch (error) {
      this.#warn(
        `updates reach only subscriptions taken here while Redis fails: ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  #subscribeHere(sessionId: string, uri: string): void {
    let uris = this.#subscriptions.get(sessionId);
    if (uris) {
      this.#subscriptions.delete(sessionId);
    } else {
      uris = new Set();
      if (this.#subscriptions.size >= this.#maxSessions) {
        this.#subscriptions.delete(this.#subscriptions.keys().next().value as string);
      }
    }
    this.#subscriptions.set(sessionId, uris);
    if (uris.has(uri) || uris.size < this.#maxPerSession) uris.add(uri);
    else
      this.#warn(
        'a session subscribed to more resources than maxSubscriptionsPerSession; updates to the rest reach it only from its own replica',
      );
  }

  #nextId(): string {
    return `${this.origin}:${++this.#raised}`;
  }

  /**
   * Delivers here first (Redis may be away), then publishes for the other replicas. Here, the session whose server
   * sent it is left out (it has it); elsewhere copies of that session get it, and the store keeps it once.
   */
  async #raise(notification: SharedNotification, fromSession: string | undefined, id: string): Promise<void> {
    const delivered = this.#deliver(notification, fromSession, id);
    const envelope: Envelope = {
      o: this.origin,
      i: id,
      m: notification.method,
      ...(notification.params ? { p: notification.params } : {}),
    };
    const text = JSON.stringify(envelope);
    const published =
      text.length > MAX_MESSAGE
        ? Promise.resolve(this.#warn('a notification too large for the bus reached only this replica'))
        : this.#commands
            .run('publish a notification', () => this.#redis.publish(this.#channel, text))
            .then(
              () => {},
              (error: Error) =>
                this.#warn(`notifications do not reach other replicas while Redis fails: ${error.message}`),
            );
    await Promise.all([delivered, published]);
  }

  #received(text: string): void {
    if (this.#closed || text.length > MAX_MESSAGE) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(text) as Envelope;
    } catch {
      this.#warn('ignored a message on the notification channel that is not JSON');
      return;
    }
    if (envelope?.o === this.origin) return;
    const params = envelope?.p;
    if (typeof envelope?.m !== 'string' || !isShared(envelope.m)) return;
    if (typeof envelope.i !== 'string' || envelope.i.length > 200) return;
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
      return;
    if (envelope.m === 'notifications/resources/updated' && !uriOf(params)) return;
    void this.#deliver({ method: envelope.m, ...(params ? { params } : {}) }, undefined, envelope.i);
  }

  /** To this replica's sessions (except the one whose server raised it: it said so itself) and v2 listeners. */
  async #deliver(
    notification: SharedNotification,
    fromSession: string | undefined,
    id: string,
  ): Promise<void> {
    const uri =
      notification.method === 'notifications/resources/updated' ? uriOf(notification.params) : undefined;
    if (this.#listeners.size > 0) {
      const event = {
        kind: KIND_OF[notification.method],
        ...(uri ? { uri } : {}),
        ...(notification.params ? { params: notification.params } : {}),
      } as ServerEvent;
      for (const listener of [...this.#listeners]) {
        try {
          listener(event);
        } catch (error) {
          this.#warn(`a notification listener failed: ${(error as Error)?.message ?? String(error)}`);
        }
      }
    }
    const elsewhere =
      uri === undefined || this.#hosts.size === 0 ? undefined : await this.#subscribersOf(uri);
    const held = new Set<string>();
    const filter = (sessionId: string) => {
      held.add(sessionId);
      if (sessionId === fromSession) return false;
      return (
        uri === undefined ||
        this.#subscriptions.get(sessionId)?.has(uri) === true ||
        elsewhere?.has(sessionId) === true
      );
    };
    // A params object of its own (empty when there are none) carries the mark to the event store.
    const params = { ...notification.params };
    this.#marks.set(params, id);
    await Promise.all(
      [...this.#hosts].map((host) => host.notifySessions({ method: notification.method, params }, filter)),
    );
    // Sessions gone from every handler (closed, expired) leave their subscriptions behind: drop them now.
    if (this.#hosts.size > 0) {
      for (const sessionId of this.#subscriptions.keys()) {
        if (!held.has(sessionId)) this.#subscriptions.delete(sessionId);
      }
    }
  }
}
