/** Test helpers: core's shared-Redis helpers, under the names this package's tests use. */
export { RedisServerProcess } from '@mcp-middleware/core/testing';
export {
  connectRedis,
  deleteKeys,
  FAST_FAIL,
  privateRedis,
  REDIS_URL,
  scanKeys,
  uniquePrefix,
  useSharedRedis,
} from '@mcp-middleware/core/testing/redis';
