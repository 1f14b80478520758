import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Ctx, Payload } from "@nestjs/microservices";
import type { Database } from "protomesh/kit/data";
import { EventErrorFilter, JetStreamContext, OnEvent } from "protomesh/kit/messaging";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderPlacedSchema, type OrderCancelled, type OrderConfirmed, type OrderPlaced } from "protomesh/gen/shop/orders/v1/events_pb";
import { applyEventOnce } from "../saga/apply-once.js";
import { INVENTORY_DATABASE } from "./inventory.tokens.js";
import { reservationHandlers } from "./reservations.js";

/** Inventory's saga handlers: reserve on OrderPlaced, release on OrderCancelled, sell on OrderConfirmed. */
@Controller()
@UseFilters(new EventErrorFilter())
export class InventoryEvents {
  constructor(@Inject(INVENTORY_DATABASE) private readonly database: Database) {}

  @OnEvent(OrderPlacedSchema)
  async orderPlaced(@Payload() event: OrderPlaced, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "inventory", context, (tx) => reservationHandlers.orderPlaced(tx, event));
  }

  @OnEvent(OrderCancelledSchema)
  async orderCancelled(@Payload() event: OrderCancelled, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "inventory", context, (tx) => reservationHandlers.orderCancelled(tx, event));
  }

  @OnEvent(OrderConfirmedSchema)
  async orderConfirmed(@Payload() event: OrderConfirmed, @Ctx() context: JetStreamContext) {
    await applyEventOnce(this.database.db, "inventory", context, (tx) => reservationHandlers.orderConfirmed(tx, event));
  }
}
