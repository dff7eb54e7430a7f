import { type Duration, readBounded } from '@mcp-middleware/core';
import type { CheckOutcome, HealthCheck } from './checks.js';

export interface OAuthServerCheckOptions {
  /** The check's key in reports. @default 'oauth-server' */
  name?: string;
  /**
   * The metadata document to fetch. @default the discovery URLs MCP clients try, in their order: RFC 8414
   * (`/.well-known/oauth-authorization-server`), then OpenID Connect Discovery (`/.well-known/openid-configuration`)
   */
  metadataUrl?: string | URL;
  /** @default the `timeout` given to `health()` */
  timeout?: Duration;
  /** @default true */
  critical?: boolean;
  /** The `fetch` to use (a proxy-aware one, say). @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** Metadata documents are a few KiB; anything far larger is not one, and must not fill memory. */
const MAX_METADATA_BYTES = 256 * 1024;

/**
 * Where an authorization server's metadata may live, in the order the MCP authorization spec has clients try:
 * path insertion for RFC 8414 and OIDC, then OIDC's path appending. An issuer without a path has two.
 */
export function metadataUrls(issuer: URL): URL[] {
  const path = issuer.pathname.replace(/\/+$/, '');
  const at = (p: string) => new URL(p, issuer.origin);
  if (path === '') {
    return [at('/.well-known/oauth-authorization-server'), at('/.well-known/openid-configuration')];
  }
  return [
    at(`/.well-known/oauth-authorization-server${path}`),
    at(`/.well-known/openid-configuration${path}`),
    at(`${path}/.well-known/openid-configuration`),
  ];
}

const withoutTrailingSlash = (s: string) => (s.endsWith('/') ? s.slice(0, -1) : s);

/**
 * Judges one metadata document against the issuer it should describe (RFC 8414 §3.3). One trailing slash is
 * forgiven: `new URL()` adds it to a bare origin, and this is a health check, not token validation.
 */
export function judgeMetadata(issuer: string, body: unknown): CheckOutcome {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 'fail', output: 'metadata is not a JSON object' };
  }
  const claimed = (body as Record<string, unknown>)['issuer'];
  if (typeof claimed !== 'string' || withoutTrailingSlash(claimed) !== withoutTrailingSlash(issuer)) {
    return { status: 'fail', output: 'metadata names a different issuer' };
  }
  return { status: 'pass' };
}

/**
 * Readiness of an OAuth 2.1 authorization server: its metadata document is reachable, is JSON, and names the
 * expected issuer. Once a discovery URL has worked, only that one is fetched. Outputs never include URLs or
 * bodies, since probes are unauthenticated.
 */
export function oauthServerCheck(issuer: string | URL, options: OAuthServerCheckOptions = {}): HealthCheck {
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new TypeError(
      `oauthServerCheck: issuer must be an absolute URL, got ${JSON.stringify(String(issuer))}`,
    );
  }
  if (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') {
    throw new TypeError(`oauthServerCheck: issuer must be an http(s) URL, got ${issuerUrl.protocol}`);
  }
  if (issuerUrl.search || issuerUrl.hash) {
    throw new TypeError('oauthServerCheck: issuer must not have a query or fragment (RFC 8414 §2)');
  }
  const expected = typeof issuer === 'string' ? issuer : issuer.href;
  let candidates: URL[];
  try {
    candidates = options.metadataUrl === undefined ? metadataUrls(issuerUrl) : [new URL(options.metadataUrl)];
  } catch {
    throw new TypeError('oauthServerCheck: metadataUrl must be an absolute URL');
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new TypeError('oauthServerCheck: fetch must be a function');
  // A bound of one: the URL that answered last time.
  let found: URL | undefined;

  return {
    name: options.name ?? 'oauth-server',
    componentType: 'component',
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.critical === undefined ? {} : { critical: options.critical }),
    async check(signal) {
      let lastStatus = 0;
      for (const url of found ? [found] : candidates) {
        const response = await fetchFn(url, { headers: { accept: 'application/json' }, signal });
        if (!response.ok) {
          await response.body?.cancel();
          lastStatus = response.status;
          // 4xx: not here, try the next discovery URL. 5xx: the server is there and failing.
          if (response.status >= 500) break;
          continue;
        }
        const bytes = await readBounded(response, MAX_METADATA_BYTES);
        const text = bytes === undefined ? undefined : new TextDecoder().decode(bytes);
        if (text === undefined) return { status: 'fail', output: 'metadata is larger than 256 KiB' };
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return { status: 'fail', output: 'metadata is not JSON' };
        }
        const outcome = judgeMetadata(expected, body);
        found = outcome.status === 'pass' ? url : undefined;
        return outcome;
      }
      found = undefined;
      return { status: 'fail', output: `metadata not available (HTTP ${lastStatus})` };
    },
  };
}
