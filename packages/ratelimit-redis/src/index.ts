export { addressBucket } from './address.js';
export { RateLimitStoreError, type StoreFailureReason } from './errors.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  clientKey,
  decide,
  type LimitPolicy,
  type PolicyOutcome,
  type RateLimit,
  type RateLimitOptions,
  type RateLimitSubject,
  type RateLimitVerdict,
  rateLimit,
  rateLimitHeaders,
  type StoreFailureEvent,
  type StoreHealthCheck,
} from './rate-limit.js';
export {
  type RedisClientLike,
  RedisStore,
  type RedisStoreOptions,
  type RedisStoreStats,
} from './redis-store.js';
