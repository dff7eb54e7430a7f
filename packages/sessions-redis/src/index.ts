export { type RedisSessions, type RedisSessionsOptions, redisSessions } from './redis-sessions.js';
export {
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type SessionStoreCheck,
  SessionStoreError,
} from './session-store.js';
