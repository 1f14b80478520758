// Redis Streams buses for tests, on the shared Redis (or a private server), each run under its own
// key prefix; cleanup() deletes every key under it and closes every client opened.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { createRedisStreamsBus, type RedisStreamsBusOptions } from "@protomesh/messaging/redis-streams";
import { type EventBus } from "@protomesh/messaging";
import type { BusHarness } from "./event-bus.contract.js";

export const SHARED_REDIS_URL = process.env.PROTOMESH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface RedisStreamsHarness extends BusHarness {
  readonly keyPrefix: string;
  /** A bus on a client of its own; `crash()` drops that client without a goodbye. */
  open(options?: RedisStreamsBusOptions): { bus: EventBus; client: Redis };
}

export function redisStreamsHarness(url = SHARED_REDIS_URL): RedisStreamsHarness {
  const keyPrefix = `pmt:${randomBytes(4).toString("hex")}:`;
  const clients = new Set<Redis>();
  const client = () => {
    const c = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (attempt) => Math.min(50 * attempt, 500) });
    c.on("error", () => undefined);
    clients.add(c);
    return c;
  };
  const open = (options: RedisStreamsBusOptions = {}) => {
    const c = client();
    return { bus: createRedisStreamsBus(c, { keyPrefix, ...options }), client: c };
  };
  return {
    name: "Redis Streams",
    keyPrefix,
    open,
    connect: () => {
      const { bus, client: c } = open();
      return Promise.resolve({ bus, crash: () => Promise.resolve(c.disconnect()) });
    },
    streamName: () => `S_${randomBytes(4).toString("hex")}`,
    async cleanup() {
      const janitor = client();
      try {
        let cursor = "0";
        do {
          const [next, keys] = await janitor.scan(cursor, "MATCH", `${keyPrefix}*`, "COUNT", 500);
          if (keys.length > 0) await janitor.unlink(...keys);
          cursor = next;
        } while (cursor !== "0");
      } finally {
        for (const c of clients) c.disconnect();
        clients.clear();
      }
    },
  };
}
