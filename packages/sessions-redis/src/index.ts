export { EventReplayError, RedisEventStore, type RedisEventStoreOptions } from './event-store.js';
export { RedisCommandError } from './redis-commands.js';
export { type RedisSessions, type RedisSessionsOptions, redisSessions } from './redis-sessions.js';
