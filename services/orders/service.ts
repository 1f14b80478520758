// The orders service as the host runs it: its module, its stream, its event consumers and its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { resolveServerLimits } from "@protomesh/server";
import { file_shop_inventory_v1_events } from "protomesh/gen/shop/inventory/v1/events_pb";
import { file_shop_orders_v1_events, OrderCancelledSchema, OrderConfirmedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { file_shop_payments_v1_events } from "protomesh/gen/shop/payments/v1/events_pb";
import type { ServiceDefinition } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadOrdersConfig, type OrdersConfig } from "./config.js";
import { orderStatusPush } from "./gateway/order-status-push.js";
import { OrdersModule } from "./orders.module.js";

export function ordersService(config: OrdersConfig = loadOrdersConfig()): ServiceDefinition {
  // The browser push (WS_PORT): consumes this service's own status events (ADR 0060).
  const statusPush = config.statusGateway === undefined ? undefined : orderStatusPush(config.statusGateway, resolveServerLimits(config.serverLimits));
  return {
    name: "orders",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.orders,
    allow: { "shop.orders.v1.OrdersService": ["spiffe://shop/gateway"] },
    sagaOutcomes: { [OrderConfirmedSchema.typeName]: "confirmed", [OrderCancelledSchema.typeName]: "cancelled" },
    module: OrdersModule.register(config, statusPush),
    ...(statusPush === undefined ? {} : { configureApp: statusPush.configureApp }),
    events: {
      registry: createRegistry(file_shop_inventory_v1_events, file_shop_payments_v1_events, ...(statusPush === undefined ? [] : [file_shop_orders_v1_events])),
      consumes: [streams.inventory, streams.payments, ...(statusPush === undefined ? [] : [streams.orders])],
      consumerDefaults,
    },
  };
}
