import {
  compareIssuer,
  type Duration,
  discoverAuthorizationServer,
  httpUrlOption,
  metadataUrls,
} from '@mcp-middleware/core';
import type { CheckOutcome, HealthCheck } from './checks.js';

export { metadataUrls };

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

/**
 * Judges one metadata document against the issuer it should describe (RFC 8414 §3.3): the same exact comparison
 * `@mcp-middleware/auth-oauth` makes (core's `compareIssuer`), so `/readyz` passes only when tokens can be checked.
 */
export function judgeMetadata(issuer: string, body: unknown): CheckOutcome {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { status: 'fail', output: 'metadata is not a JSON object' };
  }
  const match = compareIssuer(issuer, (body as Record<string, unknown>)['issuer']);
  if (match === 'trailing-slash') {
    return {
      status: 'fail',
      output: 'metadata names the issuer with a different trailing slash: configure it exactly as published',
    };
  }
  if (match === 'different') return { status: 'fail', output: 'metadata names a different issuer' };
  return { status: 'pass' };
}

/**
 * Readiness of an OAuth 2.1 authorization server: its metadata document is reachable, is JSON, and names the
 * expected issuer. Once a discovery URL has worked, only that one is fetched. Outputs never include URLs or
 * bodies, since probes are unauthenticated.
 */
export function oauthServerCheck(issuer: string | URL, options: OAuthServerCheckOptions = {}): HealthCheck {
  // The rule auth-oauth applies: https, or http to a loopback host; no query or fragment (RFC 8414 §2).
  const issuerUrl = httpUrlOption(issuer, 'oauthServerCheck: issuer', { query: false });
  const expected = typeof issuer === 'string' ? issuer : issuer.href;
  const candidates =
    options.metadataUrl === undefined
      ? metadataUrls(issuerUrl)
      : [httpUrlOption(options.metadataUrl, 'oauthServerCheck: metadataUrl')];
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
      const outcome = await discoverAuthorizationServer(expected, {
        signal,
        fetch: fetchFn,
        urls: found ? [found] : candidates,
      });
      found = outcome.ok ? outcome.url : undefined;
      return outcome.ok ? { status: 'pass' } : { status: 'fail', output: outcome.message };
    },
  };
}
