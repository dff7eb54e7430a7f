/** Where the DNS-rebinding checks stand. Pure: the request's headers in, a verdict out. */
export interface OriginPolicy {
  /** `Host` values accepted (`host:port` or bare host). Undefined: any host. */
  readonly allowedHosts: readonly string[] | undefined;
  /** `Origin` values accepted besides the request's own origin. */
  readonly allowedOrigins: readonly string[];
  /** Every `Origin` is accepted (CORS explicitly open to any origin); the `Host` check still applies. */
  readonly anyOrigin?: boolean;
}

export type OriginVerdict = { ok: true } | { ok: false; message: string };

/** The hosts a server bound to loopback on `port` is reached by; anything else is a rebinding attempt. */
export function loopbackHosts(port: number): string[] {
  return [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost', '127.0.0.1', '[::1]'];
}

/** `localhost`, `::1` or an address in 127.0.0.0/8 (not a name such as `127.example.com`). */
export function isLoopbackHostname(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '::1' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6 = /^\[[\da-f:.]+\]$/i;

/** A `Host` value without its port: `[::1]:3000` → `[::1]`, `10.0.0.7:3000` → `10.0.0.7`. */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * Whether an unprotected route (health probes, metadata) answers this `Host` even when `allowedHosts` would refuse
 * it: an IP literal or `localhost` (any port), or one of `probeHosts`. DNS rebinding needs a host name the attacker
 * controls, so a request addressed to an IP cannot be one; probes address the server that way (Docker's
 * HEALTHCHECK on 127.0.0.1, Kubernetes on the pod IP).
 */
export function isProbeHost(host: string | null, probeHosts: readonly string[]): boolean {
  if (!host) return false;
  const lower = host.toLowerCase();
  if (probeHosts.includes(lower)) return true;
  const name = hostnameOf(lower);
  return name === 'localhost' || IPV4.test(name) || IPV6.test(name) || probeHosts.includes(name);
}

/**
 * Browsers send `Origin` on cross-origin requests; a page from another origin (or a rebound DNS name) must not
 * reach the server. Requests without `Origin` (non-browser clients) pass the origin check.
 */
export function checkOrigin(policy: OriginPolicy, host: string | null, origin: string | null): OriginVerdict {
  if (policy.allowedHosts && (!host || !policy.allowedHosts.includes(host.toLowerCase()))) {
    return { ok: false, message: `Forbidden: Host header '${host ?? ''}' is not allowed` };
  }
  if (origin === null) return { ok: true };
  if (policy.anyOrigin || policy.allowedOrigins.includes(origin)) return { ok: true };
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return { ok: false, message: 'Forbidden: malformed Origin header' };
  }
  if (
    host &&
    originHost === host.toLowerCase() &&
    (!policy.allowedHosts || policy.allowedHosts.includes(originHost))
  ) {
    return { ok: true };
  }
  return { ok: false, message: `Forbidden: Origin '${origin}' is not allowed` };
}
