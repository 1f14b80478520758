// The inventory service as the host runs it: its module, its stream, its event consumers, its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ServiceDefinition } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadInventoryConfig, type InventoryConfig } from "./config.js";
import { InventoryModule } from "./inventory.module.js";
import { INVENTORY_QUEUE_GROUP } from "./stock-lookup/stock-lookup.protocol.js";

export function inventoryService(config: InventoryConfig = loadInventoryConfig()): ServiceDefinition {
  // A shard (INVENTORY_SHARD) consumes the order events under its own durables (ADR 0105).
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
    module: InventoryModule.register(config),
    ...(shard === undefined ? { requestReply: { queue: INVENTORY_QUEUE_GROUP } } : {}),
    events: { consumerPrefix: consumer, registry: createRegistry(file_shop_orders_v1_events), consumes: [streams.orders], consumerDefaults },
  };
}
