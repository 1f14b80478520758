// The kit cache and rate limiter against real redis-servers: the shared one (unique namespaces)
// where a test only reads and writes, a private one where a test kills or freezes it.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSharedRedis, createRateLimiter, createReadThroughCache, type CacheCodec, type SharedRedis } from "@protomesh/cache";
import { startRedisServer, type RedisServer } from "../helpers/index.js";

const SHARED_REDIS_URL = process.env.PROTOMESH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const text: CacheCodec<string> = { encode: (value) => Buffer.from(value), decode: (bytes) => Buffer.from(bytes).toString() };

/** A pretend table: the value of each key, and how often each was read. */
function source(initial: Record<string, string>) {
  const rows = new Map(Object.entries(initial));
  const reads: string[] = [];
  return {
    rows,
    reads,
    load: async (key: string) => {
      reads.push(key);
      const value = rows.get(key);
      if (value === undefined) throw new Error(`no row ${key}`);
      return value;
    },
    loadMany: async (keys: string[]) => {
      reads.push(...keys);
      return new Map(keys.flatMap((key) => (rows.has(key) ? [[key, rows.get(key) as string] as const] : [])));
    },
  };
}

/** Waits until the connection is up (and not skipped after failures), for at most 10 s. */
async function ready(redis: SharedRedis) {
  for (const deadline = Date.now() + 10_000; !redis.usable(); ) {
    if (Date.now() > deadline) throw new Error("redis did not become usable within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("read-through cache on the shared redis-server", () => {
  let redis: SharedRedis;
  beforeAll(async () => {
    redis = connectSharedRedis(SHARED_REDIS_URL);
    await ready(redis);
  });
  afterAll(() => redis.close());
  const cacheOf = (ttlMs = 60_000) => createReadThroughCache(redis, { namespace: `test:${randomUUID()}`, ttlMs, codec: text });

  it("answers a repeated read from Redis without loading again", async () => {
    const cache = cacheOf();
    const table = source({ a: "1" });
    expect(await cache.get("a", table.load)).toBe("1");
    expect(await cache.get("a", table.load)).toBe("1");
    expect(await cache.get("a", table.load)).toBe("1");
    expect(table.reads).toEqual(["a"]);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1, loads: 1, stores: 1 });
  });

  it("loads only the keys it does not hold, in one call, and does not cache a key the source lacks", async () => {
    const cache = cacheOf();
    const table = source({ a: "1", b: "2", c: "3" });
    await cache.get("a", table.load);
    const values = await cache.getMany(["a", "b", "c", "zzz", "b"], table.loadMany);
    expect(Object.fromEntries(values)).toEqual({ a: "1", b: "2", c: "3" });
    expect(table.reads).toEqual(["a", "b", "c", "zzz"]);
    await cache.getMany(["b", "zzz"], table.loadMany);
    expect(table.reads.slice(4)).toEqual(["zzz"]);
  });

  it("runs one load for many concurrent readers of a cold key", async () => {
    const cache = cacheOf();
    const table = source({ hot: "v" });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowLoad = async (key: string) => {
      await gate;
      return table.load(key);
    };
    const readers = Array.from({ length: 50 }, () => cache.get("hot", slowLoad));
    release();
    expect(new Set(await Promise.all(readers))).toEqual(new Set(["v"]));
    expect(table.reads).toEqual(["hot"]);
  });

  it("shares a failed load's error with the readers that joined it, and caches nothing", async () => {
    const cache = cacheOf();
    const table = source({});
    const readers = Array.from({ length: 5 }, () => cache.get("missing", table.load));
    for (const reader of readers) await expect(reader).rejects.toThrow("no row missing");
    expect(table.reads).toEqual(["missing"]);
    table.rows.set("missing", "now here");
    expect(await cache.get("missing", table.load)).toBe("now here");
  });

  it("never stores what a load read before an invalidation that overlapped it", async () => {
    const cache = cacheOf();
    const table = source({ order: "pending" });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The load reads the old row, then the change commits and invalidates before the load stores.
    const loading = cache.get("order", async (key) => {
      const value = await table.load(key);
      await gate;
      return value;
    });
    await expect.poll(() => table.reads.length).toBe(1);
    table.rows.set("order", "confirmed");
    await cache.invalidate(["order"]);
    release();
    expect(await loading).toBe("pending");
    expect(await cache.get("order", table.load)).toBe("confirmed");
    expect(await cache.get("order", table.load)).toBe("confirmed");
    expect(table.reads).toEqual(["order", "order"]);
  });

  it("serves an entry only within its TTL", async () => {
    const cache = cacheOf(150);
    const table = source({ k: "old" });
    await cache.get("k", table.load);
    table.rows.set("k", "new");
    expect(await cache.get("k", table.load)).toBe("old");
    await expect.poll(() => cache.get("k", table.load), { timeout: 5_000, interval: 50 }).toBe("new");
  });

  it("keeps stored values with their age for peekMany, past freshness until retention ends", async () => {
    const cache = createReadThroughCache(redis, { namespace: `test:${randomUUID()}`, ttlMs: 100, retainMs: 60_000, codec: text });
    await cache.put(new Map([["x", "remembered"]]));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const peeked = await cache.peekMany(["x", "unknown"]);
    expect([...peeked.keys()]).toEqual(["x"]);
    expect(peeked.get("x")?.value).toBe("remembered");
    expect(peeked.get("x")?.ageMs).toBeGreaterThanOrEqual(100);
    expect(peeked.get("x")?.ageMs).toBeLessThan(60_000);
  });

  it("shares one limit between two connections (two replicas) and says when to retry", async () => {
    const other = connectSharedRedis(SHARED_REDIS_URL);
    try {
      await ready(other);
      const options = { name: `test:limit:${randomUUID()}`, limit: 3, windowMs: 60_000 };
      const [a, b] = [createRateLimiter(redis, options), createRateLimiter(other, options)];
      const decisions = [await a.consume("alice"), await b.consume("alice"), await a.consume("alice"), await b.consume("alice")];
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false]);
      const refused = decisions[3];
      expect(refused?.allowed === false && refused.retryAfterMs > 0 && refused.retryAfterMs <= 60_000).toBe(true);
      expect((await a.consume("bob")).allowed).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe("without Redis configured", () => {
  it("reads through every time, still one load per key at a time", async () => {
    const cache = createReadThroughCache(undefined, { namespace: "none", ttlMs: 60_000, codec: text });
    const table = source({ a: "1" });
    const together = await Promise.all([cache.get("a", table.load), cache.get("a", table.load)]);
    expect(together).toEqual(["1", "1"]);
    expect(await cache.get("a", table.load)).toBe("1");
    expect(table.reads).toEqual(["a", "a"]);
    expect(cache.stats()).toMatchObject({ hits: 0, bypassed: 2, loads: 2 });
  });

  it("limits each process on its own", async () => {
    const limiter = createRateLimiter(undefined, { name: "local", limit: 2, windowMs: 1_000 });
    const decisions = [await limiter.consume("u"), await limiter.consume("u"), await limiter.consume("u")];
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    expect(decisions[2]).toMatchObject({ allowed: false, retryAfterMs: expect.any(Number) });
  });
});

describe("read-through cache when its private redis-server dies or hangs", () => {
  let server: RedisServer;
  let redis: SharedRedis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = connectSharedRedis(server.url, { skipMs: 200 });
    await ready(redis);
  });
  afterAll(async () => {
    await redis.close();
    await server.dispose();
  });

  it("answers the same when Redis is killed and after it comes back empty", async () => {
    const cache = createReadThroughCache(redis, { namespace: "orders", ttlMs: 60_000, codec: text });
    const table = source({ o1: "pending" });
    expect(await cache.get("o1", table.load)).toBe("pending");
    expect(await cache.get("o1", table.load)).toBe("pending");
    expect(table.reads).toHaveLength(1);

    await server.kill();
    table.rows.set("o1", "confirmed");
    await cache.invalidate(["o1"]); // lost: Redis is gone (it comes back empty anyway)
    for (let i = 0; i < 5; i++) expect(await cache.get("o1", table.load)).toBe("confirmed");
    expect(table.reads).toHaveLength(6);
    expect(cache.stats().bypassed).toBeGreaterThanOrEqual(5);

    await server.start();
    await ready(redis);
    expect(await cache.get("o1", table.load)).toBe("confirmed");
    const readsAfterRestart = table.reads.length;
    expect(await cache.get("o1", table.load)).toBe("confirmed");
    expect(table.reads).toHaveLength(readsAfterRestart);
  });

  it("answers from the source while Redis hangs, and skips it after a few timed-out commands", async () => {
    const cache = createReadThroughCache(redis, { namespace: "hung", ttlMs: 60_000, codec: text });
    const table = source({ k: "v1" });
    expect(await cache.get("k", table.load)).toBe("v1");
    server.pause();
    try {
      table.rows.set("k", "v2");
      const costs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const startedAt = performance.now();
        expect(await cache.get("k", table.load)).toBe("v2");
        costs.push(Math.round(performance.now() - startedAt));
      }
      console.info(`reads while Redis hangs, ms each: ${costs.join(", ")}`);
      expect(redis.usable()).toBe(false);
      expect(cache.stats().bypassed).toBeGreaterThanOrEqual(10);
    } finally {
      server.resume();
    }
  });

  it("keeps limiting per process while Redis is down", async () => {
    const limiter = createRateLimiter(redis, { name: "down", limit: 2, windowMs: 60_000 });
    await server.kill();
    try {
      const decisions = [await limiter.consume("u"), await limiter.consume("u"), await limiter.consume("u")];
      expect(decisions.map((d) => d.allowed)).toEqual([true, true, false]);
    } finally {
      await server.start();
    }
  });
});
