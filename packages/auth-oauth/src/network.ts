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

/** Largest metadata, JWKS or introspection answer read. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/**
 * One request to the authorization server, bounded by `timeoutMs` and by `signal` (aborted on close). Redirects
 * are not followed. Network failures, timeouts and unreadable 200 answers become `AuthorizationServerUnavailable`.
 */
export async function fetchJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<FetchJsonResult> {
  const bounded = AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]);
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'manual', signal: bounded });
  } catch (cause) {
    throw new AuthorizationServerUnavailable(`could not reach ${url}`, { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {});
    return { status: response.status, body: undefined };
  }
  if (Number(response.headers.get('content-length')) > MAX_RESPONSE_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw new AuthorizationServerUnavailable(`answer from ${url} is too large`);
  }
  try {
    const text = await response.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new Error('response too large');
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new Error('not a JSON object');
    return { status: 200, body: body as Record<string, unknown> };
  } catch (cause) {
    throw new AuthorizationServerUnavailable(`unreadable answer from ${url}`, { cause });
  }
}
