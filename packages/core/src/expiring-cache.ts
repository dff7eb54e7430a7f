/**
 * A bounded map whose entries expire: at most `max` entries, the least recently used evicted first. Used for
 * verified tokens, introspection results and verified API keys, so memory stays bounded whatever clients send.
 */
export class ExpiringCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #max: number;
  /** The most recently used key: already last in `#entries`, so a hit on it moves nothing. */
  #newest: string | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, if present and `now` (ms) is before its expiry. */
  get(key: string, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (now >= entry.expiresAt) {
      this.#entries.delete(key);
      if (key === this.#newest) this.#newest = undefined;
      return undefined;
    }
    // The most recently used goes last. A client calling again and again hits the newest entry: a delete and a
    // re-insert per request there only churned the map.
    if (key !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      this.#newest = key;
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (ms); a no-op when the bound is 0 or the entry is already expired. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    if (this.#max === 0 || expiresAt <= now) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    this.#newest = key;
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
    this.#newest = undefined;
  }
}
