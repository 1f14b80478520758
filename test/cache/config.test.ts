// The caching, limit and request/reply variables as the services parse them.
import { describe, expect, it } from "vitest";
import { isConfigError } from "../../services/config/index.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { loadOrdersConfig } from "../../services/orders/config.js";

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (isConfigError(error)) return error.problems;
    throw error;
  }
  throw new Error("the configuration was accepted; it should have been refused");
}

describe("cache, limit and request/reply configuration", () => {
  it("defaults to 5 s cache TTLs, a 60 s quote fallback, no CreateOrder limit and gRPC to inventory", () => {
    expect(loadOrdersConfig({})).toMatchObject({ redisUrl: undefined, orderCacheTtlMs: 5_000, quoteFallbackMaxAgeMs: 60_000, createOrderLimit: undefined, inventoryTransport: "grpc" });
    expect(loadInventoryConfig({})).toMatchObject({ stockCacheTtlMs: 5_000 });
  });

  it("turns the limit on with CREATE_ORDER_LIMIT and reads the rest", () => {
    expect(
      loadOrdersConfig({ REDIS_URL: "redis://cache:6379", CREATE_ORDER_LIMIT: "20", CREATE_ORDER_LIMIT_WINDOW_MS: "10000", QUOTE_FALLBACK_MAX_AGE_MS: "0", INVENTORY_TRANSPORT: "nats" }),
    ).toMatchObject({ redisUrl: "redis://cache:6379", createOrderLimit: { limit: 20, windowMs: 10_000 }, quoteFallbackMaxAgeMs: 0, inventoryTransport: "nats" });
  });

  it("names every bad variable", () => {
    expect(problems(() => loadOrdersConfig({ CREATE_ORDER_LIMIT: "-1", INVENTORY_TRANSPORT: "http", REDIS_URL: "localhost:6379" })).sort()).toEqual([
      'CREATE_ORDER_LIMIT: must not be negative (got "-1")',
      'INVENTORY_TRANSPORT: must be "grpc" or "nats" (got "http")',
      'REDIS_URL: must be a URL starting with redis:// or rediss:// (got "localhost:6379")',
    ]);
    expect(problems(() => loadOrdersConfig({ CREATE_ORDER_LIMIT_WINDOW_MS: "1500", ORDER_CACHE_TTL_MS: "0" })).sort()).toEqual([
      'CREATE_ORDER_LIMIT_WINDOW_MS: must be whole seconds in ms (1000, 60000, ...) (got "1500")',
      'ORDER_CACHE_TTL_MS: must be at least 1 ms (got "0")',
    ]);
    expect(problems(() => loadInventoryConfig({ STOCK_CACHE_TTL_MS: "0" }))).toEqual(['STOCK_CACHE_TTL_MS: must be at least 1 ms (got "0")']);
  });
});
