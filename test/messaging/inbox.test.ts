import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Tx } from "@protomesh/data";
import { applyOnce, createDeadLetterStore, createMemoryBus, EventHeaders, inbox, type InboxOutcome, minimumInboxRetentionMs, pruneInbox, replayDeadLetter, withInbox } from "@protomesh/messaging";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { type DatabaseBackend, pgliteBackend, postgresBackend, schema, type TestSchema } from "./backends.js";

const { accounts } = schema;
const backends: DatabaseBackend[] = [pgliteBackend(), postgresBackend("inbox")];

describe.each(backends)("inbox and dead letters on $name", (backend) => {
  let database: Database<TestSchema>;
  let replica: Database<TestSchema>;
  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
    replica = await backend.open();
  });
  afterAll(() => backend.teardown());

  const credit = (db: Database<TestSchema>, account: string, eventId: string, hold = 0) =>
    db.db.transaction(async (tx) =>
      withInbox(tx, { consumer: "payments", eventId }, async (t) => {
        await t.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(eq(accounts.id, account));
        // Keep the transaction open so the duplicate really runs concurrently.
        if (hold > 0) await sleep(hold);
        return "credited";
      }),
    );

  it("applies an event's effect exactly once when two workers get it at the same time", async () => {
    await database.db.insert(accounts).values({ id: "acc-1", balance: 0 });
    const outcomes: InboxOutcome<string>[] = await Promise.all(
      Array.from({ length: 10 }, (_, i) => credit(i % 2 === 0 ? database : replica, "acc-1", "evt-1", 50)),
    );
    expect(outcomes.filter((o) => o.status === "applied")).toEqual([{ status: "applied", value: "credited" }]);
    expect(outcomes.filter((o) => o.status === "duplicate")).toHaveLength(9);
    const [row] = await database.db.select().from(accounts).where(eq(accounts.id, "acc-1"));
    expect(row?.balance).toBe(1);
  });

  it("lets a redelivery apply the effect when the first attempt rolled back", async () => {
    await database.db.insert(accounts).values({ id: "acc-2", balance: 0 });
    await expect(
      database.db.transaction((tx) =>
        withInbox(tx, { consumer: "payments", eventId: "evt-2" }, async () => {
          throw new Error("downstream failed");
        }),
      ),
    ).rejects.toThrow("downstream failed");
    expect(await credit(database, "acc-2", "evt-2")).toEqual({ status: "applied", value: "credited" });
    expect(await credit(database, "acc-2", "evt-2")).toEqual({ status: "duplicate" });
    const [row] = await database.db.select().from(accounts).where(eq(accounts.id, "acc-2"));
    expect(row?.balance).toBe(1);
  });

  it("keeps one record per consumer: the same event applies once to each", async () => {
    const a = await database.db.transaction((tx) => withInbox(tx, { consumer: "inventory", eventId: "evt-3" }, () => Promise.resolve(1)));
    const b = await database.db.transaction((tx) => withInbox(tx, { consumer: "payments", eventId: "evt-3" }, () => Promise.resolve(2)));
    expect([a.status, b.status]).toEqual(["applied", "applied"]);
  });

  it("applyOnce opens the transaction itself and reports the duplicate", async () => {
    await database.db.insert(accounts).values({ id: "acc-4", balance: 0 });
    const effect = (tx: Tx<TestSchema>) =>
      tx.update(accounts).set({ balance: sql`${accounts.balance} + 1` }).where(eq(accounts.id, "acc-4"));
    expect((await applyOnce(database.db, { consumer: "ledger", eventId: "evt-4" }, effect)).status).toBe("applied");
    expect(await applyOnce(replica.db, { consumer: "ledger", eventId: "evt-4" }, effect)).toEqual({ status: "duplicate" });
    const [row] = await database.db.select().from(accounts).where(eq(accounts.id, "acc-4"));
    expect(row?.balance).toBe(1);
  });

  it("prunes records only past the retention", async () => {
    await database.db.insert(inbox).values({ consumer: "old", eventId: "ancient", processedAt: new Date(Date.now() - 10 * 24 * 3600_000) });
    expect(await pruneInbox(database.db, 7 * 24 * 3600_000)).toBe(1);
    const left = await database.db.select().from(inbox).where(eq(inbox.eventId, "evt-1"));
    expect(left).toHaveLength(1);
    expect(minimumInboxRetentionMs({ maxDeliver: 5, ackWaitMs: 30_000, maxNakDelayMs: 60_000 })).toBe(24 * 3600_000);
  });

  it("stores a dead letter once, lists it and replays it unchanged", async () => {
    const store = createDeadLetterStore(database.db);
    const payload = toBinary(OrderPlacedSchema, create(OrderPlacedSchema, { eventId: "evt-dead", orderId: "o-9" }));
    const letter = {
      stream: "ORDERS",
      consumer: "inventory",
      subject: "shop.orders.v1.OrderPlaced",
      streamSequence: 42,
      deliveries: 5,
      eventId: "evt-dead",
      eventType: OrderPlacedSchema.typeName,
      headers: { [EventHeaders.eventType]: OrderPlacedSchema.typeName, [EventHeaders.eventId]: "evt-dead" },
      payload,
      reason: "boom",
    };
    await store.write(letter);
    await store.write(letter);
    const listed = await store.list({ onlyPending: true });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ ...letter, replayedAt: null });
    expect(listed[0]?.payload).toEqual(payload);

    const bus = createMemoryBus();
    await bus.ensureStream({ name: "ORDERS", subjects: ["shop.orders.v1.>"] });
    const ack = await replayDeadLetter(store, bus, listed[0]?.id ?? 0);
    expect(ack.duplicate).toBe(false);
    expect(await store.list({ onlyPending: true })).toEqual([]);
    await bus.close();
  });
});
