// The orders service as the host runs it: its module (with the inventory client, the order
// watch, the saga tracker, the caches and the CreateOrder limit), its event transport and its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { Module } from "@nestjs/common";
import { type ClientOptions, closeClient } from "@protomesh/clients";
import { createInventoryClient } from "../clients.js";
import { createRateLimiter, createReadThroughCache, protobufCodec } from "@protomesh/cache";
import { file_shop_inventory_v1_events } from "protomesh/gen/shop/inventory/v1/events_pb";
import { QuotedLineSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import { file_shop_orders_v1_events, OrderCancelledSchema, OrderConfirmedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { file_shop_payments_v1_events } from "protomesh/gen/shop/payments/v1/events_pb";
import { checkConfiguredPaths } from "../host/check-paths.js";
import type { ServiceDefinition, ServiceRuntime } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { createStockLookupClient } from "../inventory/stock-lookup/stock-lookup.client.js";
import { loadOrdersConfig, type OrdersConfig } from "./config.js";
import { LAST_QUOTES_NAMESPACE, quoteWithFallback } from "./inventory-quotes.js";
import { ORDER_CACHE_NAMESPACE, withOrderCache, type OrderCache } from "./order-cache.js";
import { resolveServerLimits } from "@protomesh/server";
import { orderStatusPush } from "./gateway/order-status-push.js";
import { startOrderWatch } from "./order-watch.js";
import { OrdersController } from "./orders.controller.js";
import { OrdersEvents } from "./orders.events.js";
import { ORDER_CACHE, ORDER_WATCH, ORDERS, ORDERS_FROM_DATABASE, SAGA_HANDLERS } from "./orders.tokens.js";
import { createOrders, type Orders } from "./orders.js";
import { createSagaHandlers } from "./saga.js";
import { SagaTracker } from "./saga-tracker.js";
import { inventoryTarget, oneOrList } from "./inventory-target.js";
import { quoteAcrossShards } from "./sharded-quotes.js";

@Module({})
export class OrdersModule {}

export function ordersService(config: OrdersConfig = loadOrdersConfig()): ServiceDefinition {
  // The inventory clients read their TLS files below, before the host would check them.
  checkConfiguredPaths(config.paths);
  const { certFile, keyFile, caFile } = config.inventory.tls;
  const inventoryClient = (target: ClientOptions["target"]) => {
    return createInventoryClient({
      target,
      // One name is also the authority; a list or a resolver has none of its own.
      ...(typeof target === "string" ? {} : { authority: "localhost:443" }),
      ...(certFile !== undefined && keyFile !== undefined && caFile !== undefined ? { tls: { certFile, keyFile, caFile, serverName: "localhost" } } : {}),
      deadlines: { defaultTimeoutMs: 2_000 },
    });
  };
  const shards = config.inventory.shards;
  // A canary release of (unsharded) inventory: calls split by the weights file.
  const unshardedTarget = inventoryTarget(config.inventory);
  // Sharded inventory (ADR 0105): a balanced client per shard, so each shard has its own breaker
  // and retry budget, and a quote split over the shards of its SKUs.
  const shardClients = new Map((shards ?? []).map((shard) => [shard.name, inventoryClient(oneOrList(shard.target))]));
  // INVENTORY_TRANSPORT: the balanced gRPC client, or NATS request/reply to any inventory replica (ADR 0052).
  const inventory =
    shards !== undefined
      ? { quoteItems: quoteAcrossShards(new Map([...shardClients].map(([name, client]) => [name, (request) => client.quoteItems(request)]))) }
      : config.inventoryTransport === "grpc"
        ? inventoryClient(unshardedTarget.target)
        : createStockLookupClient({ servers: config.natsServers });
  const fetchQuote: Parameters<typeof quoteWithFallback>[0] = (request) => inventory.quoteItems(request);
  // The caches and the CreateOrder limit use the host's Redis; without it they load and count locally (ADR 0050, 0051).
  const ordersOf = (runtime: ServiceRuntime) => {
    const lastQuotes =
      runtime.redis === undefined || config.quoteFallbackMaxAgeMs === 0
        ? undefined
        : createReadThroughCache(runtime.redis, { namespace: LAST_QUOTES_NAMESPACE, ttlMs: config.quoteFallbackMaxAgeMs, codec: protobufCodec(QuotedLineSchema) });
    const limit = config.createOrderLimit;
    return createOrders(runtime.database.db, quoteWithFallback(fetchQuote, lastQuotes), {
      sagaDeadlineMs: config.saga.deadlineMs,
      inventoryShards: shards?.map((shard) => shard.name),
      createOrderLimit: limit === undefined ? undefined : { ...limit, limiter: createRateLimiter(runtime.redis, { name: "orders:create-order", ...limit }) },
    });
  };

  // The browser push (WS_PORT): consumes this service's own status events (ADR 0060).
  const statusPush = config.statusGateway === undefined ? undefined : orderStatusPush(config.statusGateway, resolveServerLimits(config.serverLimits));

  return {
    name: "orders",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.orders,
    allow: { "shop.orders.v1.OrdersService": ["spiffe://shop/gateway"] },
    sagaOutcomes: { [OrderConfirmedSchema.typeName]: "confirmed", [OrderCancelledSchema.typeName]: "cancelled" },
    module: (runtime) => ({
      module: OrdersModule,
      controllers: [OrdersController, OrdersEvents, ...(statusPush?.controllers ?? [])],
      providers: [
        { provide: SAGA_HANDLERS, useValue: createSagaHandlers(shards?.map((shard) => shard.name)) },
        { provide: ORDER_CACHE, useValue: createReadThroughCache(runtime.redis, { namespace: ORDER_CACHE_NAMESPACE, ttlMs: config.orderCacheTtlMs, codec: protobufCodec(OrderSchema) }) },
        { provide: ORDERS_FROM_DATABASE, useValue: ordersOf(runtime) },
        { provide: ORDERS, useFactory: (orders: Orders, cache: OrderCache) => withOrderCache(orders, cache), inject: [ORDERS_FROM_DATABASE, ORDER_CACHE] },
        // WatchOrder re-reads when a change is notified: from the database, not a copy that may predate it.
        {
          provide: ORDER_WATCH,
          useFactory: (orders: Orders) => startOrderWatch(runtime.database, (orderIds) => orders.getOrders(orderIds), { resyncIntervalMs: config.watchOrderResyncIntervalMs }),
          inject: [ORDERS_FROM_DATABASE],
        },
        {
          provide: SagaTracker,
          useFactory: (cache: OrderCache) => new SagaTracker(runtime.database.db, config.saga.sweepIntervalMs, runtime.logger, (orderIds) => cache.invalidate(orderIds)),
          inject: [ORDER_CACHE],
        },
        ...(statusPush?.providers(runtime) ?? []),
      ],
    }),
    ...(statusPush === undefined ? {} : { configureApp: statusPush.configureApp }),
    dispose: async () => {
      unshardedTarget.stop();
      for (const client of shardClients.values()) closeClient(client);
      if ("close" in inventory) await inventory.close();
      else if (shards === undefined) closeClient(inventory);
    },
    events: {
      registry: createRegistry(file_shop_inventory_v1_events, file_shop_payments_v1_events, ...(statusPush === undefined ? [] : [file_shop_orders_v1_events])),
      consumes: [streams.inventory, streams.payments, ...(statusPush === undefined ? [] : [streams.orders])],
      consumerDefaults,
    },
  };
}
