export { RateLimitStoreError, type StoreFailureReason } from './errors.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export {
  clientKey,
  decide,
  type LimitPolicy,
  type PolicyOutcome,
  type RateLimitOptions,
  type RateLimitSubject,
  type RateLimitVerdict,
  rateLimit,
  rateLimitHeaders,
  type StoreFailureEvent,
} from './rate-limit.js';
export {
  type RedisClientLike,
  RedisStore,
  type RedisStoreOptions,
  type RedisStoreStats,
} from './redis-store.js';
