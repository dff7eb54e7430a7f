export {
  NotificationBus,
  type NotificationBusOptions,
  type ServerEvent,
  type ServerEventBus,
  SHARED_NOTIFICATIONS,
  type SharedNotification,
  type SharedNotificationMethod,
} from './bus.js';
export { EventReplayError, RedisEventStore, type RedisEventStoreOptions } from './event-store.js';
export { RedisCommandError } from './redis-commands.js';
export { type RedisSessions, type RedisSessionsOptions, redisSessions } from './redis-sessions.js';
export {
  RedisSessionStore,
  type RedisSessionStoreOptions,
  type SessionStoreCheck,
  SessionStoreError,
} from './session-store.js';
