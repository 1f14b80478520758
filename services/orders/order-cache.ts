// GetOrder through a read-through cache (Redis when configured). Every status change
// invalidates the order after it commits: the saga handlers (orders.events.ts), CancelOrder
// (below) and the deadline sweep (saga-tracker.ts); the TTL bounds an invalidation that was lost.
import type { ReadThroughCache } from "@protomesh/cache";
import type { Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { Orders } from "./orders.js";

export type OrderCache = ReadThroughCache<Order>;

/** Where orders are cached; the key is the order id. */
export const ORDER_CACHE_NAMESPACE = "orders:order";

export function withOrderCache(orders: Orders, cache: OrderCache): Orders {
  return {
    ...orders,
    getOrder: (orderId) => cache.get(orderId, (id) => orders.getOrder(id)),
    async cancelOrder(orderId) {
      try {
        return await orders.cancelOrder(orderId);
      } finally {
        await cache.invalidate([orderId]);
      }
    },
  };
}
