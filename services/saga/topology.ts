// The saga's wiring in one place: which stream carries whose events and which service
// consumes which event types. Services, the demo and the invariant checker all read it, so a
// new event or consumer is declared once.
import { defaultDurableName, type StreamSpec } from "@protomesh/messaging";

export type ServiceName = "orders" | "inventory" | "payments";

/** One stream per producing service; subjects are the protobuf type names. */
export const streams: Record<ServiceName, StreamSpec> = {
  orders: { name: "SHOP_ORDERS", subjects: ["shop.orders.v1.>"] },
  inventory: { name: "SHOP_INVENTORY", subjects: ["shop.inventory.v1.>"] },
  payments: { name: "SHOP_PAYMENTS", subjects: ["shop.payments.v1.>"] },
};

/** Event types each service handles, by producer. */
export const consumes: Record<ServiceName, readonly { producer: ServiceName; eventType: string }[]> = {
  orders: [
    { producer: "inventory", eventType: "shop.inventory.v1.StockReserved" },
    { producer: "inventory", eventType: "shop.inventory.v1.StockRejected" },
    { producer: "payments", eventType: "shop.payments.v1.PaymentCaptured" },
    { producer: "payments", eventType: "shop.payments.v1.PaymentDeclined" },
  ],
  inventory: [
    { producer: "orders", eventType: "shop.orders.v1.OrderPlaced" },
    { producer: "orders", eventType: "shop.orders.v1.OrderCancelled" },
    { producer: "orders", eventType: "shop.orders.v1.OrderConfirmed" },
  ],
  payments: [
    { producer: "inventory", eventType: "shop.inventory.v1.StockReserved" },
    { producer: "orders", eventType: "shop.orders.v1.OrderCancelled" },
  ],
};

export interface Subscription {
  consumer: ServiceName;
  producer: ServiceName;
  /**
   * The durable consumer the service's handler runs on, and so its inbox key: the toolkit's
   * default name. Sharded inventory prefixes the shard instead (`defaultDurableName("inventory-1", …)`, ADR 0105).
   */
  durable: string;
  stream: string;
  eventType: string;
}

export const subscriptions: Subscription[] = (Object.keys(consumes) as ServiceName[]).flatMap((consumer) =>
  consumes[consumer].map(({ producer, eventType }) => ({ consumer, producer, durable: defaultDurableName(consumer, eventType), stream: streams[producer].name, eventType })),
);

/**
 * Settings every saga consumer shares. A 10 s ack wait (JetStream's default is 30 s) brings an
 * event held by a crashed replica back to another within the saga deadline; live handlers keep
 * their lease with `working()` heartbeats.
 */
export const consumerDefaults = { ackWaitMs: 10_000 } as const;
