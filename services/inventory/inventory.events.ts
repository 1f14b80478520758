import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import type { Database } from "@protomesh/data";
import { EventErrorFilter, EventContext, OnEvent } from "@protomesh/messaging/nest";
import { applyOnce, type InboxOutcome } from "@protomesh/messaging";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema, type OrderCancelled, type OrderConfirmed, type OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import type { ReservationDecision } from "./domain/reservation.js";
import { INVENTORY_DATABASE, RESERVATION_HANDLERS, STOCK_CACHE } from "./inventory.tokens.js";
import type { ReservationHandlers } from "./reservations.js";
import type { StockCache } from "./stock.js";

/**
 * Inventory's saga handlers: reserve on OrderPlaced, release on OrderCancelled, sell on
 * OrderConfirmed. After each commit the cached stock items it changed are invalidated.
 */
@Controller()
@UseFilters(new EventErrorFilter())
export class InventoryEvents {
  constructor(
    @Inject(INVENTORY_DATABASE) private readonly database: Database,
    @Inject(STOCK_CACHE) private readonly stockCache: StockCache,
    @Inject(RESERVATION_HANDLERS) private readonly reservations: ReservationHandlers,
  ) {}

  @OnEvent(OrderPlacedSchema)
  async orderPlaced(@Payload() event: OrderPlaced, @Ctx() context: EventContext) {
    await this.invalidate(await applyOnce(this.database.db, context.getEvent(), (tx) => this.reservations.orderPlaced(tx, event)));
  }

  @OnEvent(OrderCancelledSchema)
  async orderCancelled(@Payload() event: OrderCancelled, @Ctx() context: EventContext) {
    await this.invalidate(await applyOnce(this.database.db, context.getEvent(), (tx) => this.reservations.orderCancelled(tx, event)));
  }

  @OnEvent(OrderConfirmedSchema)
  async orderConfirmed(@Payload() event: OrderConfirmed, @Ctx() context: EventContext) {
    await this.invalidate(await applyOnce(this.database.db, context.getEvent(), (tx) => this.reservations.orderConfirmed(tx, event)));
  }

  private async invalidate(outcome: InboxOutcome<ReservationDecision>) {
    if (outcome.status === "applied" && outcome.value.kind === "transition") await this.stockCache.invalidate(outcome.value.stockChanges.map((change) => change.sku));
  }
}
