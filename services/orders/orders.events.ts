import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { StockRejectedSchema, StockReservedSchema, type StockRejected, type StockReserved } from "protomesh/gen/shop/inventory/v1/events_pb";
import { PaymentCapturedSchema, PaymentDeclinedSchema, type PaymentCaptured, type PaymentDeclined } from "protomesh/gen/shop/payments/v1/events_pb";
import type { OrderSagaDecision } from "./domain/order-saga.js";
import type { OrderCache } from "./order-cache.js";
import { ORDER_CACHE, SAGA_HANDLERS } from "./orders.tokens.js";
import type { SagaHandlers } from "./saga.js";

/**
 * Orders' saga handlers: confirm on PaymentCaptured, cancel on StockRejected or PaymentDeclined,
 * each once per event in the transaction the toolkit opens with its inbox row. After a commit
 * that changed the order, its cached copy is invalidated.
 */
@Controller()
@UseFilters(new EventErrorFilter())
export class OrdersEvents {
  constructor(
    @Inject(ORDER_CACHE) private readonly orderCache: OrderCache,
    @Inject(SAGA_HANDLERS) private readonly sagaHandlers: SagaHandlers,
  ) {}

  @OnEvent(StockReservedSchema, { inbox: true })
  async stockReserved(@Payload() event: StockReserved, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, event.orderId, await this.sagaHandlers.stockReserved(context.getTransaction(), event));
  }

  @OnEvent(StockRejectedSchema, { inbox: true })
  async stockRejected(@Payload() event: StockRejected, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, event.orderId, await this.sagaHandlers.stockRejected(context.getTransaction(), event));
  }

  @OnEvent(PaymentCapturedSchema, { inbox: true })
  async paymentCaptured(@Payload() event: PaymentCaptured, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, event.orderId, await this.sagaHandlers.paymentCaptured(context.getTransaction(), event));
  }

  @OnEvent(PaymentDeclinedSchema, { inbox: true })
  async paymentDeclined(@Payload() event: PaymentDeclined, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, event.orderId, await this.sagaHandlers.paymentDeclined(context.getTransaction(), event));
  }

  private invalidateAfterCommit(context: EventContext, orderId: string, decision: OrderSagaDecision) {
    if (decision.kind === "transition") context.afterCommit(() => this.orderCache.invalidate([orderId]));
  }
}
