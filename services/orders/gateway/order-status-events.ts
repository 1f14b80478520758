// What feeds the gateway: the orders service's own events. OrderPlaced, OrderConfirmed and
// OrderCancelled are written to the outbox in the transaction that changes the status, so each
// committed status change arrives here exactly as often as it happened (at least once, never
// for a rolled-back change), on whichever replica takes it; the Redis adapter carries the push
// to the sockets on every replica (ADR 0060).
import { Controller, Inject, UseFilters } from "@nestjs/common";
import { Payload } from "@nestjs/microservices";
import { EventErrorFilter, OnEvent } from "@protomesh/messaging/nest";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderPlacedSchema,
  type OrderCancelled,
  type OrderConfirmed,
  type OrderPlaced,
} from "protomesh/gen/shop/orders/v1/events_pb";
import type { Orders } from "../orders.js";
import { ORDERS_FROM_DATABASE } from "../orders.tokens.js";
import { OrderStatusGateway } from "./order-status-gateway.js";

/** Durable consumers apart from the saga's (no inbox: a repeated push of the current state is harmless). */
const durable = (event: string) => `orders_status_push_${event}`;

@Controller()
@UseFilters(new EventErrorFilter())
export class OrderStatusEvents {
  constructor(
    @Inject(ORDERS_FROM_DATABASE) private readonly orders: Orders,
    @Inject(OrderStatusGateway) private readonly gateway: OrderStatusGateway,
  ) {}

  @OnEvent(OrderPlacedSchema, { durable: durable("OrderPlaced") })
  async orderPlaced(@Payload() event: OrderPlaced) {
    await this.pushCurrent(event.orderId);
  }

  @OnEvent(OrderConfirmedSchema, { durable: durable("OrderConfirmed") })
  async orderConfirmed(@Payload() event: OrderConfirmed) {
    await this.pushCurrent(event.orderId);
  }

  @OnEvent(OrderCancelledSchema, { durable: durable("OrderCancelled") })
  async orderCancelled(@Payload() event: OrderCancelled) {
    await this.pushCurrent(event.orderId);
  }

  // The order as committed now, read from the database (not a cache that may not have heard
  // of the change yet). Events of different types may be handled out of order, so a client
  // keeps the push with the newest updatedAt per order.
  private async pushCurrent(orderId: string): Promise<void> {
    this.gateway.push(await this.orders.getOrder(orderId));
  }
}
