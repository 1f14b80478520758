import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import type { Database } from "@protomesh/data";
import { applyOnce } from "@protomesh/messaging";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { StockReservedSchema, type StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, type OrderCancelled } from "protomesh/gen/shop/orders/v1/events_pb";
import type { createChargeHandlers } from "./charges.js";
import { CHARGE_HANDLERS, PAYMENTS_DATABASE } from "./payments.tokens.js";

/** Payments' saga handlers: charge on StockReserved, refund on OrderCancelled. */
@Controller()
@UseFilters(new EventErrorFilter())
export class PaymentsEvents {
  constructor(
    @Inject(PAYMENTS_DATABASE) private readonly database: Database,
    @Inject(CHARGE_HANDLERS) private readonly charges: ReturnType<typeof createChargeHandlers>,
  ) {}

  @OnEvent(StockReservedSchema)
  async stockReserved(@Payload() event: StockReserved, @Ctx() context: EventContext) {
    await applyOnce(this.database.db, context.getEvent(), (tx) => this.charges.stockReserved(tx, event));
  }

  @OnEvent(OrderCancelledSchema)
  async orderCancelled(@Payload() event: OrderCancelled, @Ctx() context: EventContext) {
    await applyOnce(this.database.db, context.getEvent(), (tx) => this.charges.orderCancelled(tx, event));
  }
}
