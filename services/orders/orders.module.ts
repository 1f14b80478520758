// The orders service as a Nest module: its RPCs (with the order watch), its saga handlers and
// deadline sweep, the caches and the CreateOrder limit, and inventory's prices, on the database
// ProtomeshMessagingModule opened and the shop's Redis.
import { type DynamicModule, Module } from "@nestjs/common";
import { createRateLimiter, createReadThroughCache, protobufCodec, type SharedRedis } from "@protomesh/cache";
import type { Database } from "@protomesh/data";
import { MESSAGING_DATABASE } from "@protomesh/messaging/nest";
import { QuotedLineSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { Logger } from "../host/logger.js";
import { LOGGER, SHARED_REDIS } from "../host/shop.tokens.js";
import type { OrdersConfig } from "./config.js";
import type { OrderStatusPush } from "./gateway/order-status-push.js";
import { type FetchQuote, LAST_QUOTES_NAMESPACE, quoteWithFallback } from "./inventory-quotes.js";
import { InventoryQuotesModule } from "./inventory-quotes.module.js";
import { ORDER_CACHE_NAMESPACE, withOrderCache, type OrderCache } from "./order-cache.js";
import { startOrderWatch } from "./order-watch.js";
import { OrdersController } from "./orders.controller.js";
import { OrdersEvents } from "./orders.events.js";
import { INVENTORY_QUOTES, ORDER_CACHE, ORDER_WATCH, ORDERS, ORDERS_FROM_DATABASE, SAGA_HANDLERS } from "./orders.tokens.js";
import { createOrders, type Orders } from "./orders.js";
import { createSagaHandlers } from "./saga.js";
import { SagaTracker } from "./saga-tracker.js";

@Module({})
export class OrdersModule {
  /** `statusPush`: the browser push (WS_PORT), which consumes this service's own status events (ADR 0060). */
  static register(config: OrdersConfig, statusPush?: OrderStatusPush): DynamicModule {
    const shards = config.inventory.shards?.map((shard) => shard.name);
    return {
      module: OrdersModule,
      imports: [InventoryQuotesModule.register(config)],
      controllers: [OrdersController, OrdersEvents, ...(statusPush?.controllers ?? [])],
      providers: [
        { provide: SAGA_HANDLERS, useValue: createSagaHandlers(shards) },
        {
          provide: ORDER_CACHE,
          useFactory: (redis: SharedRedis | undefined) => createReadThroughCache(redis, { namespace: ORDER_CACHE_NAMESPACE, ttlMs: config.orderCacheTtlMs, codec: protobufCodec(OrderSchema) }),
          inject: [SHARED_REDIS],
        },
        {
          provide: ORDERS_FROM_DATABASE,
          // The caches and the CreateOrder limit use the shared Redis; without it they load and count locally (ADR 0050, 0051).
          useFactory: (database: Database, redis: SharedRedis | undefined, fetchQuote: FetchQuote) => {
            const lastQuotes =
              redis === undefined || config.quoteFallbackMaxAgeMs === 0
                ? undefined
                : createReadThroughCache(redis, { namespace: LAST_QUOTES_NAMESPACE, ttlMs: config.quoteFallbackMaxAgeMs, codec: protobufCodec(QuotedLineSchema) });
            const limit = config.createOrderLimit;
            return createOrders(database.db, quoteWithFallback(fetchQuote, lastQuotes), {
              sagaDeadlineMs: config.saga.deadlineMs,
              inventoryShards: shards,
              createOrderLimit: limit === undefined ? undefined : { ...limit, limiter: createRateLimiter(redis, { name: "orders:create-order", ...limit }) },
            });
          },
          inject: [MESSAGING_DATABASE, SHARED_REDIS, INVENTORY_QUOTES],
        },
        { provide: ORDERS, useFactory: (orders: Orders, cache: OrderCache) => withOrderCache(orders, cache), inject: [ORDERS_FROM_DATABASE, ORDER_CACHE] },
        // WatchOrder re-reads when a change is notified: from the database, not a copy that may predate it.
        {
          provide: ORDER_WATCH,
          useFactory: (database: Database, orders: Orders) => startOrderWatch(database, (orderIds) => orders.getOrders(orderIds), { resyncIntervalMs: config.watchOrderResyncIntervalMs }),
          inject: [MESSAGING_DATABASE, ORDERS_FROM_DATABASE],
        },
        {
          provide: SagaTracker,
          useFactory: (database: Database, logger: Logger, cache: OrderCache) => new SagaTracker(database.db, config.saga.sweepIntervalMs, logger, (orderIds) => cache.invalidate(orderIds)),
          inject: [MESSAGING_DATABASE, LOGGER, ORDER_CACHE],
        },
        ...(statusPush?.providers ?? []),
      ],
    };
  }
}
