// @protomesh/messaging/redis-streams: the event bus on Redis Streams, behind the same port (ADR 0055).
export { createRedisStreamsBus, type RedisStreamsBusOptions } from "./redis-streams-bus.js";
