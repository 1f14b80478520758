import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import type { Database } from "@protomesh/data";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { applyOnce, type InboxOutcome } from "@protomesh/messaging";
import { StockRejectedSchema, StockReservedSchema, type StockRejected, type StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { PaymentCapturedSchema, PaymentDeclinedSchema, type PaymentCaptured, type PaymentDeclined } from "protomesh/gen/shop/payments/v1/events_pb";
import type { OrderSagaDecision } from "./domain/order-saga.js";
import type { OrderCache } from "./order-cache.js";
import { ORDER_CACHE, ORDERS_DATABASE, SAGA_HANDLERS } from "./orders.tokens.js";
import type { SagaHandlers } from "./saga.js";

/**
 * Orders' saga handlers: confirm on PaymentCaptured, cancel on StockRejected or PaymentDeclined.
 * After a commit that changed the order, its cached copy is invalidated.
 */
@Controller()
@UseFilters(new EventErrorFilter())
export class OrdersEvents {
  constructor(
    @Inject(ORDERS_DATABASE) private readonly database: Database,
    @Inject(ORDER_CACHE) private readonly orderCache: OrderCache,
    @Inject(SAGA_HANDLERS) private readonly sagaHandlers: SagaHandlers,
  ) {}

  @OnEvent(StockReservedSchema)
  async stockReserved(@Payload() event: StockReserved, @Ctx() context: EventContext) {
    await this.invalidate(event.orderId, await applyOnce(this.database.db, context.getEvent(), (tx) => this.sagaHandlers.stockReserved(tx, event)));
  }

  @OnEvent(StockRejectedSchema)
  async stockRejected(@Payload() event: StockRejected, @Ctx() context: EventContext) {
    await this.invalidate(event.orderId, await applyOnce(this.database.db, context.getEvent(), (tx) => this.sagaHandlers.stockRejected(tx, event)));
  }

  @OnEvent(PaymentCapturedSchema)
  async paymentCaptured(@Payload() event: PaymentCaptured, @Ctx() context: EventContext) {
    await this.invalidate(event.orderId, await applyOnce(this.database.db, context.getEvent(), (tx) => this.sagaHandlers.paymentCaptured(tx, event)));
  }

  @OnEvent(PaymentDeclinedSchema)
  async paymentDeclined(@Payload() event: PaymentDeclined, @Ctx() context: EventContext) {
    await this.invalidate(event.orderId, await applyOnce(this.database.db, context.getEvent(), (tx) => this.sagaHandlers.paymentDeclined(tx, event)));
  }

  private async invalidate(orderId: string, outcome: InboxOutcome<OrderSagaDecision>) {
    if (outcome.status === "applied" && outcome.value.kind === "transition") await this.orderCache.invalidate([orderId]);
  }
}
