// @protomesh/cache: Redis as an accelerator that never changes an answer. A shared
// connection with bounded commands, read-through caches invalidated after commits, and call
// limits shared by replicas.
export { connectSharedRedis, type SharedRedis, type SharedRedisOptions } from "./shared-redis.js";
export {
  createReadThroughCache,
  type CacheCodec,
  type CachedEntry,
  type CacheStats,
  type ReadThroughCache,
  type ReadThroughCacheOptions,
} from "./read-through-cache.js";
export { protobufCodec } from "./protobuf-codec.js";
export { createRateLimiter, rateLimitedError, type RateLimitDecision, type RateLimiter, type RateLimiterOptions } from "./rate-limiter.js";
export { RetryInfoSchema, retryDelayMs, retryInfo } from "./retry-info.js";
