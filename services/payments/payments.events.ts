import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { StockReservedSchema, type StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { OrderCancelledSchema, type OrderCancelled } from "protomesh/gen/shop/orders/v1/events_pb";
import type { createChargeHandlers } from "./charges.js";
import { CHARGE_HANDLERS } from "./payments.tokens.js";

/** Payments' saga handlers: charge on StockReserved, refund on OrderCancelled, once per event (the toolkit's inbox). */
@Controller()
@UseFilters(new EventErrorFilter())
export class PaymentsEvents {
  constructor(@Inject(CHARGE_HANDLERS) private readonly charges: ReturnType<typeof createChargeHandlers>) {}

  @OnEvent(StockReservedSchema, { inbox: true })
  async stockReserved(@Payload() event: StockReserved, @Ctx() context: EventContext) {
    await this.charges.stockReserved(context.getTransaction(), event);
  }

  @OnEvent(OrderCancelledSchema, { inbox: true })
  async orderCancelled(@Payload() event: OrderCancelled, @Ctx() context: EventContext) {
    await this.charges.orderCancelled(context.getTransaction(), event);
  }
}
