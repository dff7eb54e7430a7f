/**
 * The full stack the conformance comparison runs through: every mcp-middleware package, in the order the demo
 * uses (outermost first). The suite sends no credentials, so for its runs auth is off; tests turn API keys on.
 */
import { apiKeyAuth, type KeyStore } from '@mcp-middleware/auth-apikey';
import { type Middleware, type ToolScopePolicy, toolScopes } from '@mcp-middleware/core';
import { type ErrorsMiddleware, errors } from '@mcp-middleware/errors';
import { health } from '@mcp-middleware/health';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { type LimitPolicy, MemoryStore, rateLimit } from '@mcp-middleware/ratelimit-redis';

export interface StackOptions {
  /**
   * API keys to require (`x-api-key` or bearer). Unset: no auth layer, which is how the conformance suite runs
   * (it cannot send a key). @default undefined
   */
  keys?: KeyStore;
  /** Scopes every tool call needs; applies with `keys` only (without auth there are no scopes to check). @default [] */
  toolScopes?: readonly string[];
  /** Signals that drain the server (health). @default ['SIGTERM', 'SIGINT'] */
  signals?: NodeJS.Signals[] | false;
  /** Least severe JSON log line written to stderr. @default 'info' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

export interface Stack {
  /** Outermost first, for core's handler. */
  readonly middleware: readonly Middleware[];
  /** The errors middleware; its `tool()` wraps every tool handler. */
  readonly errors: ErrorsMiddleware;
}

/** Limits far above what one suite run sends (a few hundred requests), so they count but never refuse. */
function limitPolicies(): LimitPolicy[] {
  return [
    { name: 'per-client', limit: 100_000, window: '1m' },
    { name: 'tool-calls', limit: 10_000, window: '1m', methods: ['tools/call'] },
  ];
}

export function conformanceStack(options: StackOptions = {}): Stack {
  const log = jsonLogger({ level: options.logLevel ?? 'info' });
  const errs = errors({
    timeout: '30s',
    // Sampling and elicitation wait for the client; give them the SDK's own request timeout.
    toolTimeouts: {
      test_sampling: '60s',
      test_elicitation: '60s',
      test_elicitation_sep1034_defaults: '60s',
      test_elicitation_sep1330_enums: '60s',
    },
    onError: (error, report) =>
      log.logger.error({ err: error, errorId: report.errorId, tool: report.toolName }, 'masked error'),
  });
  const probes = health({
    version: '0.1.0',
    signals: options.signals ?? ['SIGTERM', 'SIGINT'],
    drainTimeout: '5s',
  });
  const limits = rateLimit({
    policies: limitPolicies(),
    store: new MemoryStore({ maxKeys: 10_000 }),
  });
  const policy: ToolScopePolicy = { default: options.keys ? [...(options.toolScopes ?? [])] : [] };
  const auth = options.keys
    ? [apiKeyAuth({ store: options.keys, toolScopes: policy })]
    : // No identity, so core's scope policy stands in for auth's: it runs on every call and requires nothing.
      [toolScopes(policy)];
  return { middleware: [log, probes, ...auth, limits, errs], errors: errs };
}
