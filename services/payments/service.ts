// The payments service as the host runs it.
import { createRegistry } from "@bufbuild/protobuf";
import { fileURLToPath } from "node:url";
import { Module } from "@nestjs/common";
import { file_shop_inventory_v1_events } from "protomesh/gen/shop/inventory/v1/events_pb";
import { file_shop_orders_v1_events } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ServiceDefinition } from "../host/run-service.js";
import { consumerDefaults, streams } from "../saga/topology.js";
import { createChargeHandlers, createPaymentReads } from "./charges.js";
import { loadPaymentsConfig, type PaymentsConfig } from "./config.js";
import { createPaymentSimulator } from "./domain/payment-simulator.js";
import { PaymentsController } from "./payments.controller.js";
import { PaymentsEvents } from "./payments.events.js";
import { CHARGE_HANDLERS, PAYMENT_READS } from "./payments.tokens.js";

@Module({})
export class PaymentsModule {}

export function paymentsService(config: PaymentsConfig = loadPaymentsConfig()): ServiceDefinition {
  return {
    name: "payments",
    config,
    migrationsFolder: fileURLToPath(new URL("./migrations", import.meta.url)),
    stream: streams.payments,
    allow: { "shop.payments.v1.PaymentsService": ["spiffe://shop/orders", "spiffe://shop/gateway"] },
    module: (runtime) => ({
      module: PaymentsModule,
      controllers: [PaymentsController, PaymentsEvents],
      providers: [
        { provide: PAYMENT_READS, useValue: createPaymentReads(runtime.database.db) },
        { provide: CHARGE_HANDLERS, useValue: createChargeHandlers(createPaymentSimulator(config.simulator)) },
      ],
    }),
    events: { registry: createRegistry(file_shop_orders_v1_events, file_shop_inventory_v1_events), consumes: [streams.orders, streams.inventory], consumerDefaults },
  };
}
