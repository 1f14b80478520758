import { create } from "@bufbuild/protobuf";
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterEach, describe, expect, it, vi } from "vitest";
import { OrderSchema, OrderStatus, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { ListenOptions } from "@protomesh/data";
import { type OrderWatchOptions, startOrderWatch } from "./order-watch.js";
import { ORDER_CHANGED_CHANNEL } from "./saga.js";

const { PENDING, CONFIRMED, CANCELLED } = OrderStatus;

/** Orders in memory, a LISTEN that the test drives, and every read the watch makes. */
function fixture(ids: string[]) {
  const stored = new Map(ids.map((orderId) => [orderId, create(OrderSchema, { orderId, status: PENDING })]));
  const reads: string[][] = [];
  let failNextRead: Error | undefined;
  let notify: (payload: string) => void = () => undefined;
  let listenOptions: ListenOptions = {};
  const database = {
    listen: async (channel: string, onNotify: (payload: string) => void, options?: ListenOptions) => {
      expect(channel).toBe(ORDER_CHANGED_CHANNEL);
      notify = onNotify;
      listenOptions = options ?? {};
      return async () => undefined;
    },
  };
  // What a read returns is what was stored when it began, as a database snapshot would be.
  const readOrders = async (orderIds: readonly string[]): Promise<Order[]> => {
    reads.push([...orderIds]);
    const found = orderIds.flatMap((orderId) => stored.get(orderId) ?? []);
    const failure = failNextRead;
    failNextRead = undefined;
    await nextTurn();
    if (failure !== undefined) throw failure;
    return found;
  };
  return {
    reads,
    start: (options?: OrderWatchOptions) => startOrderWatch(database, readOrders, options),
    /** Commits a status change; `notified: false` is a notification lost on the way. */
    change(orderId: string, status: OrderStatus, notified = true) {
      stored.set(orderId, create(OrderSchema, { orderId, status }));
      if (notified) notify(orderId);
    },
    reconnect: () => listenOptions.onReconnect?.(),
    failNextRead: (error: Error) => (failNextRead = error),
  };
}

/** Runs one watch in the background, keeping the statuses it yields and how it ended. */
function watching(stream: AsyncGenerator<Order>) {
  const statuses: OrderStatus[] = [];
  const ended = (async () => {
    for await (const order of stream) statuses.push(order.status);
  })().then(
    () => "done" as const,
    (error: unknown) => error as Error,
  );
  return { statuses, ended };
}

/** Lets every pending read and hand-over run. */
const settled = async () => {
  for (let i = 0; i < 5; i++) await nextTurn();
};

describe("order watch", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("yields the order now, then each status change, and ends at a terminal status", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const one = watching(watch.watch("o1", new AbortController().signal));
    await settled();
    expect(one.statuses).toEqual([PENDING]);
    orders.change("o1", CONFIRMED);
    expect(await one.ended).toBe("done");
    expect(one.statuses).toEqual([PENDING, CONFIRMED]);
    await watch.close();
  });

  it("serves a thousand watchers of five orders with one read to start and one per round of changes", async () => {
    const ids = ["o1", "o2", "o3", "o4", "o5"];
    const orders = fixture(ids);
    const watch = await orders.start();
    const watchers = Array.from({ length: 1000 }, (_, i) => watching(watch.watch(ids[i % ids.length] as string, new AbortController().signal)));
    await settled();
    expect(orders.reads).toEqual([ids]);
    expect(watchers.every((w) => w.statuses.length === 1 && w.statuses[0] === PENDING)).toBe(true);

    ids.forEach((orderId, i) => orders.change(orderId, i % 2 === 0 ? CONFIRMED : CANCELLED));
    await Promise.all(watchers.map((w) => w.ended));
    expect(orders.reads).toEqual([ids, ids]);
    watchers.forEach((w, i) => expect(w.statuses).toEqual([PENDING, i % ids.length % 2 === 0 ? CONFIRMED : CANCELLED]));
    await watch.close();
  });

  it("splits a read into batches of at most batchSize orders, one batch at a time", async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `o${i}`);
    const orders = fixture(ids);
    const watch = await orders.start({ batchSize: 3 });
    const watchers = ids.map((orderId) => watching(watch.watch(orderId, new AbortController().signal)));
    await settled();
    expect(orders.reads.map((read) => read.length)).toEqual([3, 3, 1]);
    expect(watchers.map((w) => w.statuses)).toEqual(ids.map(() => [PENDING]));
    await watch.close();
  });

  it("gives a watcher that joins later the state read for the others, without another read", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const first = watching(watch.watch("o1", new AbortController().signal));
    await settled();
    const second = watching(watch.watch("o1", new AbortController().signal));
    await settled();
    expect(second.statuses).toEqual([PENDING]);
    expect(orders.reads).toHaveLength(1);

    // Joining while the read of a change is in flight: that read serves the newcomer too.
    orders.change("o1", CANCELLED);
    await nextTurn();
    expect(orders.reads).toHaveLength(2);
    const third = watching(watch.watch("o1", new AbortController().signal));
    await Promise.all([first.ended, second.ended, third.ended]);
    expect(third.statuses).toEqual([CANCELLED]);
    expect(orders.reads).toHaveLength(2);
    await watch.close();
  });

  it("does not leave a watcher with a read that began before its order was watched again", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const caller = new AbortController();
    const first = watching(watch.watch("o1", caller.signal));
    await settled();
    orders.reconnect();
    await nextTurn();
    expect(orders.reads).toHaveLength(2);
    // While that read is in flight: its only watcher leaves, the order changes, a new watcher comes.
    caller.abort();
    expect(await first.ended).toBe("done");
    orders.change("o1", CANCELLED);
    const second = watching(watch.watch("o1", new AbortController().signal));
    expect(await second.ended).toBe("done");
    expect(second.statuses).toEqual([PENDING, CANCELLED]);
    await watch.close();
  });

  it("catches a change whose notification was lost once the listener reconnects, with one read whatever the watchers", async () => {
    const ids = ["o1", "o2"];
    const orders = fixture(ids);
    const watch = await orders.start();
    const watchers = Array.from({ length: 500 }, (_, i) => watching(watch.watch(ids[i % 2] as string, new AbortController().signal)));
    await settled();
    orders.change("o1", CANCELLED, false);
    await settled();
    expect(watchers[0]?.statuses).toEqual([PENDING]);
    expect(orders.reads).toHaveLength(1);

    orders.reconnect();
    await Promise.all(watchers.filter((_, i) => i % 2 === 0).map((w) => w.ended));
    expect(orders.reads).toEqual([ids, ids]);
    expect(watchers[1]?.statuses).toEqual([PENDING]);
    await watch.close();
  });

  it("re-reads every watched order on the resync interval, with no notification or reconnect", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const orders = fixture(["o1"]);
    const watch = await orders.start({ resyncIntervalMs: 10_000 });
    const one = watching(watch.watch("o1", new AbortController().signal));
    await settled();
    orders.change("o1", CONFIRMED, false);
    vi.advanceTimersByTime(9_999);
    await settled();
    expect(one.statuses).toEqual([PENDING]);
    vi.advanceTimersByTime(1);
    expect(await one.ended).toBe("done");
    expect(one.statuses).toEqual([PENDING, CONFIRMED]);
    expect(orders.reads).toHaveLength(2);
    await watch.close();
  });

  it("lets go of abandoned watchers: a change of their order is read no more", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const callers = Array.from({ length: 100 }, () => new AbortController());
    const watchers = callers.map((caller) => watching(watch.watch("o1", caller.signal)));
    await settled();
    for (const caller of callers) caller.abort();
    expect(await Promise.all(watchers.map((w) => w.ended))).toEqual(callers.map(() => "done"));

    orders.change("o1", CONFIRMED);
    orders.reconnect();
    await settled();
    expect(orders.reads).toHaveLength(1);
    await watch.close();
  });

  it("ends the watchers of an unknown order with NotFound, and those of a failed read with its error", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const unknown = watching(watch.watch("nope", new AbortController().signal));
    expect(await unknown.ended).toMatchObject({ name: "NotFoundError", message: "no order with id nope" });

    const watchers = [watching(watch.watch("o1", new AbortController().signal)), watching(watch.watch("o1", new AbortController().signal))];
    await settled();
    orders.failNextRead(new Error("connection terminated"));
    orders.change("o1", CONFIRMED);
    for (const w of watchers) expect(await w.ended).toMatchObject({ message: "connection terminated" });
    expect(watchers.map((w) => w.statuses)).toEqual([[PENDING], [PENDING]]);

    // A failed read is not remembered: the next watcher reads again.
    const later = watching(watch.watch("o1", new AbortController().signal));
    expect(await later.ended).toBe("done");
    expect(later.statuses).toEqual([CONFIRMED]);
    await watch.close();
  });

  it("ends the watches still open with Unavailable when closed", async () => {
    const orders = fixture(["o1"]);
    const watch = await orders.start();
    const open = watching(watch.watch("o1", new AbortController().signal));
    await settled();
    await watch.close();
    expect(await open.ended).toMatchObject({ name: "UnavailableError" });
    await expect(watching(watch.watch("o1", new AbortController().signal)).ended).resolves.toMatchObject({ name: "UnavailableError" });
  });

  it("refuses options that cannot work, naming the option", async () => {
    const orders = fixture([]);
    await expect(orders.start({ resyncIntervalMs: 0 })).rejects.toThrow("resyncIntervalMs must be positive, got 0");
    await expect(orders.start({ batchSize: 0.5 })).rejects.toThrow("batchSize must be a positive integer, got 0.5");
  });
});
