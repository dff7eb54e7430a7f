import { isIP } from 'node:net';

/**
 * The 8 groups of an IPv6 address, or undefined when it is not one. Accepts `::` shorthand, an embedded IPv4 tail
 * (`::ffff:192.0.2.1`) and a zone (`fe80::1%eth0`, dropped).
 */
function ipv6Groups(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  const plain = zone === -1 ? address : address.slice(0, zone);
  if (isIP(plain) !== 6) return undefined;
  const [head, tail] = plain.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): number[] => {
    if (!part) return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number];
        groups.push((a << 8) | b, (c << 8) | d);
      } else groups.push(Number.parseInt(piece, 16));
    }
    return groups;
  };
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * The part of a client address that a per-address limit counts: an IPv4 address as it is, an IPv6 address cut
 * to its first `ipv6Subnet` bits (one customer usually holds a whole /64, or more, and can rotate through it), an
 * IPv4-mapped IPv6 address as the IPv4 address it maps. `false` keeps full IPv6 addresses.
 */
export function addressBucket(address: string, ipv6Subnet: number | false): string {
  // Every IPv6 address has a colon: an IPv4 address (most requests) skips the parse.
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  if (groups === undefined) return address;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  const bits = ipv6Subnet === false ? 128 : ipv6Subnet;
  const kept = groups.map((g, i) => {
    const left = bits - i * 16;
    if (left >= 16) return g;
    if (left <= 0) return 0;
    return g & ((0xffff << (16 - left)) & 0xffff);
  });
  // Written in full (no `::`), so every address of one prefix gives the same text.
  const text = kept.map((g) => g.toString(16)).join(':');
  return bits === 128 ? text : `${text}/${bits}`;
}
