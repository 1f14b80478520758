// The orders service as the host runs it: its module (with the inventory client, the order
// watch and the saga tracker), its event transport and its callers.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { Module } from "@nestjs/common";
import { closeClient, createInventoryClient } from "protomesh/clients";
import { UnavailableError } from "protomesh/kit/connect";
import { createDeadLetterStore, JetStreamTransport } from "protomesh/kit/messaging";
import { file_shop_inventory_v1_events } from "protomesh/gen/shop/inventory/v1/events_pb";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import { file_shop_payments_v1_events } from "protomesh/gen/shop/payments/v1/events_pb";
import type { ServiceDefinition } from "../kit/host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { loadOrdersConfig, type OrdersConfig } from "./config.js";
import { orderStatusPush } from "./gateway/order-status-push.js";
import { startOrderWatch } from "./order-watch.js";
import { OrdersController } from "./orders.controller.js";
import { OrdersEvents } from "./orders.events.js";
import { ORDER_WATCH, ORDERS, ORDERS_DATABASE } from "./orders.tokens.js";
import { createOrders, type Orders, type QuoteItems } from "./orders.js";
import { SagaTracker } from "./saga-tracker.js";

@Module({})
export class OrdersModule {}

/** Codes that mean "inventory cannot answer now", as opposed to "inventory said no". */
const INVENTORY_DOWN = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted]);

export function ordersService(config: OrdersConfig = loadOrdersConfig()): ServiceDefinition {
  const { certFile, keyFile, caFile } = config.inventory.tls;
  const [first, ...rest] = config.inventory.target;
  const inventory = createInventoryClient({
    target: rest.length === 0 && first !== undefined ? first : config.inventory.target,
    ...(rest.length === 0 ? {} : { authority: "localhost:443" }),
    ...(certFile !== undefined && keyFile !== undefined && caFile !== undefined ? { tls: { certFile, keyFile, caFile, serverName: "localhost" } } : {}),
    deadlines: { defaultTimeoutMs: 2_000 },
  });
  const quoteItems: QuoteItems = async (request) => {
    try {
      return await inventory.quoteItems(request);
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (INVENTORY_DOWN.has(connectError.code)) {
        throw new UnavailableError(`inventory is unavailable (${connectError.rawMessage}); the order was not placed, retry later`, { cause: error });
      }
      throw error;
    }
  };

  // The browser push (WS_PORT): consumes this service's own status events (ADR 0060).
  const statusPush = config.statusGateway === undefined ? undefined : orderStatusPush(config.statusGateway);

  return {
    name: "orders",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.orders,
    allow: { "shop.orders.v1.OrdersService": ["spiffe://shop/gateway"] },
    module: (runtime) => ({
      module: OrdersModule,
      controllers: [OrdersController, OrdersEvents, ...(statusPush?.controllers ?? [])],
      providers: [
        { provide: ORDERS_DATABASE, useValue: runtime.database },
        { provide: ORDERS, useValue: createOrders(runtime.database.db, quoteItems, { sagaDeadlineMs: config.saga.deadlineMs }) },
        { provide: ORDER_WATCH, useFactory: (orders: Orders) => startOrderWatch(runtime.database, (orderId) => orders.getOrder(orderId)), inject: [ORDERS] },
        { provide: SagaTracker, useValue: new SagaTracker(runtime.database.db, config.saga.sweepIntervalMs, runtime.logger) },
        ...(statusPush?.providers(runtime) ?? []),
      ],
    }),
    ...(statusPush === undefined ? {} : { configureApp: statusPush.configureApp }),
    dispose: () => closeClient(inventory),
    eventTransport: (runtime) =>
      new JetStreamTransport({
        bus: runtime.bus,
        registry: createRegistry(file_shop_inventory_v1_events, file_shop_payments_v1_events, ...(statusPush === undefined ? [] : [file_shop_orders_v1_events])),
        deadLetters: createDeadLetterStore(runtime.database.db),
        service: "orders",
        consumerDefaults,
        streams: [streams.inventory, streams.payments, ...(statusPush === undefined ? [] : [streams.orders])],
      }),
  };
}
