import { AuthorizationServerUnavailable, fetchJson } from './network.js';

/** The RFC 8414 / OpenID Connect discovery fields this package uses. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
  readonly [key: string]: unknown;
}

/**
 * Where an issuer's metadata may live, in the order the MCP spec asks clients to try: RFC 8414 with the path
 * inserted, OpenID Connect with the path inserted, OpenID Connect with the path appended.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const oauth = `${url.origin}/.well-known/oauth-authorization-server${path}`;
  if (path === '') return [oauth, `${url.origin}/.well-known/openid-configuration`];
  return [
    oauth,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * Fetches an issuer's metadata, trying each well-known location in turn on 404. The document must name the
 * same issuer (RFC 8414 §3.3), or it is not trusted.
 */
export async function discoverMetadata(
  issuer: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AuthorizationServerMetadata> {
  for (const url of metadataUrls(issuer)) {
    const { status, body } = await fetchJson(
      url,
      { headers: { accept: 'application/json' } },
      timeoutMs,
      signal,
    );
    if (status === 404) continue;
    if (!body) throw new AuthorizationServerUnavailable(`metadata of ${issuer} answered ${status}`);
    if (body['issuer'] !== issuer) {
      throw new AuthorizationServerUnavailable(`metadata at ${url} names another issuer`);
    }
    for (const field of ['jwks_uri', 'introspection_endpoint']) {
      if (body[field] !== undefined && typeof body[field] !== 'string') {
        throw new AuthorizationServerUnavailable(`metadata of ${issuer} has a malformed ${field}`);
      }
    }
    return body as unknown as AuthorizationServerMetadata;
  }
  throw new AuthorizationServerUnavailable(`no metadata found for ${issuer}`);
}
