import { type AuthorizationServerMetadata, httpUrlOption } from '@mcp-middleware/core';
import {
  type CryptoKey,
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
} from 'jose';
import { AuthorizationServerUnavailable, discoverMetadata, fetchJson } from './network.js';
import type { ResolvedOptions } from './options.js';

/** Consecutive failures push the next attempt back: 1 s, 2 s, 4 s... up to `maxMs`. */
class Backoff {
  #failures = 0;
  #until = 0;
  readonly #maxMs: number;

  constructor(maxMs: number) {
    this.#maxMs = maxMs;
  }

  blocked(now: number): boolean {
    return now < this.#until;
  }

  failed(now: number): void {
    this.#failures++;
    this.#until = now + Math.min(this.#maxMs, 1000 * 2 ** Math.min(this.#failures - 1, 30));
  }

  succeeded(): void {
    this.#failures = 0;
    this.#until = 0;
  }
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

interface KeySet {
  readonly resolve: KeyResolver;
  readonly fetchedAt: number;
}

/** What is known about one configured issuer. One per issuer, so memory is bounded by the configuration. */
interface IssuerState {
  readonly jwksUri: string | undefined;
  metadata: { value: AuthorizationServerMetadata; fetchedAt: number } | undefined;
  metadataPending: Promise<AuthorizationServerMetadata> | undefined;
  readonly metadataBackoff: Backoff;
  keys: KeySet | undefined;
  keysPending: Promise<KeySet> | undefined;
  readonly keysBackoff: Backoff;
}

/**
 * The metadata and signing keys of the configured issuers. Keys are fresh for `metadataTtl`; after that they are
 * refetched in the background while the last good set keeps verifying tokens for up to `jwksMaxStale`, then a
 * request must wait for a refetch (503 if it fails). Each refetch reads the metadata again once it has expired, so
 * a moved `jwks_uri` is picked up. Failed calls back off (`retryBackoff`), and meanwhile cost nothing.
 */
export class KeySets {
  readonly #options: ResolvedOptions;
  readonly #signal: AbortSignal;
  readonly #issuers = new Map<string, IssuerState>();

  constructor(options: ResolvedOptions, signal: AbortSignal) {
    this.#options = options;
    this.#signal = signal;
    for (const server of options.servers) {
      this.#issuers.set(server.issuer, {
        jwksUri: server.jwksUri,
        metadata: undefined,
        metadataPending: undefined,
        metadataBackoff: new Backoff(options.retryBackoffMs),
        keys: undefined,
        keysPending: undefined,
        keysBackoff: new Backoff(options.retryBackoffMs),
      });
    }
  }

  /**
   * An issuer's metadata, fetched at most once per `maxAgeMs`. When a refetch fails (or is backing off), the last
   * good document is used: it only says where the keys and the introspection endpoint are.
   */
  async metadata(
    issuer: string,
    maxAgeMs = this.#options.metadataTtlMs,
  ): Promise<AuthorizationServerMetadata> {
    const state = this.#issuers.get(issuer)!;
    const now = this.#options.clock();
    const held = state.metadata;
    if (held && now - held.fetchedAt < maxAgeMs) return held.value;
    if (state.metadataBackoff.blocked(now)) {
      if (held) return held.value;
      throw new AuthorizationServerUnavailable(`metadata of ${issuer}: backing off after a failure`);
    }
    state.metadataPending ??= this.#fetchMetadata(issuer, state).finally(() => {
      state.metadataPending = undefined;
    });
    try {
      return await state.metadataPending;
    } catch (error) {
      if (held) return held.value;
      throw error;
    }
  }

  async #fetchMetadata(issuer: string, state: IssuerState): Promise<AuthorizationServerMetadata> {
    try {
      const value = await discoverMetadata(issuer, this.#options.timeoutMs, this.#signal);
      state.metadata = { value, fetchedAt: this.#options.clock() };
      state.metadataBackoff.succeeded();
      return value;
    } catch (error) {
      state.metadataBackoff.failed(this.#options.clock());
      throw error;
    }
  }

  /** The key a token's header names, from the issuer's key set. */
  async key(issuer: string, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const { metadataTtlMs: ttl, jwksMaxStaleMs, jwksCooldownMs } = this.#options;
    const state = this.#issuers.get(issuer)!;
    const now = this.#options.clock();
    let keys = state.keys;
    if (!keys || now - keys.fetchedAt >= ttl + jwksMaxStaleMs) {
      keys = await this.#refresh(issuer, state, ttl);
    } else if (now - keys.fetchedAt >= ttl) {
      // Stale: verify with what we have, refetch behind the request.
      this.#refresh(issuer, state, ttl).catch(() => {});
    }
    try {
      return await keys.resolve(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || now - keys.fetchedAt < jwksCooldownMs) throw error;
      // An unknown key may be a rotation: refetch (and the metadata, in case jwks_uri moved), once per cooldown.
      const fresh = await this.#refresh(issuer, state, jwksCooldownMs);
      return fresh.resolve(header, token);
    }
  }

  #refresh(issuer: string, state: IssuerState, metadataMaxAgeMs: number): Promise<KeySet> {
    if (state.keysPending) return state.keysPending;
    if (state.keysBackoff.blocked(this.#options.clock())) {
      return Promise.reject(
        new AuthorizationServerUnavailable(`JWKS of ${issuer}: backing off after a failure`),
      );
    }
    state.keysPending = this.#fetchKeys(issuer, state, metadataMaxAgeMs).finally(() => {
      state.keysPending = undefined;
    });
    return state.keysPending;
  }

  async #fetchKeys(issuer: string, state: IssuerState, metadataMaxAgeMs: number): Promise<KeySet> {
    try {
      const uri = state.jwksUri ?? (await this.metadata(issuer, metadataMaxAgeMs)).jwks_uri;
      if (typeof uri !== 'string')
        throw new AuthorizationServerUnavailable(`${issuer} publishes no jwks_uri`);
      try {
        httpUrlOption(uri, 'jwks_uri');
      } catch (cause) {
        throw new AuthorizationServerUnavailable(`${issuer} publishes an insecure jwks_uri`, { cause });
      }
      const { status, body } = await fetchJson(
        uri,
        { headers: { accept: 'application/jwk-set+json, application/json' } },
        this.#options.timeoutMs,
        this.#signal,
      );
      if (!body) throw new AuthorizationServerUnavailable(`JWKS of ${issuer} answered ${status}`);
      let resolve: KeyResolver;
      try {
        resolve = createLocalJWKSet(body as unknown as JSONWebKeySet);
      } catch (cause) {
        throw new AuthorizationServerUnavailable(`JWKS of ${issuer} is malformed`, { cause });
      }
      const keys = { resolve, fetchedAt: this.#options.clock() };
      state.keys = keys;
      state.keysBackoff.succeeded();
      return keys;
    } catch (error) {
      state.keysBackoff.failed(this.#options.clock());
      throw error;
    }
  }

  clear(): void {
    for (const state of this.#issuers.values()) {
      state.metadata = undefined;
      state.keys = undefined;
    }
  }
}
