// The payments service as the host runs it: its module, its stream and its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { file_shop_inventory_v1_events } from "protomesh/gen/shop/inventory/v1/events_pb";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ServiceDefinition } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadPaymentsConfig, type PaymentsConfig } from "./config.js";
import { PaymentsModule } from "./payments.module.js";

export function paymentsService(config: PaymentsConfig = loadPaymentsConfig()): ServiceDefinition {
  return {
    name: "payments",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.payments,
    allow: { "shop.payments.v1.PaymentsService": ["spiffe://shop/orders", "spiffe://shop/gateway"] },
    module: PaymentsModule.register(config),
    events: { registry: createRegistry(file_shop_orders_v1_events, file_shop_inventory_v1_events), consumes: [streams.orders, streams.inventory], consumerDefaults },
  };
}
