import { callOf } from '@mcp-middleware/core';
import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import { isLoggingLevel, LOG_LEVEL_META_KEY } from './client-log.js';
import type { ToolExtra } from './json-logger.js';

/** The protocol revision from which the log level rides in each request's `_meta` and `logging/setLevel` is gone. */
const PER_REQUEST_ERA = '2026-07-28';

/** The part of SDK v2's handler `ctx` a call logger needs. */
export interface ToolContextV2 {
  readonly sessionId?: string;
  readonly mcpReq: {
    readonly id: string | number;
    readonly _meta?: Record<string, unknown>;
    /** The reserved `io.modelcontextprotocol/*` keys v2 lifts out of `_meta` (2026-07-28 requests). */
    readonly envelope?: Record<string, unknown>;
    notify(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
  };
  readonly http?: { readonly authInfo?: ToolExtra['authInfo']; readonly req?: Request };
}

/** What `forCall` accepts: SDK v1's `extra` or SDK v2's `ctx`. */
export type ToolExtraOrContext = ToolExtra | ToolContextV2;

/** One view of either SDK line's per-request object, plus what decides client logging for it. */
export interface CallSource {
  readonly extra: ToolExtra;
  /** The level the request asked for in its `_meta`, when it sent a valid one. */
  readonly requestLevel: LoggingLevel | undefined;
  /** A 2026-07-28 request: no session level exists, so no level in `_meta` means no client log messages. */
  readonly perRequestEra: boolean;
}

function isV2Context(value: object): value is ToolContextV2 {
  const mcpReq = (value as { mcpReq?: unknown }).mcpReq;
  return typeof mcpReq === 'object' && mcpReq !== null && 'id' in mcpReq;
}

function isModern(version: unknown): boolean {
  return typeof version === 'string' && version >= PER_REQUEST_ERA;
}

/** Reads SDK v1's `extra` or SDK v2's `ctx` the same way; undefined for anything else. */
export function callSourceOf(value: unknown): CallSource | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const protocolVersion = callOf(value)?.protocolVersion;
  if (isV2Context(value)) {
    const { mcpReq } = value;
    const envelope = mcpReq.envelope ?? {};
    const level = envelope[LOG_LEVEL_META_KEY] ?? mcpReq._meta?.[LOG_LEVEL_META_KEY];
    const headers: Record<string, string> = {};
    value.http?.req?.headers.forEach((v, k) => {
      headers[k] = v;
    });
    const extra: ToolExtra = {
      requestId: mcpReq.id,
      sessionId: value.sessionId,
      _meta: mcpReq._meta,
      authInfo: value.http?.authInfo,
      requestInfo: value.http?.req ? { headers } : undefined,
      sendNotification: (n) => mcpReq.notify(n as { method: string; params?: Record<string, unknown> }),
    };
    return {
      extra,
      requestLevel: isLoggingLevel(level) ? level : undefined,
      perRequestEra: isModern(protocolVersion ?? envelope['io.modelcontextprotocol/protocolVersion']),
    };
  }
  const extra = value as ToolExtra;
  if (extra.requestId === undefined) return undefined;
  const level = extra._meta?.[LOG_LEVEL_META_KEY];
  return {
    extra,
    requestLevel: isLoggingLevel(level) ? level : undefined,
    perRequestEra: isModern(protocolVersion),
  };
}
