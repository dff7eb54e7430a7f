/**
 * A bounded map whose entries expire: at most `max` entries, the least recently used evicted first. Used for
 * verified tokens, introspection results and verified API keys, so memory stays bounded whatever clients send.
 */
export class ExpiringCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #max: number;

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
    this.#entries.delete(key);
    if (now >= entry.expiresAt) return undefined;
    this.#entries.set(key, entry); // most recently used goes last
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (ms); a no-op when the bound is 0 or the entry is already expired. */
  set(key: string, value: V, expiresAt: number, now: number): void {
    if (this.#max === 0 || expiresAt <= now) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
