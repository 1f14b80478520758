// The saga's wiring in one place: which stream carries whose events and which service
// consumes what. Services, the demo and the invariant checker all read it, so a new event or
// consumer is declared once.

/** One stream per producing service; subjects are the protobuf type names. */
export const streams = {
  orders: { name: "SHOP_ORDERS", subjects: ["shop.orders.v1.>"] },
  inventory: { name: "SHOP_INVENTORY", subjects: ["shop.inventory.v1.>"] },
  payments: { name: "SHOP_PAYMENTS", subjects: ["shop.payments.v1.>"] },
} as const;

export type ServiceName = keyof typeof streams;

export interface Subscription {
  /** Durable consumer shared by every replica; also the inbox's consumer name. */
  durable: string;
  stream: string;
  /** One durable per producer stream keeps that producer's events in stream order. */
  filterSubject: string;
  /** Event types handled; anything else on the subject is acknowledged and skipped. */
  handles: readonly string[];
}

function subscribe(consumer: ServiceName, producer: ServiceName, handles: readonly string[]): Subscription {
  return {
    durable: `${consumer}-from-${producer}`,
    stream: streams[producer].name,
    filterSubject: `shop.${producer}.v1.>`,
    handles,
  };
}

export const subscriptions: Record<ServiceName, Subscription[]> = {
  orders: [
    subscribe("orders", "inventory", ["shop.inventory.v1.StockReserved", "shop.inventory.v1.StockRejected"]),
    subscribe("orders", "payments", ["shop.payments.v1.PaymentCaptured", "shop.payments.v1.PaymentDeclined"]),
  ],
  inventory: [subscribe("inventory", "orders", ["shop.orders.v1.OrderPlaced", "shop.orders.v1.OrderCancelled", "shop.orders.v1.OrderConfirmed"])],
  payments: [
    subscribe("payments", "inventory", ["shop.inventory.v1.StockReserved"]),
    subscribe("payments", "orders", ["shop.orders.v1.OrderCancelled"]),
  ],
};
