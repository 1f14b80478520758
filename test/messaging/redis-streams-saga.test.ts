// The order saga with EVENT_BUS=redis: the same services and handlers, their events on Redis
// Streams (a private redis-server) instead of JetStream; every saga ends and the checker finds
// nothing wrong.
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisServer, type RedisServer } from "../helpers/index.js";
import { startShop, type Shop } from "../saga/shop.js";

const ORDERS = 40;

describe("the order saga on Redis Streams (EVENT_BUS=redis)", () => {
  let redisServer: RedisServer;
  let shop: Shop;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    const onRedis = { EVENT_BUS: "redis", EVENT_REDIS_URL: redisServer.url };
    shop = await startShop({
      name: "saga_redis",
      replicas: 2,
      env: { orders: onRedis, inventory: onRedis, payments: { ...onRedis, PAYMENT_DECLINE_RATE: "0.2" } },
    });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: ORDERS * 2, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  }, 120_000);
  afterAll(async () => {
    await shop?.stop();
    await redisServer?.dispose();
  }, 60_000);

  it("ends every saga CONFIRMED or CANCELLED with every invariant kept, and no event goes through JetStream", async () => {
    const placed = await shop.placeOrders(ORDERS);
    expect(placed).toMatchObject({ accepted: ORDERS, failed: 0 });
    const report = await shop.settle(60_000);
    expect(report.violations).toEqual([]);
    expect(report.orders).toMatchObject({ total: ORDERS, pending: 0 });
    expect(report.orders.confirmed).toBeGreaterThan(0);
    expect(report.orders.cancelled).toBeGreaterThan(0);

    const redis = new Redis(redisServer.url);
    try {
      expect(await redis.xlen("protomesh:stream:{SHOP_ORDERS}")).toBeGreaterThanOrEqual(ORDERS);
      expect(await redis.xlen("protomesh:stream:{SHOP_PAYMENTS}")).toBeGreaterThanOrEqual(ORDERS);
    } finally {
      redis.disconnect();
    }
    const nc = await connect({ servers: shop.nats.url });
    try {
      expect(await (await jetstreamManager(nc)).streams.names().next()).toEqual([]);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
