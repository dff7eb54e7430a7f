import { isLoopbackHostname } from './origin.js';

export interface HttpUrlRules {
  /**
   * `'any'`: `http:` or `https:`. `'loopback'`: `https:`, or `http:` to a loopback host only (`localhost`,
   * `127.0.0.0/8`, `[::1]`): what URLs that carry keys or secrets need, since plain HTTP elsewhere can be read and
   * changed in transit.
   * @default 'loopback'
   */
  http?: 'any' | 'loopback';
  /** Allow a query string. @default true */
  query?: boolean;
}

/**
 * Validates an option that must be an absolute http(s) URL without a fragment, and returns it parsed. Throws a
 * `TypeError` starting with `label` (the factory and option, e.g. `oauth: resource`). The value is echoed only
 * when it is not a URL at all: a URL may carry credentials.
 */
export function httpUrlOption(value: unknown, label: string, rules: HttpUrlRules = {}): URL {
  let url: URL | undefined;
  if (typeof value === 'string' || value instanceof URL) {
    try {
      url = new URL(value);
    } catch {
      url = undefined;
    }
  }
  if (!url) throw new TypeError(`${label} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`${label} must be an http(s) URL, got ${url.protocol}`);
  }
  if (
    (rules.http ?? 'loopback') === 'loopback' &&
    url.protocol === 'http:' &&
    !isLoopbackHostname(url.hostname)
  ) {
    throw new TypeError(
      `${label} must use https (http is accepted for loopback hosts only), got ${url.origin}`,
    );
  }
  if (String(value).includes('#')) throw new TypeError(`${label} must not have a fragment`);
  if (rules.query === false && url.search !== '') throw new TypeError(`${label} must not have a query`);
  return url;
}
