import {
  type AuthorizationServerMetadata,
  discoverAuthorizationServer,
  fetchJsonObject,
} from '@mcp-middleware/core';

/** Thrown inside the verifier when the authorization server cannot answer: the request gets 503, never 401. */
export class AuthorizationServerUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthorizationServerUnavailable';
  }
}

export interface FetchJsonResult {
  readonly status: number;
  /** The parsed body of a 200 answer; undefined otherwise. */
  readonly body: Record<string, unknown> | undefined;
}

/**
 * One call to the authorization server through core's `fetchJsonObject`: bounded by `timeoutMs`, by `signal`
 * (aborted on close) and by 256 KiB, without following redirects. Answers other than 200 come back with their
 * status; no answer, or an unreadable 200, is `AuthorizationServerUnavailable`.
 */
export async function fetchJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<FetchJsonResult> {
  const outcome = await fetchJsonObject(url, init, { timeoutMs, signal });
  if (outcome.ok) return { status: 200, body: outcome.body };
  if (outcome.reason === 'status') return { status: outcome.status, body: undefined };
  throw new AuthorizationServerUnavailable(`${outcome.reason} answer from ${url}`);
}

/** An issuer's metadata through core's discovery (the exact issuer comparison health's check makes too). */
export async function discoverMetadata(
  issuer: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AuthorizationServerMetadata> {
  const outcome = await discoverAuthorizationServer(issuer, { timeoutMs, signal });
  if (!outcome.ok) throw new AuthorizationServerUnavailable(`${issuer}: ${outcome.message}`);
  return outcome.metadata;
}
