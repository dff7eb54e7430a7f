/** What the request carries as credentials, decided from its headers and URL alone. */
export type BearerExtraction =
  | { ok: true; token: string }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'malformed'; description: string };

// RFC 6750 §2.1 b64token, after the scheme and at least one space.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

const malformed = (description: string): BearerExtraction => ({
  ok: false,
  reason: 'malformed',
  description,
});

/**
 * Finds the bearer token of a request. Only the `Authorization` header is accepted: OAuth 2.1 and the MCP spec
 * forbid tokens in the query string, and a request with two `Authorization` headers (joined with `,` by the Fetch
 * API) is ambiguous. Both are malformed requests (400), not invalid tokens.
 */
export function extractBearerToken(headers: Headers, url: URL | string): BearerExtraction {
  // A URL given as a string is parsed only when it has a query string at all.
  const query =
    typeof url !== 'string' ? url.searchParams : url.includes('?') ? new URL(url).searchParams : undefined;
  if (query?.has('access_token')) {
    return malformed('Access tokens must not be sent in the query string');
  }
  const header = headers.get('authorization');
  if (header === null) return { ok: false, reason: 'missing' };
  const value = header.trim();
  if (value.includes(',')) return malformed('The request has more than one Authorization header');
  if (value === '') return malformed('The Authorization header is empty');
  const scheme = value.split(' ', 1)[0]!;
  // Another scheme (Basic, DPoP...) is not a bearer token: answer with the Bearer challenge, without an error.
  if (scheme.toLowerCase() !== 'bearer') return { ok: false, reason: 'missing' };
  const match = BEARER.exec(value);
  if (!match) return malformed('The Authorization header is not a well-formed Bearer credential');
  return { ok: true, token: match[1]! };
}
