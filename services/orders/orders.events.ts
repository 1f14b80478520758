import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import type { Database } from "protomesh/kit/data";
import { EventErrorFilter, JetStreamContext, OnEvent } from "protomesh/kit/messaging";
import { StockRejectedSchema, StockReservedSchema, type StockRejected, type StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { PaymentCapturedSchema, PaymentDeclinedSchema, type PaymentCaptured, type PaymentDeclined } from "protomesh/gen/shop/payments/v1/events_pb";
import { applyEventOnce } from "../saga/apply-once.js";
import { ORDERS_DATABASE } from "./orders.tokens.js";
import { sagaHandlers } from "./saga.js";

/** Orders' saga handlers: confirm on PaymentCaptured, cancel on StockRejected or PaymentDeclined. */
@Controller()
@UseFilters(new EventErrorFilter())
export class OrdersEvents {
  constructor(@Inject(ORDERS_DATABASE) private readonly database: Database) {}

  @OnEvent(StockReservedSchema)
  async stockReserved(@Payload() event: StockReserved, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "orders", context, (tx) => sagaHandlers.stockReserved(tx, event));
  }

  @OnEvent(StockRejectedSchema)
  async stockRejected(@Payload() event: StockRejected, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "orders", context, (tx) => sagaHandlers.stockRejected(tx, event));
  }

  @OnEvent(PaymentCapturedSchema)
  async paymentCaptured(@Payload() event: PaymentCaptured, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "orders", context, (tx) => sagaHandlers.paymentCaptured(tx, event));
  }

  @OnEvent(PaymentDeclinedSchema)
  async paymentDeclined(@Payload() event: PaymentDeclined, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "orders", context, (tx) => sagaHandlers.paymentDeclined(tx, event));
  }
}
