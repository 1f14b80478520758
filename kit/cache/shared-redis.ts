// One Redis connection per process, used only as an accelerator: every command is bounded in
// time, nothing waits in an offline queue, and after a few failures Redis is skipped for a while,
// so a dead or hung Redis costs callers at most one command timeout per breaker opening.
import { CircuitBreaker } from "@protomesh/clients";
import { Redis } from "ioredis";

export interface SharedRedisOptions {
  /** Longest wait for one command (or pipeline) before it counts as failed. Default 100 ms. */
  commandTimeoutMs?: number;
  /** Longest wait for a TCP connection. Default 1000 ms. */
  connectTimeoutMs?: number;
  /** Consecutive failures after which Redis is skipped. Default 3. */
  failureThreshold?: number;
  /** How long Redis is skipped after that; grows with back-to-back openings up to 10 s. Default 1000 ms. */
  skipMs?: number;
  /** Connection and command failures, for logs: the first, then at most one per 10 s with how many were not reported. */
  onError?: (error: Error, unreported: number) => void;
}

/**
 * What caches and counters run their commands through. `run` never throws: a failure, a timeout
 * or a skipped call resolves to `undefined`, and the caller goes to its source of truth.
 */
export interface SharedRedis {
  readonly client: Redis;
  run<T>(command: (client: Redis) => Promise<T>): Promise<T | undefined>;
  /** True while commands are sent (connected and not skipped after failures). */
  usable(): boolean;
  close(): Promise<void>;
}

export function connectSharedRedis(url: string, options: SharedRedisOptions = {}): SharedRedis {
  const onError = throttled(options.onError ?? (() => undefined), 10_000);
  const client = new Redis(url, {
    commandTimeout: options.commandTimeoutMs ?? 100,
    connectTimeout: options.connectTimeoutMs ?? 1_000,
    // Fail at once while disconnected instead of queueing: callers have a database to go to.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
  });
  client.on("error", onError);
  const breaker = new CircuitBreaker({ failureThreshold: options.failureThreshold ?? 3, openMs: options.skipMs ?? 1_000, maxOpenMs: 10_000 });
  return {
    client,
    async run(command) {
      if (client.status !== "ready" || breaker.acquire() === "reject") return undefined;
      try {
        const result = await command(client);
        breaker.onSuccess();
        return result;
      } catch (error) {
        breaker.onFailure();
        onError(error instanceof Error ? error : new Error(String(error)));
        return undefined;
      }
    },
    usable: () => client.status === "ready" && breaker.state().kind !== "open",
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** A dead Redis fails every command and every reconnect: report the first and then a count. */
function throttled(report: (error: Error, unreported: number) => void, intervalMs: number): (error: Error) => void {
  let lastReportAt = -Infinity;
  let unreported = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastReportAt < intervalMs) {
      unreported += 1;
      return;
    }
    lastReportAt = now;
    try {
      report(error, unreported);
    } catch {
      // A reporter that throws must not become an uncaught exception inside ioredis's emitter.
    }
    unreported = 0;
  };
}
