export { type RedisSessions, type RedisSessionsOptions, redisSessions } from './redis-sessions.js';
