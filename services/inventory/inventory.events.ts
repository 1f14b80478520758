import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema, type OrderCancelled, type OrderConfirmed, type OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ReservationDecision } from "./domain/reservation.js";
import { RESERVATION_HANDLERS, STOCK_CACHE } from "./inventory.tokens.js";
import type { ReservationHandlers } from "./reservations.js";
import type { StockCache } from "./stock.js";

/**
 * Inventory's saga handlers: reserve on OrderPlaced, release on OrderCancelled, sell on
 * OrderConfirmed, each once per event in the transaction the toolkit opens with its inbox row.
 * After each commit the cached stock items it changed are invalidated.
 */
@Controller()
@UseFilters(new EventErrorFilter())
export class InventoryEvents {
  constructor(
    @Inject(STOCK_CACHE) private readonly stockCache: StockCache,
    @Inject(RESERVATION_HANDLERS) private readonly reservations: ReservationHandlers,
  ) {}

  @OnEvent(OrderPlacedSchema, { inbox: true })
  async orderPlaced(@Payload() event: OrderPlaced, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, await this.reservations.orderPlaced(context.getTransaction(), event));
  }

  @OnEvent(OrderCancelledSchema, { inbox: true })
  async orderCancelled(@Payload() event: OrderCancelled, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, await this.reservations.orderCancelled(context.getTransaction(), event));
  }

  @OnEvent(OrderConfirmedSchema, { inbox: true })
  async orderConfirmed(@Payload() event: OrderConfirmed, @Ctx() context: EventContext) {
    this.invalidateAfterCommit(context, await this.reservations.orderConfirmed(context.getTransaction(), event));
  }

  private invalidateAfterCommit(context: EventContext, decision: ReservationDecision) {
    if (decision.kind === "transition") context.afterCommit(() => this.stockCache.invalidate(decision.stockChanges.map((change) => change.sku)));
  }
}
