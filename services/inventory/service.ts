// The inventory service as the host runs it: its module, its event transport, its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { Module } from "@nestjs/common";
import { createReadThroughCache, protobufCodec } from "@protomesh/cache";
import { StockItemSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ServiceDefinition } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadInventoryConfig, type InventoryConfig } from "./config.js";
import { InventoryController } from "./inventory.controller.js";
import { InventoryEvents } from "./inventory.events.js";
import { RESERVATION_HANDLERS, STOCK_CACHE, STOCK_STORE } from "./inventory.tokens.js";
import { createReservationHandlers } from "./reservations.js";
import { ownsSku, shardStockStore } from "./shard.js";
import { createStockStore, STOCK_CACHE_NAMESPACE } from "./stock.js";
import { INVENTORY_QUEUE_GROUP } from "./stock-lookup/stock-lookup.protocol.js";
import { StockLookupResponder } from "./stock-lookup/stock-lookup.responder.js";

@Module({})
export class InventoryModule {}

export function inventoryService(config: InventoryConfig = loadInventoryConfig()): ServiceDefinition {
  // A shard (INVENTORY_SHARD) consumes the order events under its own durables and touches only its SKUs (ADR 0105).
  const shard = config.shard;
  const consumer = shard?.name ?? "inventory";
  return {
    name: "inventory",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.inventory,
    allow: {
      // Orders prices baskets; the gateway (people, the demo) reads and administers stock.
      "shop.inventory.v1.InventoryService": ["spiffe://shop/orders", "spiffe://shop/gateway"],
      "shop.inventory.v1.InventoryService/SetStock": ["spiffe://shop/gateway"],
      "shop.inventory.v1.InventoryService/AdjustStock": ["spiffe://shop/gateway"],
    },
    module: (runtime) => {
      const stockCache = createReadThroughCache(runtime.redis, { namespace: STOCK_CACHE_NAMESPACE, ttlMs: config.stockCacheTtlMs, codec: protobufCodec(StockItemSchema) });
      return {
        module: InventoryModule,
        // The NATS stock lookup asks any replica of any shard, so a shard does not answer it.
        controllers: [InventoryController, InventoryEvents, ...(shard === undefined ? [StockLookupResponder] : [])],
        providers: [
          { provide: STOCK_CACHE, useValue: stockCache },
          { provide: STOCK_STORE, useValue: shardStockStore(createStockStore(runtime.database.db, stockCache), shard) },
          { provide: RESERVATION_HANDLERS, useValue: createReservationHandlers((sku) => ownsSku(shard, sku)) },
        ],
      };
    },
    ...(shard === undefined ? { requestReply: { queue: INVENTORY_QUEUE_GROUP } } : {}),
    events: { consumerPrefix: consumer, registry: createRegistry(file_shop_orders_v1_events), consumes: [streams.orders], consumerDefaults },
  };
}
