// The inventory service as a Nest module: its RPCs, its saga handlers, the NATS stock lookup and
// the stock store behind them, on the database ProtomeshMessagingModule opened.
import { type DynamicModule, Module } from "@nestjs/common";
import { createReadThroughCache, protobufCodec, type SharedRedis } from "@protomesh/cache";
import type { Database } from "@protomesh/data";
import { MESSAGING_DATABASE } from "@protomesh/messaging/nest";
import { StockItemSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { SHARED_REDIS } from "../host/shop.tokens.js";
import type { InventoryConfig } from "./config.js";
import { InventoryController } from "./inventory.controller.js";
import { InventoryEvents } from "./inventory.events.js";
import { RESERVATION_HANDLERS, STOCK_CACHE, STOCK_STORE } from "./inventory.tokens.js";
import { createReservationHandlers } from "./reservations.js";
import { ownsSku, shardStockStore } from "./shard.js";
import { createStockStore, STOCK_CACHE_NAMESPACE, type StockCache } from "./stock.js";
import { StockLookupResponder } from "./stock-lookup/stock-lookup.responder.js";

@Module({})
export class InventoryModule {
  static register(config: InventoryConfig): DynamicModule {
    // A shard (INVENTORY_SHARD) touches only its SKUs (ADR 0105).
    const shard = config.shard;
    return {
      module: InventoryModule,
      // The NATS stock lookup asks any replica of any shard, so a shard does not answer it.
      controllers: [InventoryController, InventoryEvents, ...(shard === undefined ? [StockLookupResponder] : [])],
      providers: [
        {
          provide: STOCK_CACHE,
          useFactory: (redis: SharedRedis | undefined) => createReadThroughCache(redis, { namespace: STOCK_CACHE_NAMESPACE, ttlMs: config.stockCacheTtlMs, codec: protobufCodec(StockItemSchema) }),
          inject: [SHARED_REDIS],
        },
        {
          provide: STOCK_STORE,
          useFactory: (database: Database, cache: StockCache) => shardStockStore(createStockStore(database.db, cache), shard),
          inject: [MESSAGING_DATABASE, STOCK_CACHE],
        },
        { provide: RESERVATION_HANDLERS, useValue: createReservationHandlers((sku) => ownsSku(shard, sku)) },
      ],
    };
  }
}
