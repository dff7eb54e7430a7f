import {
  type AuthInfo,
  type Duration,
  ERROR_CODES,
  type HttpContext,
  type HttpNext,
  jsonRpcErrorResponse,
  type Middleware,
  MiddlewareError,
  messageCountOf,
  type RateLimitDecision,
  type RateLimitPolicy,
  type RateLimitStore,
  type RpcCall,
  type RpcNext,
  type RpcResult,
  throttled,
  toMs,
} from '@mcp-middleware/core';
import { addressBucket } from './address.js';
import { type CompiledPolicy, compilePolicy } from './algorithms.js';
import { policyItem, quotedRateLimitItem, rateLimitItem, retryAfterSeconds, sfString } from './headers.js';
import { MemoryStore } from './memory-store.js';
import { COUNTED_AT_HTTP, countedAtHttp, type HeaderRoute, routeFromHeaders } from './request-headers.js';

/** What a policy's `key` and `cost` functions see about a request or call. */
export interface RateLimitSubject {
  /**
   * The default key: `id:<clientId>` when an auth middleware identified the client, else `ip:<address>` (after
   * the handler's `trustProxy`, IPv6 cut to `ipv6Subnet`), else `anonymous` (stdio, or a runtime that gives no
   * address).
   */
  readonly client: string;
  readonly authInfo: AuthInfo | undefined;
  /** The client's address as the handler resolved it (full IPv6). */
  readonly clientAddress: string | undefined;
  /**
   * `ip:<address>` with IPv6 cut to `ipv6Subnet` bits, whether or not the client is authenticated: the key of a
   * per-address policy (`key: (s) => s.address`). Undefined when there is no address.
   */
  readonly address: string | undefined;
  /** The JSON-RPC method (RPC layer only). */
  readonly method: string | undefined;
  /** The tool's name for `tools/call` (RPC layer only). */
  readonly toolName: string | undefined;
  /** The HTTP request's context, when there is one. */
  readonly http: HttpContext | undefined;
}

/** One limit. Several may apply to the same request; each counts on its own. */
export interface LimitPolicy {
  /** Names the policy in keys, headers and errors: letters, digits, `_`, `.`, `-`. */
  name: string;
  /** Units (requests, or cost) allowed per window. */
  limit: number;
  /** The window: `'1m'`, `'1h'`, or milliseconds. */
  window: Duration;
  /** `'gcra'` spreads the limit evenly with bursts up to `burst`; `'fixed-window'` counts per clock-aligned window. @default 'gcra' */
  algorithm?: 'gcra' | 'fixed-window';
  /** GCRA only: how many units may arrive at once. @default limit */
  burst?: number;
  /** Only these JSON-RPC methods count, e.g. `['tools/call', 'resources/read']`. @default every method */
  methods?: readonly string[];
  /** Only calls of these tools count. @default every tool */
  tools?: readonly string[];
  /**
   * Where the policy is checked. `'http'`: every HTTP request to the MCP endpoint, refused with 429 and headers.
   * `'rpc'`: every JSON-RPC request, refused in-band with error -32029 (also over stdio, where `'http'` policies
   * are checked per request too).
   * @default 'rpc' when `methods` or `tools` is set, else 'http'
   */
  layer?: 'http' | 'rpc';
  /**
   * What the count is per. Return undefined to leave a request out of this policy. Per tenant:
   * `(s) => s.authInfo?.extra?.tenant as string | undefined`; per client and tool: `(s) => `${s.client}:${s.toolName}``.
   * @default (s) => s.client
   */
  key?: (subject: RateLimitSubject) => string | undefined;
  /** Units one request uses, a whole number from 1 to the burst (GCRA) or limit (fixed window). @default 1 */
  cost?: number | ((subject: RateLimitSubject) => number);
}

/** What happened when the store could not decide. */
export interface StoreFailureEvent {
  /** The policy being checked. */
  readonly policy: string;
  /** What the middleware did about it, per `onStoreFailure`. */
  readonly outcome: 'open' | 'closed' | 'local';
}

export interface RateLimitOptions {
  /** The limits, checked together; a request refused by any of them is refused. */
  policies: readonly LimitPolicy[];
  /** Where counts live. Pass a `RedisStore` to share limits across instances. @default new MemoryStore() */
  store?: RateLimitStore;
  /**
   * When the store fails or times out: `'open'` admits the request, `'closed'` answers 503 (RPC: -32002),
   * `'local'` decides with a bounded in-process store (limits then hold per instance until the store is back).
   * @default 'open'
   */
  onStoreFailure?: 'open' | 'closed' | 'local';
  /** The store used under `onStoreFailure: 'local'`. @default new MemoryStore({ maxKeys: 10000 }) */
  localStore?: RateLimitStore;
  /**
   * Called on every store failure, to log and count them. It runs per request while the store is down: wrap a
   * logger in core's `throttled()` to log once per interval with a count. @default a one-line warning on stderr,
   * at most every 10 s, with how many failures it held back
   */
  onStoreError?: (error: unknown, event: StoreFailureEvent) => void;
  /**
   * How much of an IPv6 address counts as one client for address keys (`ip:…` and `subject.address`): a customer
   * usually gets a whole /64 (or /56) and can rotate through it. `false` uses full addresses.
   * @default 64
   */
  ipv6Subnet?: number | false;
}

/** What `health()` from `@mcp-middleware/health` accepts as a check (typed here so no import is needed). */
export interface StoreHealthCheck {
  readonly name: string;
  readonly componentType: 'datastore';
  /** False unless `onStoreFailure` is `'closed'`: a failure this limiter tolerates does not fail readiness. */
  readonly critical: boolean;
  check(): Promise<{ status: 'warn' | 'fail'; output: string } | undefined>;
}

/** The middleware, plus a readiness check of its store that knows the failure policy. */
export interface RateLimit extends Middleware {
  /**
   * A readiness check for `health()`: pings the store (a `RedisStore`; a store without `ping()` always passes).
   * While the store is unreachable it reports `fail` under `onStoreFailure: 'closed'` (requests get 503, so the
   * instance is not ready) and `warn` under `'open'` and `'local'` (requests are served, so readiness must not
   * take every replica out at once).
   */
  storeCheck(options?: { name?: string }): StoreHealthCheck;
}

interface Policy {
  readonly name: string;
  readonly store: RateLimitPolicy;
  readonly compiled: CompiledPolicy;
  readonly layer: 'http' | 'rpc';
  readonly methods: ReadonlySet<string> | undefined;
  readonly tools: ReadonlySet<string> | undefined;
  /** Undefined for the default key, the client: then no subject is built for it. */
  readonly key: ((subject: RateLimitSubject) => string | undefined) | undefined;
  readonly cost: number | ((subject: RateLimitSubject) => number);
  /** Its `RateLimit-Policy` item, formatted once. */
  readonly header: string;
  /** Its name as a structured-field string, for its `RateLimit` items. */
  readonly quotedName: string;
  /** `<name>:`, what its store keys start with. */
  readonly keyPrefix: string;
}

/** One policy's answer for one request; `decision` is undefined when the store failed and the policy let it pass. */
export interface PolicyOutcome {
  readonly policy: string;
  readonly header: string;
  readonly decision: RateLimitDecision | undefined;
}

export type RateLimitVerdict =
  | { ok: true; outcomes: readonly PolicyOutcome[] }
  | { ok: false; policy: string; decision: RateLimitDecision; outcomes: readonly PolicyOutcome[] };

/**
 * Combines the policies' answers. Pure. When several refuse, the one with the longest wait is reported: the
 * client cannot succeed before then.
 */
export function decide(outcomes: readonly PolicyOutcome[]): RateLimitVerdict {
  let refused: { policy: string; decision: RateLimitDecision } | undefined;
  for (const o of outcomes) {
    if (
      o.decision &&
      !o.decision.allowed &&
      o.decision.retryAfterMs >= (refused?.decision.retryAfterMs ?? -1)
    ) {
      refused = { policy: o.policy, decision: o.decision };
    }
  }
  return refused ? { ok: false, ...refused, outcomes } : { ok: true, outcomes };
}

/** The IETF `RateLimit-Policy` and `RateLimit` fields for a verdict, and `Retry-After` when refused. */
export function rateLimitHeaders(verdict: RateLimitVerdict): Record<string, string> {
  const counted = verdict.outcomes.filter((o) => o.decision !== undefined);
  const headers: Record<string, string> = {};
  if (counted.length > 0) {
    headers['ratelimit-policy'] = counted.map((o) => o.header).join(', ');
    headers['ratelimit'] = counted.map((o) => rateLimitItem(o.policy, o.decision!)).join(', ');
  }
  if (!verdict.ok) headers['retry-after'] = String(retryAfterSeconds(verdict.decision.retryAfterMs));
  return headers;
}

const ANONYMOUS = 'anonymous';

/** The default key of a client: its id when authenticated, else its address (IPv6 cut to `ipv6Subnet` bits). */
export function clientKey(
  authInfo: AuthInfo | undefined,
  clientAddress: string | undefined,
  ipv6Subnet: number | false = 64,
): string {
  if (authInfo?.clientId) return `id:${authInfo.clientId}`;
  if (clientAddress) return `ip:${addressBucket(clientAddress, ipv6Subnet)}`;
  return ANONYMOUS;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function compile(options: LimitPolicy, index: number, seen: Set<string>): Policy {
  const where = `rateLimit: policies[${index}]`;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where} must be an object`);
  const { name } = options;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(
      `${where}.name must be 1-64 letters, digits, '_', '.' or '-', got ${JSON.stringify(name)}`,
    );
  }
  if (seen.has(name)) throw new TypeError(`${where}.name '${name}' is used by another policy`);
  seen.add(name);
  const windowMs = toMs(options.window, `${where}.window`);
  const store: RateLimitPolicy = {
    limit: options.limit,
    windowMs,
    algorithm: options.algorithm ?? 'gcra',
    ...(options.burst === undefined ? {} : { burst: options.burst }),
  };
  let compiled: CompiledPolicy;
  try {
    compiled = compilePolicy(store);
  } catch (error) {
    throw new TypeError(`${where} (${name}): ${(error as Error).message.replace(/^policy\./, '')}`);
  }
  for (const list of ['methods', 'tools'] as const) {
    const value = options[list];
    if (value !== undefined && (!Array.isArray(value) || !value.every((v) => typeof v === 'string'))) {
      throw new TypeError(`${where}.${list} must be an array of strings`);
    }
  }
  const filtered = options.methods !== undefined || options.tools !== undefined;
  const layer = options.layer ?? (filtered ? 'rpc' : 'http');
  if (layer !== 'http' && layer !== 'rpc') {
    throw new TypeError(`${where}.layer must be 'http' or 'rpc', got ${String(layer)}`);
  }
  if (layer === 'http' && filtered) {
    throw new TypeError(
      `${where}: methods and tools need layer 'rpc' (the HTTP layer counts whole requests)`,
    );
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new TypeError(`${where}.key must be a function`);
  }
  const cost = options.cost ?? 1;
  if (typeof cost === 'number') checkPolicyCost(cost, compiled, `${where}.cost`);
  else if (typeof cost !== 'function') throw new TypeError(`${where}.cost must be a number or a function`);
  return {
    name,
    store,
    compiled,
    layer,
    methods: options.methods ? new Set(options.methods) : undefined,
    tools: options.tools ? new Set(options.tools) : undefined,
    key: options.key,
    cost,
    header: policyItem(name, compiled.limit, windowMs),
    quotedName: sfString(name),
    keyPrefix: `${name}:`,
  };
}

function checkPolicyCost(cost: number, compiled: CompiledPolicy, what: string): number {
  if (!Number.isInteger(cost) || cost < 1 || cost > compiled.capacity) {
    throw new TypeError(`${what} must be a whole number from 1 to ${compiled.capacity}, got ${cost}`);
  }
  return cost;
}

function applies(policy: Policy, method: string | undefined, toolName: string | undefined): boolean {
  if (policy.tools && !(method === 'tools/call' && toolName !== undefined && policy.tools.has(toolName))) {
    return false;
  }
  if (policy.methods && !(method !== undefined && policy.methods.has(method))) return false;
  return true;
}

function refusal(policy: string, decision: RateLimitDecision) {
  return {
    message: `Rate limit exceeded (policy '${policy}'): retry in ${retryAfterSeconds(decision.retryAfterMs)} s`,
    data: {
      retryAfterMs: decision.retryAfterMs,
      limit: decision.limit,
      remaining: decision.remaining,
      resetMs: decision.resetMs,
      policy,
    },
  };
}

/** Policies checked together. */
interface PolicySet {
  readonly list: readonly Policy[];
  /** Whether a key or cost function needs the subject (the default key needs only the client). */
  readonly needsSubject: boolean;
}

function policySet(list: readonly Policy[]): PolicySet {
  return { list, needsSubject: list.some((p) => p.key !== undefined || typeof p.cost === 'function') };
}

/** A policy's decision for a request; undefined when it did not count (not applicable, no key, store failed open). */
type Count = RateLimitDecision | undefined;

/** The counts of a set's policies, in order. A set of one gives its lone count: no array per request. */
type Counts = Count | readonly Count[];

function countAt(counts: Counts, i: number): Count {
  return Array.isArray(counts) ? (counts as readonly Count[])[i] : (counts as Count);
}

/** The index of the refusal with the longest wait (the last of equal waits, as `decide` picks), or -1. */
function refusedAt(list: readonly Policy[], counts: Counts): number {
  let refused = -1;
  let wait = -1;
  for (let i = 0; i < list.length; i++) {
    const decision = countAt(counts, i);
    if (decision !== undefined && !decision.allowed && decision.retryAfterMs >= wait) {
      refused = i;
      wait = decision.retryAfterMs;
    }
  }
  return refused;
}

/** `RateLimit-Policy`: the items of the policies that counted, in order; undefined when none did. */
function policyField(list: readonly Policy[], counts: Counts): string | undefined {
  let field: string | undefined;
  for (let i = 0; i < list.length; i++) {
    if (countAt(counts, i) === undefined) continue;
    // With one policy counted (the usual case) this is its item as formatted once: no string built.
    field = field === undefined ? list[i]!.header : `${field}, ${list[i]!.header}`;
  }
  return field;
}

/** `RateLimit`: what is left of each policy that counted, in order. */
function limitField(list: readonly Policy[], counts: Counts): string {
  let field: string | undefined;
  for (let i = 0; i < list.length; i++) {
    const decision = countAt(counts, i);
    if (decision === undefined) continue;
    const item = quotedRateLimitItem(list[i]!.quotedName, decision);
    field = field === undefined ? item : `${field}, ${item}`;
  }
  return field ?? '';
}

/**
 * The store when it is this package's `MemoryStore` with its own `consume` (not a subclass's): it can answer
 * synchronously, with no promise per policy and no await per request.
 */
function syncStore(store: RateLimitStore): MemoryStore | undefined {
  return store instanceof MemoryStore && store.consume === MemoryStore.prototype.consume ? store : undefined;
}

/**
 * Rate limits for an MCP server: per client, per tool or method, per tenant, with costs. HTTP-layer policies
 * answer 429 with `Retry-After` and the IETF `RateLimit`/`RateLimit-Policy` fields; RPC-layer policies (and every
 * policy over stdio) answer a JSON-RPC error -32029 with the wait in `data`. Place it after auth middleware, so
 * that limits are per client id rather than per address.
 */
export function rateLimit(options: RateLimitOptions): RateLimit {
  if (typeof options !== 'object' || options === null) throw new TypeError('rateLimit: options are required');
  if (!Array.isArray(options.policies) || options.policies.length === 0) {
    throw new TypeError('rateLimit: policies must be a non-empty array');
  }
  const seen = new Set<string>();
  const policies = options.policies.map((p, i) => compile(p, i, seen));
  const ownStore = options.store === undefined;
  const store = options.store ?? new MemoryStore();
  if (typeof store.consume !== 'function') throw new TypeError('rateLimit: store must implement consume()');
  const onStoreFailure = options.onStoreFailure ?? 'open';
  if (onStoreFailure !== 'open' && onStoreFailure !== 'closed' && onStoreFailure !== 'local') {
    throw new TypeError(
      `rateLimit: onStoreFailure must be 'open', 'closed' or 'local', got ${String(onStoreFailure)}`,
    );
  }
  const ownLocalStore = onStoreFailure === 'local' && options.localStore === undefined;
  const localStore = options.localStore ?? (ownLocalStore ? new MemoryStore({ maxKeys: 10_000 }) : undefined);
  const ipv6Subnet = options.ipv6Subnet ?? 64;
  if (ipv6Subnet !== false && !(Number.isInteger(ipv6Subnet) && ipv6Subnet >= 1 && ipv6Subnet <= 128)) {
    throw new TypeError(
      `rateLimit: ipv6Subnet must be a whole number from 1 to 128 or false, got ${ipv6Subnet}`,
    );
  }
  const addressOf = (clientAddress: string | undefined) =>
    clientAddress ? `ip:${addressBucket(clientAddress, ipv6Subnet)}` : undefined;
  const onStoreError =
    options.onStoreError ??
    throttled('10s', (error: unknown, event: StoreFailureEvent, suppressed: number) => {
      const reason = error instanceof Error ? error.message : String(error);
      const more = suppressed > 0 ? ` (${suppressed} more since the last warning)` : '';
      console.warn(
        `[ratelimit] store failed for policy '${event.policy}' (${reason}); failing ${event.outcome}${more}`,
      );
    });
  const memory = syncStore(store);
  const allPolicies = policySet(policies);
  const httpPolicies = policySet(policies.filter((p) => p.layer === 'http'));
  const rpcPolicies = policySet(policies.filter((p) => p.layer === 'rpc'));

  /** The store's decision: synchronous from the memory store, else a promise. */
  function consume(policy: Policy, key: string, cost: number): Count | Promise<Count> {
    if (memory === undefined) return consumeAsync(policy, key, cost);
    try {
      return memory.consumeSync(key, policy.store, cost);
    } catch (error) {
      return storeFailed(error, policy, key, cost);
    }
  }

  async function consumeAsync(policy: Policy, key: string, cost: number): Promise<Count> {
    try {
      return await store.consume(key, policy.store, cost);
    } catch (error) {
      return storeFailed(error, policy, key, cost);
    }
  }

  /** Reports a store failure and answers as `onStoreFailure` says: undefined (open), the local store, or 503. */
  async function storeFailed(error: unknown, policy: Policy, key: string, cost: number): Promise<Count> {
    try {
      onStoreError(error, { policy: policy.name, outcome: onStoreFailure });
    } catch {
      // A failing hook must not fail the request.
    }
    if (onStoreFailure === 'open') return undefined;
    if (onStoreFailure === 'local') return localStore!.consume(key, policy.store, cost);
    throw new MiddlewareError('unavailable', 'Rate limiting is unavailable; try again shortly', {
      cause: error,
      headers: { 'retry-after': '1' },
    });
  }

  /** One policy's count of a request. `subject` is there when the policy's set needs it. */
  function countOne(
    policy: Policy,
    client: string,
    subject: RateLimitSubject | undefined,
    method: string | undefined,
    toolName: string | undefined,
    messages: number,
  ): Count | Promise<Count> {
    if (!applies(policy, method, toolName)) return undefined;
    const key = policy.key === undefined ? client : policy.key(subject!);
    if (key === undefined) return undefined;
    const cost =
      typeof policy.cost === 'number'
        ? policy.cost
        : checkPolicyCost(policy.cost(subject!), policy.compiled, `rateLimit: cost of '${policy.name}'`);
    // A JSON-RPC batch is charged per message, capped at the policy's capacity.
    const charged = Math.min(cost * messages, policy.compiled.capacity);
    return consume(policy, `${policy.keyPrefix}${key}`, charged);
  }

  /**
   * Counts a request against every policy of `set`, in order: synchronously with the memory store, else a
   * promise. The subject (an object the key and cost functions see) is built only when one of them is there.
   */
  function count(
    set: PolicySet,
    authInfo: AuthInfo | undefined,
    clientAddress: string | undefined,
    method: string | undefined,
    toolName: string | undefined,
    http: HttpContext | undefined,
    messages: number,
  ): Counts | Promise<Counts> {
    const client = clientKey(authInfo, clientAddress, ipv6Subnet);
    const subject: RateLimitSubject | undefined = set.needsSubject
      ? { client, authInfo, clientAddress, address: addressOf(clientAddress), method, toolName, http }
      : undefined;
    const { list } = set;
    if (list.length === 1) return countOne(list[0]!, client, subject, method, toolName, messages);
    const counts: Array<Count | Promise<Count>> = [];
    let pending = false;
    for (const policy of list) {
      let counted: Count | Promise<Count>;
      try {
        counted = countOne(policy, client, subject, method, toolName, messages);
      } catch (error) {
        // As when each policy counted in a promise of its own: the others still count, and the request fails.
        counted = Promise.reject(error);
      }
      if (counted instanceof Promise) pending = true;
      counts.push(counted);
    }
    return pending ? Promise.all(counts) : (counts as Count[]);
  }

  /** The HTTP layer for a request that counts: 429 with the limits' headers, or on to `next` with them set. */
  async function limitRequest(
    set: PolicySet,
    route: HeaderRoute | undefined,
    ctx: HttpContext,
    next: HttpNext,
  ): Promise<Response> {
    // 2026-07-28 has no batches: one request is one message, and its body stays unread.
    const messages = route ? 1 : await messageCountOf(ctx);
    const { authInfo, clientAddress } = ctx;
    const counting = count(set, authInfo, clientAddress, route?.method, route?.toolName, ctx, messages);
    const counts = counting instanceof Promise ? await counting : counting;
    const policyValue = policyField(set.list, counts);
    const refused = refusedAt(set.list, counts);
    if (refused !== -1) {
      const decision = countAt(counts, refused)!;
      const { message, data } = refusal(set.list[refused]!.name, decision);
      const { status, rpc } = ERROR_CODES.rate_limited;
      const headers = {
        'ratelimit-policy': policyValue!,
        ratelimit: limitField(set.list, counts),
        'retry-after': String(retryAfterSeconds(decision.retryAfterMs)),
      };
      return jsonRpcErrorResponse(status, rpc, message, headers, data);
    }
    if (policyValue !== undefined) {
      ctx.setResponseHeader('ratelimit-policy', policyValue);
      ctx.setResponseHeader('ratelimit', limitField(set.list, counts));
    }
    return next();
  }

  /** The RPC layer for a call that counts: error -32029, or on to `next`. */
  async function limitCall(set: PolicySet, call: RpcCall, next: RpcNext): Promise<RpcResult> {
    const { http } = call;
    const counting = count(set, call.authInfo, http?.clientAddress, call.method, call.toolName, http, 1);
    const counts = counting instanceof Promise ? await counting : counting;
    const refused = refusedAt(set.list, counts);
    if (refused !== -1) {
      const { message, data } = refusal(set.list[refused]!.name, countAt(counts, refused)!);
      return { error: { code: ERROR_CODES.rate_limited.rpc, message, data } };
    }
    return next();
  }

  const storeOutput = {
    open: 'the store is unreachable: requests are admitted without limits until it is back',
    local: 'the store is unreachable: limits hold per instance until it is back',
    closed: 'the store is unreachable: limited requests get 503 until it is back',
  } as const;

  return {
    name: 'rate-limit',

    storeCheck(checkOptions = {}) {
      const name = checkOptions.name ?? 'ratelimit-store';
      if (typeof name !== 'string' || name === '') {
        throw new TypeError('rateLimit: storeCheck name must be a non-empty string');
      }
      const critical = onStoreFailure === 'closed';
      const ping = (store as { ping?: () => Promise<unknown> }).ping;
      return {
        name,
        componentType: 'datastore',
        critical,
        async check() {
          if (typeof ping !== 'function') return undefined;
          try {
            await ping.call(store);
            return undefined;
          } catch {
            return { status: critical ? 'fail' : 'warn', output: storeOutput[onStoreFailure] };
          }
        },
      };
    },

    // The hooks are not async functions: a request with nothing to count is handed on with no promise and no
    // microtask of this middleware's own.
    http(req, ctx, next) {
      if (!ctx.isProtected) return next();
      // A 2026-07-28 request names its method and tool in headers: its RPC policies count here, with no body read.
      const route = rpcPolicies.list.length > 0 ? routeFromHeaders(req.headers) : undefined;
      if (httpPolicies.list.length === 0 && route === undefined) return next();
      if (route) ctx.set(COUNTED_AT_HTTP, route);
      return limitRequest(route ? allPolicies : httpPolicies, route, ctx, next);
    },

    rpc(call: RpcCall, next): Promise<RpcResult> {
      // Over HTTP the HTTP layer already counted the request; elsewhere (stdio) every policy counts per call.
      const set = call.http ? rpcPolicies : allPolicies;
      if (set.list.length === 0 || countedAtHttp(call.http, call.method, call.toolName)) return next();
      return limitCall(set, call, next);
    },

    async close() {
      // Stores passed in stay the caller's; close what was made here.
      if (ownStore) await store.close?.();
      if (ownLocalStore) await localStore?.close?.();
    },
  };
}
