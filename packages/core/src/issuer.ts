import { DEFAULT_MAX_JSON_BYTES, fetchJsonObject, type JsonFetchOptions } from './fetch-json.js';

/** The RFC 8414 / OpenID Connect discovery fields the middleware packages read. */
export interface AuthorizationServerMetadata {
  readonly issuer: string;
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
  readonly [key: string]: unknown;
}

/**
 * Where an issuer's metadata may live, in the order the MCP authorization spec has clients try: RFC 8414 with the
 * path inserted, OpenID Connect with the path inserted, OpenID Connect with the path appended. An issuer without
 * a path has two.
 */
export function metadataUrls(issuer: string | URL): URL[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const at = (p: string) => new URL(p, url.origin);
  if (path === '') {
    return [at('/.well-known/oauth-authorization-server'), at('/.well-known/openid-configuration')];
  }
  return [
    at(`/.well-known/oauth-authorization-server${path}`),
    at(`/.well-known/openid-configuration${path}`),
    at(`${path}/.well-known/openid-configuration`),
  ];
}

/**
 * How a claimed issuer (a metadata document's `issuer`, a token's `iss`) compares with the expected one. Issuers
 * are compared as exact strings (RFC 8414 §3.3, RFC 9068 §4, RFC 9207 §2.4): `https://as.example` and
 * `https://as.example/` are different issuers. `'trailing-slash'` names the one difference that is a configuration
 * mistake rather than an attack, so it can be reported as such; it is never a match.
 */
export type IssuerComparison = 'same' | 'trailing-slash' | 'different';

export function compareIssuer(expected: string, claimed: unknown): IssuerComparison {
  if (typeof claimed !== 'string') return 'different';
  if (claimed === expected) return 'same';
  const bare = (s: string) => (s.endsWith('/') ? s.slice(0, -1) : s);
  return bare(claimed) === bare(expected) ? 'trailing-slash' : 'different';
}

export type DiscoveryOutcome =
  | { ok: true; url: URL; metadata: AuthorizationServerMetadata }
  | {
      ok: false;
      /** The HTTP status of the last answer, 0 when none came. */
      status: number;
      reason:
        | 'unreachable'
        | 'timeout'
        | 'status'
        | 'too-large'
        | 'not-json'
        | 'issuer-mismatch'
        | 'issuer-trailing-slash'
        | 'malformed';
      /** Fixed text without URLs or content: safe in an unauthenticated health report. */
      message: string;
    };

export interface DiscoveryOptions extends JsonFetchOptions {
  /** The metadata URLs to try, in order. @default metadataUrls(issuer) */
  urls?: readonly URL[];
}

const URL_FIELDS = ['jwks_uri', 'introspection_endpoint'] as const;

/**
 * Fetches an authorization server's metadata for `issuer`: each discovery URL in turn while they answer 4xx (not
 * here), stopping at any other failure. Each fetch is bounded (`fetchJsonObject`: time, 256 KiB, no redirects).
 * The document must name exactly this issuer (RFC 8414 §3.3), or it is not trusted.
 */
export async function discoverAuthorizationServer(
  issuer: string,
  options: DiscoveryOptions,
): Promise<DiscoveryOutcome> {
  let status = 0;
  for (const url of options.urls ?? metadataUrls(issuer)) {
    const answer = await fetchJsonObject(url, { headers: { accept: 'application/json' } }, options);
    status = answer.status;
    if (!answer.ok) {
      if (answer.reason === 'status' && status >= 400 && status < 500) continue;
      const message = {
        unreachable: 'metadata could not be fetched',
        timeout: 'metadata did not arrive in time',
        status: `metadata not available (HTTP ${status})`,
        'too-large': `metadata is larger than ${Math.floor((options.maxBytes ?? DEFAULT_MAX_JSON_BYTES) / 1024)} KiB`,
        'not-json': 'metadata is not a JSON object',
      }[answer.reason];
      return { ok: false, status, reason: answer.reason, message };
    }
    const match = compareIssuer(issuer, answer.body['issuer']);
    if (match === 'trailing-slash') {
      return {
        ok: false,
        status,
        reason: 'issuer-trailing-slash',
        message:
          'metadata names the issuer with a different trailing slash: configure it exactly as published',
      };
    }
    if (match === 'different') {
      return { ok: false, status, reason: 'issuer-mismatch', message: 'metadata names a different issuer' };
    }
    for (const field of URL_FIELDS) {
      const value = answer.body[field];
      if (value !== undefined && typeof value !== 'string') {
        return { ok: false, status, reason: 'malformed', message: `metadata has a malformed ${field}` };
      }
    }
    return { ok: true, url, metadata: answer.body as unknown as AuthorizationServerMetadata };
  }
  return { ok: false, status, reason: 'status', message: `metadata not available (HTTP ${status})` };
}
