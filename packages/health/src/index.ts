export type { CheckOutcome, CheckResult, HealthCheck, HealthStatus } from './checks.js';
export {
  type DrainOptions,
  type HealthMiddleware,
  type HealthOptions,
  type HealthPaths,
  health,
} from './health.js';
export {
  judgeMetadata,
  metadataUrls,
  type OAuthServerCheckOptions,
  oauthServerCheck,
} from './oauth-server-check.js';
export { type PingClient, type RedisCheckOptions, redisCheck } from './redis-check.js';
export {
  decideReadiness,
  HEALTH_MEDIA_TYPE,
  type HealthReport,
  healthResponse,
  type NotReadyReason,
  type ReadinessDecision,
  type ReadinessInput,
} from './report.js';
