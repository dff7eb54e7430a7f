import { formatApiKey, hashApiKeySecret, newApiKeyId, newApiKeySecret } from './key-format.js';
import { type ApiKeyRecord, type KeyTime, validateApiKeyRecord } from './key-store.js';

export interface GenerateApiKeyOptions {
  /** Who the key belongs to. */
  owner: string;
  /** The owner's tenant, if you have tenants. @default undefined */
  tenant?: string;
  /** What the key may do. @default [] */
  scopes?: readonly string[];
  /** A label for people. @default undefined */
  name?: string;
  /** When the key stops working. @default undefined (never) */
  expiresAt?: KeyTime;
}

export interface GeneratedApiKey {
  /** The key to hand to its owner, once. It is not stored anywhere and cannot be recovered. */
  readonly key: string;
  /** What to store: the id and the hash of the secret, never the key. */
  readonly record: ApiKeyRecord;
}

/**
 * Makes a new key: `key` is shown to its owner once, `record` goes into the key store. Throws a `TypeError`
 * naming the field for bad options.
 */
export function generateApiKey(options: GenerateApiKeyOptions): GeneratedApiKey {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('generateApiKey: options must be an object');
  }
  const id = newApiKeyId();
  const secret = newApiKeySecret();
  const expiresAt =
    options.expiresAt instanceof Date ? options.expiresAt.toISOString() : (options.expiresAt ?? undefined);
  const record: ApiKeyRecord = {
    id,
    secretHash: hashApiKeySecret(secret),
    owner: options.owner,
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    scopes: [...(options.scopes ?? [])],
    ...(options.name === undefined ? {} : { name: options.name }),
    createdAt: new Date().toISOString(),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
  validateApiKeyRecord(record, 'generateApiKey');
  return { key: formatApiKey(id, secret), record };
}
