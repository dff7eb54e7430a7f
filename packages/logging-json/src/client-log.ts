import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { LoggingLevel, ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';

/** The MCP (RFC 5424) log levels, least severe first. */
export const LOGGING_LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

const SEVERITY: ReadonlyMap<string, number> = new Map(LOGGING_LEVELS.map((level, i) => [level, i]));

/**
 * The `_meta` key protocol 2026-07-28 uses for a per-request log level, replacing the session-wide
 * `logging/setLevel`. SDK 1.32 passes it through in the tool's `extra._meta`; SDK v2 lifts it into
 * `ctx.mcpReq.envelope`.
 */
export const LOG_LEVEL_META_KEY = 'io.modelcontextprotocol/logLevel';

/** pino has fewer levels than MCP: each MCP level maps to the nearest one. */
export const PINO_LEVEL = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  alert: 'fatal',
  emergency: 'fatal',
} as const satisfies Record<LoggingLevel, string>;

export function isLoggingLevel(value: unknown): value is LoggingLevel {
  return typeof value === 'string' && SEVERITY.has(value);
}

export type ClientLogDecision =
  | { ok: true }
  | {
      ok: false;
      reason: 'no_logging_capability' | 'below_request_level' | 'below_session_level' | 'not_requested';
    };

export interface ClientLogInputs {
  /** Whether the server declared the `logging` capability (without it the protocol forbids the notification). */
  readonly declared: boolean;
  /** The per-request level from `_meta`, when the client sent one: it wins over the session's level. */
  readonly requestLevel: LoggingLevel | undefined;
  /** Whether the level set with `logging/setLevel` for this session filters this message out (the SDK decides). */
  readonly sessionIgnores: boolean;
  /**
   * A 2026-07-28 request: `logging/setLevel` is gone, so a request without a level in `_meta` gets no log messages.
   * @default false
   */
  readonly perRequestEra?: boolean;
}

/** Whether a message at `level` goes to the client as `notifications/message`. Pure. */
export function decideClientLog(level: LoggingLevel, inputs: ClientLogInputs): ClientLogDecision {
  if (!inputs.declared) return { ok: false, reason: 'no_logging_capability' };
  if (inputs.requestLevel !== undefined) {
    return SEVERITY.get(level)! >= SEVERITY.get(inputs.requestLevel)!
      ? { ok: true }
      : { ok: false, reason: 'below_request_level' };
  }
  if (inputs.perRequestEra) return { ok: false, reason: 'not_requested' };
  return inputs.sessionIgnores ? { ok: false, reason: 'below_session_level' } : { ok: true };
}

/**
 * The SDK server a tool runs in: `McpServer`, or the low-level `Server` (`mcpServer.server`). Only what client
 * logging needs is required, so both fit.
 */
export type LoggingServer = McpServer | LowLevelServer;

export interface LowLevelServer {
  sendLoggingMessage(
    params: { level: LoggingLevel; logger?: string; data: unknown },
    sessionId?: string,
  ): Promise<void>;
}

/**
 * What SDK 1.32's `Server` keeps per session once `logging` is declared: the level each session set. These members
 * are private in the SDK's typings, so they are read defensively; `sessionFilter` returns undefined when the SDK
 * no longer has them, and the caller falls back to the SDK's public `sendLoggingMessage`.
 */
interface SdkServerInternals {
  isMessageIgnored?: unknown;
  getCapabilities?: unknown;
}

export interface SessionFilter {
  readonly declared: boolean;
  ignores(level: LoggingLevel): boolean;
}

export function lowLevelServer(server: LoggingServer): LowLevelServer {
  const inner = (server as { server?: unknown }).server;
  return typeof inner === 'object' && inner !== null && 'sendLoggingMessage' in inner
    ? (inner as LowLevelServer)
    : (server as LowLevelServer);
}

/** The SDK's own per-session level check, keyed the way its `logging/setLevel` handler stores it. */
export function sessionFilter(
  server: LowLevelServer,
  sessionKey: string | undefined,
): SessionFilter | undefined {
  const internals = server as unknown as SdkServerInternals;
  const isMessageIgnored = internals.isMessageIgnored;
  const getCapabilities = internals.getCapabilities;
  if (typeof isMessageIgnored !== 'function' || typeof getCapabilities !== 'function') return undefined;
  const capabilities = getCapabilities.call(server) as ServerCapabilities | undefined;
  return {
    declared: capabilities?.logging !== undefined,
    ignores: (level) => isMessageIgnored.call(server, level, sessionKey) === true,
  };
}
