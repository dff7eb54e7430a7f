/**
 * Which proxies in front of the server to believe about the client's address (`X-Forwarded-For`).
 * - `false`: none; the address is the socket's peer. The safe default.
 * - a number `n`: exactly `n` proxies you run sit in front (the `n`-th address from the right is the client).
 * - a function: called for each hop from the right (the socket peer first); return true while the hop is a
 *   proxy you trust.
 * There is deliberately no `true`: believing every hop lets any client pick its own address (and rate-limit key).
 */
export type TrustProxy = false | number | ((address: string, hop: number) => boolean);

/** The client's address under a `TrustProxy` policy. Pure: the socket peer and the header in, an address out. */
export function resolveClientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | null | undefined,
  trustProxy: TrustProxy,
): string | undefined {
  if (trustProxy === false || !forwardedFor || socketAddress === undefined) return normalize(socketAddress);
  // Right to left: the socket peer, then each address a proxy appended.
  const hops = [
    socketAddress,
    ...forwardedFor
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .reverse(),
  ];
  if (typeof trustProxy === 'number') {
    return normalize(hops[Math.min(trustProxy, hops.length - 1)]);
  }
  let i = 0;
  while (i < hops.length - 1 && trustProxy(normalize(hops[i]) ?? '', i)) i++;
  return normalize(hops[i]);
}

/** `::ffff:1.2.3.4` is how dual-stack sockets show IPv4 peers; one client should have one key. */
function normalize(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function validateTrustProxy(value: unknown): TrustProxy {
  if (value === false || typeof value === 'function') return value as TrustProxy;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  throw new TypeError(
    `trustProxy must be false, a whole number of trusted proxy hops, or a function; got ${String(value)}. ` +
      '(true is not accepted: it would let any client choose its own address.)',
  );
}
