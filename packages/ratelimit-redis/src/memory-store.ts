import type { RateLimitDecision, RateLimitPolicy, RateLimitStore } from '@mcp-middleware/core';
import { checkCost, EPOCH_MS, fixedWindow, gcra, PolicyCache } from './algorithms.js';

export interface MemoryStoreOptions {
  /**
   * Most keys held at once. When full, the least recently used key is forgotten: a flood of new keys can make
   * the store forget old ones (admitting more), never grow without bound. Expired keys count as absent.
   * @default 10000
   */
  maxKeys?: number;
}

interface Entry {
  /** GCRA: the theoretical arrival time (µs). Fixed window: the window's start (ms). */
  at: number;
  /** Fixed window: units used in the window (unused for GCRA). */
  count: number;
  /** When the entry means nothing any more (ms since `EPOCH_MS`). */
  expiresAt: number;
}

/**
 * Counts in this process's memory: for a single instance, tests, and as the local fallback when Redis is down.
 * Bounded by `maxKeys`; needs no timers, so there is nothing to leak.
 */
export class MemoryStore implements RateLimitStore {
  readonly #maxKeys: number;
  /** Insertion order is recency order: a used key is moved to the end. */
  readonly #entries = new Map<string, Entry>();
  readonly #policies = new PolicyCache();
  /** The key stored last, so at the end of `#entries` while it is there. */
  #newest: string | undefined;
  #cursor: MapIterator<string> | undefined;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new TypeError(`MemoryStore: maxKeys must be a whole number >= 1, got ${maxKeys}`);
    }
    this.#maxKeys = maxKeys;
  }

  /** Keys held now (never more than `maxKeys`). */
  get size(): number {
    return this.#entries.size;
  }

  consume(key: string, policy: RateLimitPolicy, cost = 1): Promise<RateLimitDecision> {
    try {
      return Promise.resolve(this.consumeSync(key, policy, cost));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `consume` without the promise, for callers that hold the store in the same process. */
  consumeSync(key: string, policy: RateLimitPolicy, cost = 1): RateLimitDecision {
    if (this.#closed) throw new Error('MemoryStore is closed');
    const p = this.#policies.get(policy);
    checkCost(cost, p);
    const now = Date.now() - EPOCH_MS;
    const entry = this.#entries.get(key);
    // An expired entry counts as absent. It stays in the map to be rewritten in place (a request is always
    // admitted against an absent state): deleting and inserting it again would churn the map's table.
    const live = entry !== undefined && entry.expiresAt > now ? entry : undefined;
    if (p.algorithm === 'gcra') {
      const { decision, tat } = gcra(live?.at, now * 1000, p, cost);
      if (tat !== undefined) this.#store(key, entry, tat, 0, tat / 1000);
      return decision;
    }
    const stored = live === undefined ? undefined : { windowStart: live.at, count: live.count };
    const { decision, count, windowStart, windowEnd } = fixedWindow(stored, now, p, cost);
    if (count !== undefined) this.#store(key, entry, windowStart, count, windowEnd);
    return decision;
  }

  async reset(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#entries.clear();
  }

  #store(key: string, entry: Entry | undefined, at: number, count: number, expiresAt: number): void {
    if (entry !== undefined) {
      entry.at = at;
      entry.count = count;
      entry.expiresAt = expiresAt;
      // Move to the end: most recently used. A key used again in a row is there already, and moving it would
      // only churn the map's table (a client calling alone, or one client's burst).
      if (key !== this.#newest) {
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        this.#newest = key;
      }
      return;
    }
    if (this.#entries.size >= this.#maxKeys) this.#evict();
    this.#entries.set(key, { at, count, expiresAt });
    this.#newest = key;
  }

  /**
   * Makes room for one key by dropping the least recently used. The cursor lives across calls: every entry before
   * it was deleted or moved to the end, so its next entry is the oldest, and no call rescans deleted slots.
   */
  #evict(): void {
    let step = this.#cursor?.next();
    if (step === undefined || step.done) {
      this.#cursor = this.#entries.keys();
      step = this.#cursor.next();
    }
    if (!step.done) this.#entries.delete(step.value);
  }
}
