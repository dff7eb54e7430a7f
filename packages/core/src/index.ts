export { DEFAULT_MAX_BODY_SIZE, onBodyEnd, readBounded } from './body.js';
export { callOf, createKey, type Key } from './call.js';
export { resolveClientAddress, type TrustProxy } from './client-address.js';
export { composeHttp, composeRpc, type HttpHandler, type RpcHandler } from './compose.js';
export { type CorsOptions, type CorsPolicy, corsPolicy } from './cors.js';
export { sha256 } from './digest.js';
export { type Duration, toMs } from './duration.js';
export {
  ERROR_CODES,
  type ErrorCodeName,
  errorToResponse,
  jsonRpcErrorResponse,
  MiddlewareError,
  type MiddlewareErrorOptions,
  RpcErrorCode,
} from './errors.js';
export { type EventId, type EventStore, type StreamId, sessionEventStore } from './event-store.js';
export { ExpiringCache } from './expiring-cache.js';
export {
  DEFAULT_MAX_JSON_BYTES,
  fetchJsonObject,
  type JsonFetchOptions,
  type JsonFetchOutcome,
} from './fetch-json.js';
export { type FetchGate, type FetchGateOptions, toFetchGate } from './gate.js';
export {
  type ConnectableServer,
  createMcpHandler,
  createMiddlewareHandler,
  type FetchInfo,
  type McpHandler,
  type McpHandlerOptions,
  type ServerFactory,
  type ServerFactoryContext,
  type SessionOptions,
  type UpstreamFetch,
} from './handler.js';
export {
  type AuthorizationServerMetadata,
  compareIssuer,
  type DiscoveryOptions,
  type DiscoveryOutcome,
  discoverAuthorizationServer,
  type IssuerComparison,
  metadataUrls,
} from './issuer.js';
export { messageCountOf } from './messages.js';
export { type NodeListener, type NodeServer, type ServeOptions, serve, toNodeListener } from './node.js';
export { checkOrigin, isLoopbackHostname, isProbeHost, loopbackHosts, type OriginPolicy } from './origin.js';
export {
  type ProgressExtra,
  type ProgressOptions,
  type ProgressReporter,
  type ProgressUpdate,
  progressReporter,
} from './progress.js';
export type { RateLimitDecision, RateLimitPolicy, RateLimitStore } from './rate-limit.js';
export {
  compileRedactPaths,
  field,
  isSensitiveKey,
  MAX_FIELD,
  type RedactPath,
  redact,
  scrubText,
} from './redact.js';
export {
  isScopeToken,
  policyScopes,
  SCOPE_TOKEN,
  scopeListOption,
  toolScopePolicyOption,
} from './scope-syntax.js';
export {
  checkToolScopes,
  INSUFFICIENT_SCOPE_CODE,
  requiredScopes,
  type ScopeDecision,
  type ToolScopePolicy,
  toolScopes,
} from './scopes.js';
export { describeError, MAX_LOGGED_TEXT, REDACTED, scrubSecrets } from './scrub.js';
export { type WrapServerOptions, wrapServer } from './server.js';
export {
  MAX_SESSION_RECORD_BYTES,
  type SessionRecord,
  type SessionStore,
  type SessionStoreEvents,
} from './session-store.js';
export { TRACE_IDS, type TraceIds } from './telemetry.js';
export { throttled } from './throttle.js';
export { type ErrorReport, MiddlewareTransport, type MiddlewareTransportOptions } from './transport.js';
export type {
  AuthInfo,
  CloseOptions,
  HandlerHost,
  HttpContext,
  HttpNext,
  Middleware,
  Route,
  RouteKind,
  RpcCall,
  RpcErrorObject,
  RpcNext,
  RpcResult,
  ServerNotification,
} from './types.js';
export { type HttpUrlRules, httpUrlOption } from './url-option.js';
