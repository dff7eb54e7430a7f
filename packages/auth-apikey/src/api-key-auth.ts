import {
  type AuthInfo,
  type Duration,
  ERROR_CODES,
  ExpiringCache,
  errorToResponse,
  type FetchGate,
  jsonRpcErrorResponse,
  type Middleware,
  MiddlewareError,
  sha256,
  type ToolScopePolicy,
  toFetchGate,
  toMs,
  toolScopePolicyOption,
  toolScopes,
} from '@mcp-middleware/core';
import {
  type ApiKeyClientReason,
  type ApiKeyFailureReason,
  authInfoFor,
  checkApiKey,
  clientReasonOf,
  extractApiKey,
  type KeySources,
  MALFORMED_KEY_MESSAGE,
  refusalMessage,
} from './decision.js';
import { parseApiKey } from './key-format.js';
import type { ApiKeyRecord, KeyStore } from './key-store.js';

/** A refused request, as `onFailure` sees it: the key id at most, never the secret. */
export interface ApiKeyFailure {
  /** The precise reason (an unknown id and a wrong secret are told apart here, not to the client). */
  readonly reason: ApiKeyFailureReason;
  /** The public id the caller presented, when the key parsed; undefined for `missing` and `malformed`. */
  readonly keyId: string | undefined;
  /** The client's address, after the handler's `trustProxy` policy. */
  readonly clientAddress: string | undefined;
  /** The request id (echoed to the client as `x-request-id`), to join with other logs. */
  readonly requestId: string | undefined;
}

/** Where a verification came from, for `onFailure`. */
export interface VerifyContext {
  readonly clientAddress?: string;
  readonly requestId?: string;
  /** Abandon the store lookup when this aborts (the client went away). */
  readonly signal?: AbortSignal;
}

export type ApiKeyVerification =
  | { ok: true; authInfo: AuthInfo; record: ApiKeyRecord }
  | { ok: false; reason: ApiKeyFailureReason; clientReason: ApiKeyClientReason; message: string };

export interface ApiKeyAuthOptions {
  /** Where keys are looked up by id: a `MemoryKeyStore` fed from config, or your database. */
  store: KeyStore;
  /** The header that carries the key. @default 'x-api-key' */
  header?: string;
  /** Also accept `Authorization: Bearer <key>`. @default true */
  bearer?: boolean;
  /**
   * Per-tool scopes (core's `ToolScopePolicy`): when set, `tools/list` hides tools the key may not call and
   * `tools/call` of one is refused with error -32003. @default undefined (no per-tool policy)
   */
  toolScopes?: ToolScopePolicy;
  /** How long a store lookup may take; past it the request gets 503. @default '2s' */
  lookupTimeout?: Duration;
  /**
   * Told of every refused request, to log it or feed a limiter. Never receives key material. Errors it throws
   * are ignored. @default undefined
   */
  onFailure?: (failure: ApiKeyFailure) => void | Promise<void>;
  /**
   * Keys verified recently are remembered, so a client that sends the same key on every request costs one store
   * lookup per `ttl`, not one per request. Entries are keyed by the SHA-256 of the presented key (never the key
   * itself), hold only what the store returned, and never outlive the key's own expiry or scheduled revocation.
   * A key revoked or deleted in the store is refused within `ttl`. `false` looks every key up.
   * @default { ttl: '1s', maxKeys: 1000 }
   */
  cache?: ApiKeyCacheOptions | false;
  /**
   * Told when the store failed or timed out (the client got 503). @default prints to stderr
   */
  onStoreError?: (error: unknown, info: { keyId: string; requestId: string | undefined }) => void;
}

export interface ApiKeyCacheOptions {
  /** How long a verified key is trusted without asking the store again: the bound on revocation. @default '1s' */
  ttl?: Duration;
  /** Most keys remembered at once; the least recently used goes first. @default 1000 */
  maxKeys?: number;
}

/** A key the store confirmed: enough to answer again without it. */
interface VerifiedKey {
  readonly record: ApiKeyRecord;
  readonly expiresAt: number | undefined;
}

/** The middleware, plus `verify` for keys that do not arrive over HTTP (stdio: from an environment variable). */
export interface ApiKeyAuth extends Middleware {
  /**
   * Checks a key as the middleware does and reports refusals to `onFailure`. Rejects with a `MiddlewareError`
   * (`unavailable`) when the store fails or times out: that is not the caller's fault.
   */
  verify(key: string | undefined, context?: VerifyContext): Promise<ApiKeyVerification>;
  /** Keys remembered now by the verified-key cache (never more than `cache.maxKeys`). */
  readonly cachedKeys: number;
  /**
   * The same check as a plain Fetch gate, for servers without this project's handler (SDK v2's own
   * `createMiddlewareHandler`): the key's `AuthInfo`, or the 401/503 `Response` to send. See core's `toFetchGate`.
   */
  readonly gate: FetchGate;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

function defaultOnStoreError(error: unknown, info: { keyId: string; requestId: string | undefined }): void {
  console.error(`[auth-apikey] key store lookup failed for key id ${info.keyId}:`, error);
}

/**
 * API key authentication for the MCP endpoint. Keys (`mcpk_<id>_<secret>`) come in the `x-api-key` header or as
 * `Authorization: Bearer`; the id finds the record, the secret is checked against its SHA-256 in constant time,
 * then revocation and expiry. An accepted key becomes the request's `AuthInfo` (clientId = key id, scopes,
 * expiresAt, extra.subject = owner, extra.tenant). Anything else gets 401 with a JSON-RPC error whose
 * `data.reason` says what to fix, never echoing the key.
 */
export function apiKeyAuth(options: ApiKeyAuthOptions): ApiKeyAuth {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('apiKeyAuth: options are required');
  const store = options.store;
  if (typeof store !== 'object' || store === null || typeof store.find !== 'function') {
    throw new TypeError(
      'apiKeyAuth: store must be a KeyStore (an object with find(id)), e.g. new MemoryKeyStore(records)',
    );
  }
  const header = (options.header ?? 'x-api-key').toLowerCase();
  if (!HEADER_NAME.test(header) || header === 'authorization') {
    throw new TypeError(
      `apiKeyAuth: header must be an HTTP header name other than Authorization (use bearer for that), got ${JSON.stringify(options.header)}`,
    );
  }
  const bearer = options.bearer ?? true;
  if (typeof bearer !== 'boolean') throw new TypeError('apiKeyAuth: bearer must be a boolean');
  const lookupMs = toMs(options.lookupTimeout ?? '2s', 'apiKeyAuth: lookupTimeout');
  if (lookupMs <= 0) throw new TypeError('apiKeyAuth: lookupTimeout must be greater than zero');
  // Scopes follow OAuth's scope-token syntax, so API keys and OAuth tokens can share one tool policy.
  const policy =
    options.toolScopes === undefined
      ? undefined
      : toolScopePolicyOption(options.toolScopes, 'apiKeyAuth: toolScopes');
  const onFailure = options.onFailure;
  if (onFailure !== undefined && typeof onFailure !== 'function') {
    throw new TypeError('apiKeyAuth: onFailure must be a function');
  }
  const onStoreError = options.onStoreError ?? defaultOnStoreError;
  if (typeof onStoreError !== 'function') throw new TypeError('apiKeyAuth: onStoreError must be a function');
  const cacheOptions = options.cache ?? {};
  if (cacheOptions !== false && (typeof cacheOptions !== 'object' || cacheOptions === null)) {
    throw new TypeError("apiKeyAuth: cache must be an object like { ttl: '1s', maxKeys: 1000 } or false");
  }
  const cacheTtlMs = cacheOptions === false ? 0 : toMs(cacheOptions.ttl ?? '1s', 'apiKeyAuth: cache.ttl');
  const cacheMax = cacheOptions === false ? 0 : (cacheOptions.maxKeys ?? 1000);
  if (!Number.isInteger(cacheMax) || cacheMax < 0) {
    throw new TypeError(`apiKeyAuth: cache.maxKeys must be a whole number >= 0, got ${cacheMax}`);
  }
  const cache = cacheTtlMs > 0 && cacheMax > 0 ? new ExpiringCache<VerifiedKey>(cacheMax) : undefined;
  const sources: KeySources = { header, bearer };
  const challenge = `ApiKey header="${header}"`;

  const report = (failure: ApiKeyFailure): void => {
    if (!onFailure) return;
    try {
      // A failing or slow reporter must neither fail nor delay the refusal.
      void Promise.resolve(onFailure(failure)).catch(() => {});
    } catch {}
  };

  /** Looks a key up under the timeout; a failure or timeout becomes 503, since the key may well be good. */
  async function lookup(id: string, context: VerifyContext): Promise<ApiKeyRecord | undefined> {
    const controller = new AbortController();
    const outer = context.signal;
    const onAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`key store lookup timed out after ${lookupMs} ms`);
        controller.abort(error);
        reject(error);
      }, lookupMs);
    });
    try {
      return await Promise.race([store.find(id, { signal: controller.signal }), timeout]);
    } catch (error) {
      // A client that went away is not a store failure worth reporting.
      if (!outer?.aborted) {
        try {
          onStoreError(error, { keyId: id, requestId: context.requestId });
        } catch {}
      }
      throw new MiddlewareError(
        'unavailable',
        'Service Unavailable: the API key cannot be checked right now',
        {
          cause: error,
          headers: { 'retry-after': '5' },
        },
      );
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    }
  }

  const refusal = (
    context: VerifyContext,
    reason: ApiKeyFailureReason,
    keyId: string | undefined,
    message: string,
  ): ApiKeyVerification => {
    report({ reason, keyId, clientAddress: context.clientAddress, requestId: context.requestId });
    return { ok: false, reason, clientReason: clientReasonOf(reason), message };
  };

  async function verify(key: string | undefined, context: VerifyContext = {}): Promise<ApiKeyVerification> {
    if (key === undefined || key === '')
      return refusal(context, 'missing', undefined, 'Unauthorized: an API key is required');
    // A cached digest stands for this exact string, which parsed and verified before: a hit skips the parse.
    const cacheKey = cache && sha256(key, 'base64');
    if (cacheKey) {
      const hit = cache!.get(cacheKey, Date.now());
      if (hit) return { ok: true, authInfo: authInfoFor(hit.record, hit.expiresAt), record: hit.record };
    }
    const parsed = parseApiKey(key);
    if (!parsed) return refusal(context, 'malformed', undefined, MALFORMED_KEY_MESSAGE);
    const record = await lookup(parsed.id, context);
    const now = Date.now();
    const decision = checkApiKey(parsed, record, now);
    if (!decision.ok) {
      return refusal(context, decision.reason, parsed.id, refusalMessage(decision.reason));
    }
    if (cacheKey) {
      // Trusted for the ttl, and never past the key's own end (expiry or a scheduled revocation).
      const until = Math.min(now + cacheTtlMs, decision.expiresAt ?? Number.POSITIVE_INFINITY);
      cache!.set(cacheKey, { record: decision.record, expiresAt: decision.expiresAt }, until, now);
    }
    return { ok: true, authInfo: authInfoFor(decision.record, decision.expiresAt), record: decision.record };
  }

  const unauthorized = (reason: ApiKeyClientReason, message: string): Response =>
    jsonRpcErrorResponse(
      ERROR_CODES.unauthorized.status,
      ERROR_CODES.unauthorized.rpc,
      message,
      { 'www-authenticate': challenge, 'cache-control': 'no-store' },
      { reason },
    );

  const middleware: ApiKeyAuth = {
    name: 'auth-apikey',
    verify,
    get cachedKeys() {
      return cache?.size ?? 0;
    },
    gate: (req) => fetchGate(req),
    async http(req, ctx, next) {
      if (!ctx.isProtected) return next();
      const context: VerifyContext = {
        clientAddress: ctx.clientAddress,
        requestId: ctx.requestId,
        // Read only when the store is asked: on Node, a request's signal is built on first use, and costs more
        // than a cached verification.
        get signal() {
          return req.signal;
        },
      };
      const found = extractApiKey(req.headers, sources);
      if (!found.ok) {
        report({
          reason: found.reason,
          keyId: undefined,
          clientAddress: ctx.clientAddress,
          requestId: ctx.requestId,
        });
        return unauthorized(found.reason, found.message);
      }
      let result: ApiKeyVerification;
      try {
        result = await verify(found.key, context);
      } catch (error) {
        if (MiddlewareError.is(error)) return errorToResponse(error);
        throw error;
      }
      if (!result.ok) return unauthorized(result.clientReason, result.message);
      ctx.authInfo = result.authInfo;
      return next();
    },
  };
  const fetchGate: FetchGate = toFetchGate(middleware);
  // Only a middleware with an RPC layer makes the transport decorator do per-call work, so add it only if asked.
  if (policy !== undefined) middleware.rpc = toolScopes(policy).rpc;
  return middleware;
}
