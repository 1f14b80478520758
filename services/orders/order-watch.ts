// WatchOrder across replicas at a database cost that does not grow with the watchers (ADR 0125):
// every status change NOTIFYs the order id (saga.ts), each process keeps one LISTEN, and one read
// of a changed order serves all of its watchers. Reads go out in batches, one batch at a time.
// Notifications lost while the listener reconnected, or on a connection that died unnoticed, are
// caught by re-reading every watched order in batches: after each reconnect, and on an interval.
import { OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { NotFoundError, UnavailableError } from "@protomesh/server";
import type { Database } from "@protomesh/data";
import { ORDER_CHANGED_CHANNEL } from "./saga.js";

export interface OrderWatchOptions {
  /**
   * How often every watched order is re-read anyway: the backstop for notifications lost without
   * a reconnect to report it (a listener connection that died unnoticed). Default 10 000 ms.
   */
  resyncIntervalMs?: number | undefined;
  /** Most orders one read asks for. Default 500. */
  batchSize?: number | undefined;
}

/** The orders among `orderIds` that exist, read from the database (not a cache that may predate a change). */
export type ReadOrders = (orderIds: readonly string[]) => Promise<Order[]>;

export interface OrderWatch {
  /** Yields the order now, then on every status change, and ends after a terminal status. */
  watch(orderId: string, signal: AbortSignal): AsyncGenerator<Order>;
  /** Stops listening; watches still open end with Unavailable. */
  close(): Promise<void>;
}

/** One WatchOrder call. It holds at most the newest order it has not yielded yet, never a queue. */
interface Watcher {
  /** Status of the newest order handed over, yielded or not. */
  seen: OrderStatus | undefined;
  next: Order | Error | undefined;
  wake: (() => void) | undefined;
}

/** The watchers of one order and what the newest read of it found. */
interface Watched {
  watchers: Set<Watcher>;
  latest: Order | undefined;
}

const isTerminal = (order: Order) => order.status === OrderStatus.CONFIRMED || order.status === OrderStatus.CANCELLED;

export async function startOrderWatch(database: Pick<Database, "listen">, readOrders: ReadOrders, options: OrderWatchOptions = {}): Promise<OrderWatch> {
  const resyncIntervalMs = options.resyncIntervalMs ?? 10_000;
  const batchSize = options.batchSize ?? 500;
  if (!(resyncIntervalMs > 0)) throw new RangeError(`order watch resyncIntervalMs must be positive, got ${resyncIntervalMs}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`order watch batchSize must be a positive integer, got ${batchSize}`);

  const watched = new Map<string, Watched>();
  /** Watched orders to read again: changed since their last read began, or not read yet. */
  const stale = new Set<string>();
  /** The orders of the read in flight. */
  const reading = new Set<string>();
  let readsScheduled = false;
  let closed = false;

  const hand = (watcher: Watcher, order: Order) => {
    if (watcher.next instanceof Error || order.status === watcher.seen) return;
    watcher.seen = order.status;
    watcher.next = order;
    watcher.wake?.();
  };

  const end = (orderId: string, error: Error) => {
    const entry = watched.get(orderId);
    if (entry === undefined) return;
    watched.delete(orderId);
    stale.delete(orderId);
    for (const watcher of entry.watchers) {
      watcher.next = error;
      watcher.wake?.();
    }
  };

  const settle = (orderIds: readonly string[], found: Order[] | Error) => {
    if (found instanceof Error) {
      for (const orderId of orderIds) end(orderId, found);
      return;
    }
    const byId = new Map(found.map((order) => [order.orderId, order]));
    for (const orderId of orderIds) {
      const entry = watched.get(orderId);
      if (entry === undefined) continue;
      const order = byId.get(orderId);
      if (order === undefined) {
        end(orderId, new NotFoundError(`no order with id ${orderId}`));
        continue;
      }
      entry.latest = order;
      for (const watcher of entry.watchers) hand(watcher, order);
    }
  };

  // One read at a time: under many changes the batches grow instead of the number of reads.
  const readStale = async () => {
    while (stale.size > 0 && !closed) {
      const orderIds: string[] = [];
      for (const orderId of stale) {
        if (orderIds.length === batchSize) break;
        orderIds.push(orderId);
      }
      for (const orderId of orderIds) {
        stale.delete(orderId);
        reading.add(orderId);
      }
      let found: Order[] | Error;
      try {
        found = await readOrders(orderIds);
      } catch (err) {
        found = err instanceof Error ? err : new Error(String(err));
      }
      reading.clear();
      settle(orderIds, found);
    }
    readsScheduled = false;
  };

  // Read on the next turn of the event loop, so notifications that arrive together share a read.
  const markStale = (orderId: string) => {
    stale.add(orderId);
    if (readsScheduled || closed) return;
    readsScheduled = true;
    setImmediate(() => void readStale());
  };

  const resync = () => {
    for (const orderId of watched.keys()) markStale(orderId);
  };

  const unlisten = await database.listen(
    ORDER_CHANGED_CHANNEL,
    (orderId) => {
      if (watched.has(orderId)) markStale(orderId);
    },
    { onReconnect: resync },
  );
  const resyncTimer = setInterval(resync, resyncIntervalMs);
  resyncTimer.unref();

  const join = (orderId: string, watcher: Watcher): Watched => {
    const entry = watched.get(orderId);
    if (entry === undefined) {
      const created: Watched = { watchers: new Set([watcher]), latest: undefined };
      watched.set(orderId, created);
      // Even if a read of it is in flight: notifications that came while nobody watched it were dropped.
      markStale(orderId);
      return created;
    }
    entry.watchers.add(watcher);
    // A read that began while the order was watched serves it as well; so does the last read
    // when nothing was notified since it began.
    if (reading.has(orderId) || stale.has(orderId)) return entry;
    if (entry.latest === undefined) markStale(orderId);
    else hand(watcher, entry.latest);
    return entry;
  };

  const leave = (orderId: string, entry: Watched, watcher: Watcher) => {
    entry.watchers.delete(watcher);
    if (entry.watchers.size > 0 || watched.get(orderId) !== entry) return;
    watched.delete(orderId);
    stale.delete(orderId);
  };

  return {
    async *watch(orderId, signal) {
      if (closed) throw new UnavailableError("this replica has stopped watching orders; watch again");
      const watcher: Watcher = { seen: undefined, next: undefined, wake: undefined };
      const entry = join(orderId, watcher);
      const onAbort = () => watcher.wake?.();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        while (!signal.aborted) {
          const next = watcher.next;
          if (next === undefined) {
            await new Promise<void>((resolve) => (watcher.wake = resolve));
            watcher.wake = undefined;
            continue;
          }
          watcher.next = undefined;
          if (next instanceof Error) throw next;
          yield next;
          if (isTerminal(next)) return;
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        leave(orderId, entry, watcher);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(resyncTimer);
      await unlisten();
      const stopped = new UnavailableError("this replica has stopped watching orders; watch again");
      for (const orderId of [...watched.keys()]) end(orderId, stopped);
    },
  };
}
