// Per-key call limits shared by every replica through Redis (rate-limiter-flexible's atomic
// fixed-window counter). When Redis is not configured, or fails, each process counts on its own
// with the same limit: the limit stays enforced per replica and no call fails because of Redis.
import { Code, ConnectError } from "@connectrpc/connect";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { retryInfo } from "./retry-info.js";
import type { SharedRedis } from "./shared-redis.js";

export interface RateLimiterOptions {
  /** Key prefix in Redis, e.g. "items:put-item". */
  name: string;
  /** Calls allowed per key in one window. */
  limit: number;
  /** Window length in whole seconds' worth of ms (the counter expires with the window). */
  windowMs: number;
}

export type RateLimitDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export interface RateLimiter {
  /** Counts one call for `key`; never throws. */
  consume(key: string): Promise<RateLimitDecision>;
}

export function createRateLimiter(redis: SharedRedis | undefined, options: RateLimiterOptions): RateLimiter {
  if (!Number.isInteger(options.limit) || options.limit < 1) throw new RangeError(`rate limiter ${options.name}: limit must be a positive integer, got ${options.limit}`);
  if (options.windowMs < 1000 || options.windowMs % 1000 !== 0) throw new RangeError(`rate limiter ${options.name}: windowMs must be whole seconds, got ${options.windowMs}`);
  const common = { keyPrefix: options.name, points: options.limit, duration: options.windowMs / 1000 };
  const local = new RateLimiterMemory(common);
  const shared: RateLimiterAbstract | undefined =
    redis === undefined ? undefined : new RateLimiterRedis({ ...common, storeClient: redis.client, rejectIfRedisNotReady: true, insuranceLimiter: local });

  return {
    async consume(key) {
      // While Redis is being skipped after failures, count locally without trying it.
      const limiter = shared !== undefined && redis?.usable() ? shared : local;
      try {
        const result = await limiter.consume(key);
        return { allowed: true, remaining: result.remainingPoints };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: rejection.msBeforeNext };
        // Both counters failed (should not happen: the local one has no I/O); never refuse for that.
        return { allowed: true, remaining: 0 };
      }
    },
  };
}

/**
 * ResourceExhausted with when to retry, in the three forms clients read: a google.rpc.RetryInfo
 * detail (gRPC's standard), `grpc-retry-pushback-ms` (gRPC A6; protomesh's retry interceptor
 * honours it when it retries ResourceExhausted) and `retry-after` in seconds (HTTP clients).
 */
export function rateLimitedError(message: string, retryAfterMs: number): ConnectError {
  const waitMs = Math.max(1, Math.ceil(retryAfterMs));
  return new ConnectError(
    message,
    Code.ResourceExhausted,
    { "grpc-retry-pushback-ms": String(waitMs), "retry-after": String(Math.ceil(waitMs / 1000)) },
    [retryInfo(waitMs)],
  );
}
