import { isScopeToken } from '@mcp-middleware/core';
import { isApiKeyId, isSecretHash } from './key-format.js';

/** A time in a record: an ISO 8601 string (what JSON config holds) or a `Date`. */
export type KeyTime = string | Date;

/**
 * What a store keeps about one key. Never the key itself: only the SHA-256 of its secret. JSON-friendly, so a
 * config file or a database row can hold it as is.
 */
export interface ApiKeyRecord {
  /** The public id, the `<id>` in `mcpk_<id>_<secret>`; becomes `AuthInfo.clientId`. */
  readonly id: string;
  /** SHA-256 of the secret, lowercase hex (`hashApiKeySecret`). */
  readonly secretHash: string;
  /** Who the key belongs to (a user, a service); becomes `AuthInfo.extra.subject`. One owner may hold many keys. */
  readonly owner: string;
  /** The owner's tenant or organisation, if you have tenants. */
  readonly tenant?: string;
  /** What the key may do; becomes `AuthInfo.scopes`. */
  readonly scopes: readonly string[];
  /** A label for people (`'ci'`, `'laptop 2026'`). */
  readonly name?: string;
  /** When the key was made. */
  readonly createdAt?: KeyTime;
  /** The key stops working at this time. */
  readonly expiresAt?: KeyTime;
  /** The key is revoked from this time on (a future time schedules the end of a rotation's overlap). */
  readonly revokedAt?: KeyTime;
}

/** Options a store receives with each lookup. */
export interface KeyLookupOptions {
  /** Aborted when the lookup timed out or the request went away: stop waiting for the database. */
  readonly signal: AbortSignal;
}

/**
 * Where keys live. One method, looked up by the public id, so any database or secret manager fits. Return the
 * record even when it is expired or revoked: the middleware decides, and tells the caller why.
 */
export interface KeyStore {
  find(id: string, options: KeyLookupOptions): Promise<ApiKeyRecord | undefined>;
}

/** Milliseconds since the epoch for a record time; NaN when it is not a valid time. */
export function timeOf(value: KeyTime): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value !== 'string' || value.trim() === '') return Number.NaN;
  return Date.parse(value);
}

/** Throws a `TypeError` naming the field when `record` is not a usable key record. */
export function validateApiKeyRecord(record: unknown, context?: string): asserts record is ApiKeyRecord {
  if (typeof record !== 'object' || record === null) throw new TypeError('key record must be an object');
  const r = record as Record<string, unknown>;
  if (!isApiKeyId(r['id']))
    throw new TypeError(`${context ?? 'key record'}: id must be 16 lowercase hex characters`);
  const label = context ?? `key record '${r['id']}'`;
  if (!isSecretHash(r['secretHash'])) {
    throw new TypeError(`${label}: secretHash must be a SHA-256 hex digest (64 lowercase hex characters)`);
  }
  if (typeof r['owner'] !== 'string' || r['owner'] === '') {
    throw new TypeError(`${label}: owner must be a non-empty string`);
  }
  if (r['tenant'] !== undefined && (typeof r['tenant'] !== 'string' || r['tenant'] === '')) {
    throw new TypeError(`${label}: tenant must be a non-empty string when given`);
  }
  const scopes = r['scopes'];
  if (!Array.isArray(scopes) || !scopes.every(isScopeToken)) {
    // Scopes follow OAuth's scope-token syntax, so API keys and OAuth tokens can share one tool policy.
    throw new TypeError(
      `${label}: scopes must be an array of OAuth scope tokens (printable ASCII, no spaces, quotes or backslashes)`,
    );
  }
  if (r['name'] !== undefined && typeof r['name'] !== 'string') {
    throw new TypeError(`${label}: name must be a string when given`);
  }
  for (const field of ['createdAt', 'expiresAt', 'revokedAt'] as const) {
    const value = r[field];
    if (value !== undefined && Number.isNaN(timeOf(value as KeyTime))) {
      throw new TypeError(`${label}: ${field} must be an ISO 8601 date string or a Date`);
    }
  }
}

/**
 * Keys held in memory, fed from configuration (a JSON file, an environment variable). Records are checked when
 * added, so a typo fails at start. Changes (`add`, `revoke`, `delete`) apply to the next lookup: within
 * `apiKeyAuth`'s `cache.ttl` (1 s by default), or the next request with `cache: false`.
 */
export class MemoryKeyStore implements KeyStore {
  readonly #records = new Map<string, ApiKeyRecord>();

  constructor(records: Iterable<ApiKeyRecord> = []) {
    for (const record of records) this.add(record);
  }

  /** Adds a key (a new one during rotation, say). Throws a `TypeError` for a bad record or a duplicate id. */
  add(record: ApiKeyRecord): void {
    validateApiKeyRecord(record);
    if (this.#records.has(record.id)) throw new TypeError(`key record '${record.id}': duplicate id`);
    this.#records.set(record.id, { ...record, scopes: [...record.scopes] });
  }

  /**
   * Revokes a key from `at` on (now by default; a future time lets the old key overlap with its replacement).
   * Returns false when there is no such key.
   */
  revoke(id: string, at: KeyTime = new Date()): boolean {
    const record = this.#records.get(id);
    if (!record) return false;
    if (Number.isNaN(timeOf(at))) throw new TypeError('revoke: at must be an ISO 8601 date string or a Date');
    this.#records.set(id, { ...record, revokedAt: at });
    return true;
  }

  /** Forgets a key entirely. Prefer `revoke`, which keeps the reason a caller is refused precise. */
  delete(id: string): boolean {
    return this.#records.delete(id);
  }

  /** The keys of one owner (to see what a rotation must replace), or every key. */
  list(owner?: string): ApiKeyRecord[] {
    const all = [...this.#records.values()];
    return owner === undefined ? all : all.filter((r) => r.owner === owner);
  }

  async find(id: string, _options?: KeyLookupOptions): Promise<ApiKeyRecord | undefined> {
    return this.#records.get(id);
  }
}
