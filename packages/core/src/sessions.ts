/** What the session table needs to know about a session to bound it. */
export interface SessionEntry {
  readonly id: string;
  /** Whose share of the table the session counts against (see `sessionOwner`). */
  readonly owner: string;
  /** When the session was last used (`performance.now()` clock). */
  readonly lastSeen: number;
  /** True while the session has calls in flight: such a session is never evicted. */
  busy(): boolean;
}

/** Why a new session could not be admitted. */
export type SessionRefusal = 'principal' | 'global';

export type Admission<S> = { ok: true; evict: S | undefined } | { ok: false; reason: SessionRefusal };

/** A principal's default share of the table: a tenth, so one identity cannot fill it (at least 1). */
export function defaultMaxPerPrincipal(max: number): number {
  return Math.max(1, Math.ceil(max / 10));
}

/**
 * Whose share a session counts against: the authenticated principal, or, for anonymous sessions (all of which share
 * one principal), the client's address, so one anonymous client cannot use up every anonymous session.
 */
export function sessionOwner(principal: string, clientAddress: string | undefined): string {
  return principal === '' ? `address\u0000${clientAddress ?? ''}` : `principal\u0000${principal}`;
}

/**
 * The sessions a handler holds, bounded twice: `max` in all, `maxPerOwner` per owner. A new session beyond its
 * owner's share evicts that owner's least recently used idle session (never someone else's); when all of them are
 * busy, or the table is full, it is refused and counted.
 */
export class SessionTable<S extends SessionEntry> {
  readonly #byId = new Map<string, S>();
  readonly #byOwner = new Map<string, Set<S>>();
  #refused = 0;

  constructor(
    readonly max: number,
    readonly maxPerOwner: number,
  ) {}

  get size(): number {
    return this.#byId.size;
  }

  /** New sessions refused so far, by either bound. */
  get refused(): number {
    return this.#refused;
  }

  get(id: string): S | undefined {
    return this.#byId.get(id);
  }

  values(): IterableIterator<S> {
    return this.#byId.values();
  }

  /** Decides whether `owner` may open one more session, and which of its sessions must make room. */
  admit(owner: string): Admission<S> {
    const mine = this.#byOwner.get(owner);
    if (mine && mine.size >= this.maxPerOwner) {
      const evict = leastRecentlyUsedIdle(mine);
      if (evict) return { ok: true, evict };
      this.#refused++;
      return { ok: false, reason: 'principal' };
    }
    if (this.#byId.size >= this.max) {
      this.#refused++;
      return { ok: false, reason: 'global' };
    }
    return { ok: true, evict: undefined };
  }

  /** Counts a new session refused by a bound kept elsewhere (a session store's cross-replica share). */
  countRefusal(): void {
    this.#refused++;
  }

  add(session: S): void {
    this.#byId.set(session.id, session);
    let mine = this.#byOwner.get(session.owner);
    if (!mine) {
      mine = new Set();
      this.#byOwner.set(session.owner, mine);
    }
    mine.add(session);
  }

  /** Forgets `session` if it is the one held under its id. Returns whether it was. */
  delete(session: S): boolean {
    if (this.#byId.get(session.id) !== session) return false;
    this.#byId.delete(session.id);
    const mine = this.#byOwner.get(session.owner);
    mine?.delete(session);
    if (mine?.size === 0) this.#byOwner.delete(session.owner);
    return true;
  }
}

function leastRecentlyUsedIdle<S extends SessionEntry>(sessions: Iterable<S>): S | undefined {
  let oldest: S | undefined;
  for (const s of sessions) {
    if (!s.busy() && (oldest === undefined || s.lastSeen < oldest.lastSeen)) oldest = s;
  }
  return oldest;
}
