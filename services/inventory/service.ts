// The inventory service as the host runs it: its module, its event transport, its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { Module } from "@nestjs/common";
import { createDeadLetterStore, JetStreamTransport } from "protomesh/kit/messaging";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ServiceDefinition } from "../kit/host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadInventoryConfig, type InventoryConfig } from "./config.js";
import { InventoryController } from "./inventory.controller.js";
import { InventoryEvents } from "./inventory.events.js";
import { INVENTORY_DATABASE, STOCK_STORE } from "./inventory.tokens.js";
import { createStockStore } from "./stock.js";

@Module({})
export class InventoryModule {}

export function inventoryService(config: InventoryConfig = loadInventoryConfig()): ServiceDefinition {
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
    module: (runtime) => ({
      module: InventoryModule,
      controllers: [InventoryController, InventoryEvents],
      providers: [
        { provide: INVENTORY_DATABASE, useValue: runtime.database },
        { provide: STOCK_STORE, useValue: createStockStore(runtime.database.db) },
      ],
    }),
    eventTransport: (runtime) =>
      new JetStreamTransport({
        bus: runtime.bus,
        registry: createRegistry(file_shop_orders_v1_events),
        deadLetters: createDeadLetterStore(runtime.database.db),
        service: "inventory",
        consumerDefaults,
        streams: [streams.orders],
      }),
  };
}
