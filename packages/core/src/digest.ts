import * as crypto from 'node:crypto';

type Encoding = 'hex' | 'base64' | 'base64url';

// `crypto.hash` (Node 20.12+) hashes in one call without building a Hash object: for a short string, about half
// the cost of `createHash().update().digest()`, which matters where a digest is taken on every request.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: Encoding) => string }).hash;

/** SHA-256 of a string (as UTF-8), in `encoding`: a cache key for a presented secret, say. */
export function sha256(text: string, encoding: Encoding): string {
  return oneShot
    ? oneShot('sha256', text, encoding)
    : crypto.createHash('sha256').update(text, 'utf8').digest(encoding);
}
