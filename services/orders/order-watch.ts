// WatchOrder across replicas: every status change NOTIFYs the order id (saga.ts), and each
// process keeps one LISTEN that wakes the watchers of that order. Notifications can be lost
// while a listener reconnects, so watchers also re-read on a poll interval.
import { OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { Database } from "protomesh/kit/data";
import { ORDER_CHANGED_CHANNEL } from "./saga.js";

export interface OrderWatchOptions {
  /** Re-read interval when no notification arrives. Default 1000 ms. */
  pollIntervalMs?: number;
}

const isTerminal = (order: Order) => order.status === OrderStatus.CONFIRMED || order.status === OrderStatus.CANCELLED;

export async function startOrderWatch(database: Pick<Database, "listen">, getOrder: (orderId: string) => Promise<Order>, options: OrderWatchOptions = {}) {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const wakers = new Map<string, Set<() => void>>();
  const unlisten = await database.listen(ORDER_CHANGED_CHANNEL, (orderId) => {
    for (const wake of wakers.get(orderId) ?? []) wake();
  });

  function nextChange(orderId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        const set = wakers.get(orderId);
        set?.delete(done);
        if (set?.size === 0) wakers.delete(orderId);
        resolve();
      };
      const timer = setTimeout(done, pollIntervalMs);
      signal.addEventListener("abort", done, { once: true });
      wakers.set(orderId, (wakers.get(orderId) ?? new Set()).add(done));
    });
  }

  return {
    /** Yields the order now, then on every status change, and ends after a terminal status. */
    async *watch(orderId: string, signal: AbortSignal): AsyncGenerator<Order> {
      let last = await getOrder(orderId);
      yield last;
      while (!isTerminal(last) && !signal.aborted) {
        await nextChange(orderId, signal);
        if (signal.aborted) return;
        const current = await getOrder(orderId);
        if (current.status !== last.status) yield current;
        last = current;
      }
    },
    close: () => unlisten(),
  };
}
