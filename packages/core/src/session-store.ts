import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * What a replica needs to serve a session it did not create: saved when the session starts, read by any replica
 * that gets a request for a session it does not hold. Holds no secret: the principal and owner are digests.
 */
export interface SessionRecord {
  readonly id: string;
  /** A digest of the identity that created the session: a request from anyone else is answered 404. */
  readonly principal: string;
  /** A digest of whose per-principal share the session counts against (anonymous: the client address). */
  readonly owner: string;
  /** The protocol version the session negotiated. */
  readonly protocolVersion: string;
  /** The client's capabilities from `initialize` (sampling, elicitation, roots ...). */
  readonly clientCapabilities: Record<string, unknown>;
  /** The client's `clientInfo` from `initialize`. */
  readonly clientInfo: Record<string, unknown> | undefined;
  /** The level the client asked for with `logging/setLevel`, once it did. */
  readonly logLevel?: string;
  /** When the session was created (epoch ms). */
  readonly createdAt: number;
}

/** What a store tells the handlers listening to it about other replicas' doings. */
export interface SessionStoreEvents {
  /** A session was deleted (DELETE, eviction) on some replica: drop any local copy. */
  deleted(sessionId: string): void;
  /** Answers to this replica's server-to-client requests arrived at another replica and were forwarded here. */
  forwarded(sessionId: string, messages: JSONRPCMessage[]): void;
}

/**
 * Where a stateful handler keeps its session records so any replica can restore a session
 * (`createMiddlewareHandler({ sessions: { store } })`). Every method may reject (the store is unreachable): the
 * handler answers 503 for new and foreign sessions and keeps serving the sessions it holds. Methods should give up
 * within a bounded time.
 */
export interface SessionStore {
  /**
   * Saves a new session's record, unless its owner already holds `maxPerOwner` live sessions across all replicas.
   * Resolves false when the owner is at its share. The record lives `ttlMs` unless touched.
   */
  create(record: SessionRecord, options: { ttlMs: number; maxPerOwner: number }): Promise<boolean>;
  /** The record of session `id`, or undefined when there is none (never was, deleted, expired). */
  load(id: string): Promise<SessionRecord | undefined>;
  /**
   * Keeps the record alive `ttlMs` longer; saves it again when it is missing without having been deleted (the store
   * lost it: a restart without persistence), since the replica touching it still serves the session. Resolves false
   * when the session was deleted: the caller drops its copy.
   */
  touch(record: SessionRecord, ttlMs: number): Promise<boolean>;
  /** Remembers the client's log level. */
  setLogLevel(id: string, level: string, ttlMs: number): Promise<void>;
  /** Removes the record and tells every replica to drop its copy. */
  delete(id: string, owner: string): Promise<void>;
  /**
   * This replica's name among those sharing the store. When given together with `forward` and `listen`, the ids of
   * server-to-client requests (sampling, elicitation) carry it, so the client's answer can reach this replica
   * whichever replica it lands on.
   */
  readonly replicaId?: string;
  /** Hands answers that belong to `replicaId`'s server-to-client requests over to that replica. */
  forward?(replicaId: string, sessionId: string, messages: readonly JSONRPCMessage[]): Promise<void>;
  /** Starts telling `events` what happens on other replicas; returns a function that stops it. */
  listen?(events: SessionStoreEvents): () => void;
}

/** A record's size limit: capabilities and clientInfo come from the client, so they are bounded. */
export const MAX_SESSION_RECORD_BYTES = 16 * 1024;

/** A hex SHA-256 digest of `text` (Web Crypto: every runtime core serves on has it). */
export async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

/** The separator between a replica id and the number of one of its server-to-client requests. */
const REPLICA_ID_SEPARATOR = ':';

/** The wire id of server-to-client request `id` sent by replica `replicaId`. */
export function replicaRequestIdPrefix(replicaId: string): string {
  return `${replicaId}${REPLICA_ID_SEPARATOR}`;
}

function isResponse(m: unknown): m is JSONRPCMessage & { id: string | number } {
  return (
    typeof m === 'object' && m !== null && !('method' in m) && 'id' in m && ('result' in m || 'error' in m)
  );
}

/**
 * Splits a POST body into the answers that belong to other replicas' server-to-client requests (by replica) and
 * the rest. Undefined when nothing in it belongs elsewhere (the common case: no copy made).
 */
export function foreignAnswers(
  body: unknown,
  ownPrefix: string,
): { byReplica: Map<string, JSONRPCMessage[]>; rest: unknown[] } | undefined {
  const messages = Array.isArray(body) ? body : [body];
  let byReplica: Map<string, JSONRPCMessage[]> | undefined;
  for (const m of messages) {
    if (!isResponse(m) || typeof m.id !== 'string' || m.id.startsWith(ownPrefix)) continue;
    const cut = m.id.lastIndexOf(REPLICA_ID_SEPARATOR);
    if (cut <= 0) continue;
    byReplica ??= new Map();
    const replica = m.id.slice(0, cut);
    const list = byReplica.get(replica);
    if (list) list.push(m);
    else byReplica.set(replica, [m]);
  }
  if (!byReplica) return undefined;
  const rest = messages.filter((m) => !isResponse(m) || !byReplica.has(replicaOf(m.id)));
  return { byReplica, rest };
}

function replicaOf(id: string | number): string {
  if (typeof id !== 'string') return '';
  const cut = id.lastIndexOf(REPLICA_ID_SEPARATOR);
  return cut <= 0 ? '' : id.slice(0, cut);
}

/** The SDK v1 fields a restored session must have set: what `initialize` would have set (checked on 1.32.2). */
interface SdkV1ServerState {
  _clientCapabilities?: unknown;
  _clientVersion?: unknown;
  _loggingLevels?: Map<string | undefined, string>;
  getClientCapabilities?: unknown;
}

/**
 * Gives a server made for a restored session what the client told the original server in `initialize`, so the
 * SDK's capability checks (sampling, elicitation) and logging level behave as on the replica that created it. SDK
 * v1 keeps these in fields of the low-level `Server` (an `McpServer` has one as `.server`) with no public setter.
 */
export function restoreServerState(server: object, record: SessionRecord): void {
  const low = (
    typeof (server as SdkV1ServerState).getClientCapabilities === 'function'
      ? server
      : (server as { server?: unknown }).server
  ) as SdkV1ServerState | undefined;
  if (!low || typeof low.getClientCapabilities !== 'function') {
    throw new TypeError(
      'restoring a session needs an SDK v1 McpServer or Server from the server factory (client capabilities ' +
        'could not be set)',
    );
  }
  low._clientCapabilities = record.clientCapabilities;
  low._clientVersion = record.clientInfo;
  if (record.logLevel !== undefined && low._loggingLevels instanceof Map) {
    low._loggingLevels.set(record.id, record.logLevel);
  }
}

/** Marks a new SDK v1 web-standard transport as the initialized transport of session `id`. */
export function restoreTransportState(transport: object, id: string): void {
  const t = transport as { sessionId?: string; _initialized?: boolean };
  if (t._initialized !== false) {
    throw new TypeError('restoring a session needs the SDK v1 web-standard transport (1.x)');
  }
  t.sessionId = id;
  t._initialized = true;
}

/** Whether a record fits `MAX_SESSION_RECORD_BYTES` once serialized. */
export function recordFits(record: SessionRecord): boolean {
  return new TextEncoder().encode(JSON.stringify(record)).length <= MAX_SESSION_RECORD_BYTES;
}
