import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sha256 } from '@mcp-middleware/core';

/** Every key starts with this, so secret scanners and humans recognise one on sight. */
export const API_KEY_PREFIX = 'mcpk';

/**
 * The public id is 16 lowercase hex characters (64 random bits): unique enough to look keys up by, and free of
 * the `_` that base64url can contain, so the `_` separators stay unambiguous. The secret is 32 random bytes in
 * base64url (43 characters, 256 bits).
 */
const KEY_PATTERN = /^mcpk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const ID_PATTERN = /^[0-9a-f]{16}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;
const SECRET_BYTES = 32;
const ID_BYTES = 8;

/** A key split into its public id and its secret. */
export interface ParsedApiKey {
  readonly id: string;
  readonly secret: string;
}

/**
 * Splits `mcpk_<id>_<secret>` strictly: exact prefix, exact lengths, exact alphabets, and a canonical base64url
 * secret (so two spellings of the same bytes cannot both be accepted). Returns undefined for anything else.
 */
export function parseApiKey(value: string): ParsedApiKey | undefined {
  if (value.length !== 65) return undefined;
  const match = KEY_PATTERN.exec(value);
  if (!match) return undefined;
  const secret = match[2]!;
  if (Buffer.from(secret, 'base64url').toString('base64url') !== secret) return undefined;
  return { id: match[1]!, secret };
}

/** True for a well-formed key id (what `mcpk_<id>_…` carries). */
export function isApiKeyId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** True for a well-formed stored hash: 64 lowercase hex characters (SHA-256). */
export function isSecretHash(value: unknown): value is string {
  return typeof value === 'string' && HASH_PATTERN.test(value);
}

/**
 * SHA-256 of a key's secret, as lowercase hex: what a store keeps instead of the key.
 *
 * A fast hash is the right tool here, unlike for passwords: the secret is 256 random bits, so nobody can guess it
 * from a leaked hash however fast they can hash, and a slow KDF (bcrypt, scrypt) would only add milliseconds to
 * every request and hand attackers a cheap way to burn our CPU.
 */
export function hashApiKeySecret(secret: string): string {
  return sha256(secret, 'hex');
}

// Compared against when the key id is unknown, so that path does the same work as a wrong secret.
const DUMMY_HASH = Buffer.alloc(32);

/**
 * Whether `secret` hashes to `storedHash`, compared in constant time. A malformed stored hash never matches
 * (and costs the same as a mismatch).
 */
export function secretMatches(secret: string, storedHash: string | undefined): boolean {
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  const valid = isSecretHash(storedHash);
  const expected = valid ? Buffer.from(storedHash, 'hex') : DUMMY_HASH;
  return timingSafeEqual(presented, expected) && valid;
}

/** A new random key id. */
export function newApiKeyId(): string {
  return randomBytes(ID_BYTES).toString('hex');
}

/** A new random secret. */
export function newApiKeySecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** Joins an id and a secret into the key a client sends. */
export function formatApiKey(id: string, secret: string): string {
  return `${API_KEY_PREFIX}_${id}_${secret}`;
}
