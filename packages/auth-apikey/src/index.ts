export {
  type ApiKeyAuth,
  type ApiKeyAuthOptions,
  type ApiKeyCacheOptions,
  type ApiKeyFailure,
  type ApiKeyVerification,
  apiKeyAuth,
  type VerifyContext,
} from './api-key-auth.js';
export {
  type ApiKeyClientReason,
  type ApiKeyFailureReason,
  checkApiKey,
  type ExtractResult,
  extractApiKey,
  type KeyDecision,
  type KeySources,
} from './decision.js';
export { type GenerateApiKeyOptions, type GeneratedApiKey, generateApiKey } from './generate.js';
export { API_KEY_PREFIX, hashApiKeySecret, type ParsedApiKey, parseApiKey } from './key-format.js';
export {
  type ApiKeyRecord,
  type KeyLookupOptions,
  type KeyStore,
  type KeyTime,
  MemoryKeyStore,
  validateApiKeyRecord,
} from './key-store.js';
