// The outbox on PGlite and PostgreSQL: events written in the business transaction, and the relay
// that publishes them (per-aggregate order across relays, retries, readiness, leases, restarts,
// retention). Then the relay's marks, which ride its next claim (docs/adr/0145): how soon they
// land, what they keep of per-aggregate order across relays, what a round costs in statements, and
// that none is lost to a stop or a failed statement.
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary } from "@bufbuild/protobuf";
import { asc, eq, like, sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Database, type Executor, openDatabase } from "@protomesh/data";
import { createOutboxRelay, EventHeaders, type EventPublisher, type OutboxRelay, type OutboxRelayOptions, outbox, outboxStats, prepareEventWrite, writeEvent } from "@protomesh/messaging";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import { createTestDatabase } from "../helpers/index.js";
import { type DatabaseBackend, migrationsFolder, pgliteBackend, postgresBackend, schema, type TestSchema } from "./backends.js";
import { type RecordingPublisher, recordingPublisher } from "./recording-publisher.js";

const backends: DatabaseBackend[] = [pgliteBackend(), postgresBackend("outbox")];

describe.each(backends)("outbox on $name", (backend) => {
  let database: Database<TestSchema>;
  const relays: OutboxRelay[] = [];
  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
  });
  afterEach(async () => {
    // A relay left running would publish the next test's rows to this test's recorder.
    await Promise.all(relays.splice(0).map((r) => r.stop()));
  });
  afterAll(async () => {
    await backend.teardown();
  });

  // Every test uses its own aggregate type and event-id prefix, so rows of other tests never mix in.
  let run = 0;
  function scenario() {
    const aggregateType = `agg${++run}`;
    const prefix = `${aggregateType}:`;
    const write = (db: Executor, aggregateId: string, eventId: string, headers?: Record<string, string>) =>
      writeEvent(db, {
        aggregateType,
        aggregateId,
        schema: OrderPlacedSchema,
        event: create(OrderPlacedSchema, { eventId: prefix + eventId, orderId: aggregateId }),
        headers,
      });
    const writeTx = (aggregateId: string, eventId: string) => database.db.transaction((tx) => write(tx, aggregateId, eventId));
    /** What this test's rows published, event ids without the prefix. */
    const mine = (p: RecordingPublisher) =>
      p.published
        .filter((m) => m.headers[EventHeaders.aggregateType] === aggregateType)
        .map((m) => ({ ...m, messageId: m.messageId.slice(prefix.length) }));
    const rows = async () =>
      (await database.db.select().from(outbox).where(eq(outbox.aggregateType, aggregateType)).orderBy(asc(outbox.id))).map((row) => ({
        ...row,
        eventId: row.eventId.slice(prefix.length),
      }));
    const unmarked = async () => (await rows()).filter((row) => row.publishedAt === null).map((row) => row.eventId);
    return { aggregateType, prefix, write, writeTx, mine, rows, unmarked };
  }
  function relay(db: Database<TestSchema>, publisher: EventPublisher, options: OutboxRelayOptions = {}) {
    const r = createOutboxRelay({ database: db, publisher }, { pollIntervalMs: 50, ...options });
    relays.push(r);
    return r;
  }

  it("publishes a committed event with the event id as dedupe id, its type and its headers", async () => {
    const { writeTx, write, mine } = scenario();
    const publisher = recordingPublisher();
    await writeTx("o-1", "e-1");
    await database.db.transaction((tx) => write(tx, "o-2", "e-2", { traceparent: "00-abc-def-01" }));
    await relay(database, publisher).runOnce();
    const sent = mine(publisher);
    expect(sent.map((m) => m.messageId)).toEqual(["e-1", "e-2"]);
    expect(sent[1]).toMatchObject({
      subject: "shop.orders.v1.OrderPlaced",
      headers: { traceparent: "00-abc-def-01", [EventHeaders.eventType]: "shop.orders.v1.OrderPlaced", [EventHeaders.aggregateId]: "o-2" },
    });
  });

  it("never publishes an event from a rolled-back transaction", async () => {
    const { write, writeTx, mine } = scenario();
    const publisher = recordingPublisher();
    await database.db
      .transaction(async (tx) => {
        await write(tx, "o-1", "phantom");
        throw new Error("business rule failed");
      })
      .catch(() => undefined);
    await writeTx("o-2", "real");
    await relay(database, publisher).runOnce();
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["real"]);
  });

  it("stores the writes given alongside an event in its statement, and rolls them back with it", async () => {
    const { aggregateType, mine, rows } = scenario();
    const publisher = recordingPublisher();
    const account = (suffix: string) => `${aggregateType}-${suffix}`;
    const event = (eventId: string) => ({ aggregateType, aggregateId: "o-1", schema: OrderPlacedSchema, event: create(OrderPlacedSchema, { eventId: `${aggregateType}:${eventId}`, orderId: "o-1" }) });
    await database.db.transaction(async (tx) => {
      await tx.insert(schema.accounts).values({ id: account("updated"), balance: 1 });
      await writeEvent(tx, event("kept"), {
        alongside: [tx.update(schema.accounts).set({ balance: 5 }).where(eq(schema.accounts.id, account("updated"))), tx.insert(schema.accounts).values({ id: account("inserted"), balance: 7 })],
      });
    });
    await database.db
      .transaction(async (tx) => {
        await writeEvent(tx, event("phantom"), { alongside: [tx.insert(schema.accounts).values({ id: account("phantom"), balance: 9 })] });
        throw new Error("business rule failed");
      })
      .catch(() => undefined);
    const accounts = await database.db.select().from(schema.accounts).where(like(schema.accounts.id, `${aggregateType}-%`)).orderBy(asc(schema.accounts.id));
    expect(accounts).toEqual([
      { id: account("inserted"), balance: 7 },
      { id: account("updated"), balance: 5 },
    ]);
    expect((await rows()).map((row) => row.eventId)).toEqual(["kept"]);
    await relay(database, publisher).runOnce();
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["kept"]);
  });

  it("runs a prepared event write with each call's values, and rolls its writes back with it", async () => {
    const { aggregateType, mine, rows } = scenario();
    const publisher = recordingPublisher();
    const account = (suffix: string) => `${aggregateType}-${suffix}`;
    const event = (eventId: string, orderId: string) => ({ aggregateType, aggregateId: orderId, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, { eventId: `${aggregateType}:${eventId}`, orderId }) });
    const credit = prepareEventWrite((db) => [
      db.update(schema.accounts).set({ balance: sql`${schema.accounts.balance} + ${sql.placeholder("amount")}` }).where(eq(schema.accounts.id, sql.placeholder("from"))),
      db.insert(schema.accounts).values({ id: sql.placeholder("to"), balance: sql.placeholder("amount") }),
    ]);
    await database.db.insert(schema.accounts).values({ id: account("source"), balance: 1 });
    await database.db.transaction((tx) => credit.write(tx, event("first", "o-1"), { from: account("source"), to: account("a"), amount: 5 }));
    await database.db.transaction((tx) => credit.write(tx, event("second", "o-2"), { from: account("source"), to: account("b"), amount: 7 }));
    await database.db
      .transaction(async (tx) => {
        await credit.write(tx, event("phantom", "o-3"), { from: account("source"), to: account("c"), amount: 100 });
        throw new Error("business rule failed");
      })
      .catch(() => undefined);
    const accounts = await database.db.select().from(schema.accounts).where(like(schema.accounts.id, `${aggregateType}-%`)).orderBy(asc(schema.accounts.id));
    expect(accounts).toEqual([
      { id: account("a"), balance: 5 },
      { id: account("b"), balance: 7 },
      { id: account("source"), balance: 13 },
    ]);
    expect((await rows()).map((row) => row.eventId)).toEqual(["first", "second"]);
    await relay(database, publisher).runOnce();
    const published = mine(publisher);
    expect(published.map((m) => m.messageId)).toEqual(["first", "second"]);
    expect(published.map((m) => fromBinary(OrderPlacedSchema, m.data).orderId)).toEqual(["o-1", "o-2"]);
  });

  it.skipIf(backend.name === "PGlite")("publishes a row whose id was taken before a row that committed first", async () => {
    // PGlite runs one transaction at a time, so this interleaving cannot happen there.
    const { write, writeTx, mine, rows } = scenario();
    const publisher = recordingPublisher();
    const r = relay(database, publisher);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const slow = database.db.transaction(async (tx) => {
      await write(tx, "slow", "early-id");
      wrote();
      await gate;
    });
    await written;
    await writeTx("fast", "late-id");
    await r.runOnce();
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["late-id"]);
    release();
    await slow;
    await r.runOnce();
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["late-id", "early-id"]);
    expect((await rows()).map((row) => row.eventId)).toEqual(["early-id", "late-id"]);
  });

  it("publishes every event of concurrent writers that commit out of id order", async () => {
    const { write, mine } = scenario();
    const publisher = recordingPublisher();
    await relay(database, publisher).start();
    const ids = Array.from({ length: 30 }, (_, i) => `w-${i}`);
    await Promise.all(
      ids.map((id, i) =>
        database.db.transaction(async (tx) => {
          await write(tx, `order-${i}`, id);
          await sleep(Math.random() * 30);
        }),
      ),
    );
    await expect.poll(() => mine(publisher).length, { timeout: 10_000 }).toBe(30);
    expect(new Set(mine(publisher).map((m) => m.messageId))).toEqual(new Set(ids));
  });

  it("keeps per-aggregate order with two relays running", async () => {
    const { writeTx, mine } = scenario();
    const publisher = recordingPublisher({ latencyMs: () => Math.random() * 4 });
    const second = await backend.open();
    const byRelay = [0, 0];
    await relay(database, publisher, { batchSize: 3, onPublished: () => byRelay[0]!++ }).start();
    await relay(second, publisher, { batchSize: 3, onPublished: () => byRelay[1]!++ }).start();
    // More aggregates than one relay's rounds in flight can claim at once (2 × 3), so the second
    // relay finds rows left even where queries run strictly in turn (PGlite).
    const aggregates = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];
    await Promise.all(
      aggregates.map(async (agg) => {
        for (let n = 0; n < 15; n++) await writeTx(agg, `${agg}-${n}`);
      }),
    );
    await expect.poll(() => mine(publisher).length, { timeout: 20_000 }).toBe(180);
    for (const agg of aggregates) {
      const order = mine(publisher)
        .filter((m) => m.headers[EventHeaders.aggregateId] === agg)
        .map((m) => m.messageId);
      expect(order).toEqual(Array.from({ length: 15 }, (_, n) => `${agg}-${n}`));
    }
    expect(byRelay[0]! + byRelay[1]!).toBe(180);
    expect(byRelay[0]).toBeGreaterThan(0);
    expect(byRelay[1]).toBeGreaterThan(0);
  });

  it("publishes an aggregate's later events right after the earlier one, without waiting for a notification or the poll", async () => {
    const { write, mine } = scenario();
    const publisher = recordingPublisher();
    await relay(database, publisher, { pollIntervalMs: 60_000 }).start();
    // One commit, one notification: the round that publishes e-0 must know e-1 waits behind it.
    await database.db.transaction(async (tx) => {
      for (let n = 0; n < 4; n++) await write(tx, "chain", `e-${n}`);
    });
    await expect.poll(() => mine(publisher).map((m) => m.messageId), { timeout: 5_000 }).toEqual(["e-0", "e-1", "e-2", "e-3"]);
  });

  it.each([1, 2])("publishes %i round(s) of claimed rows at once, each batch in parallel", async (roundsInFlight) => {
    const { write, mine } = scenario();
    let inFlight = 0;
    let mostInFlight = 0;
    const recorder = recordingPublisher({ latencyMs: () => 100 });
    const publisher = {
      ...recorder,
      publish: async (message: Parameters<RecordingPublisher["publish"]>[0]) => {
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        try {
          return await recorder.publish(message);
        } finally {
          inFlight--;
        }
      },
    };
    await relay(database, publisher, { batchSize: 5, roundsInFlight }).start();
    // Let the loops go to sleep: one notification then wakes one loop, whose full claim wakes the next.
    await sleep(100);
    await database.db.transaction(async (tx) => {
      for (let n = 0; n < 20; n++) await write(tx, `agg-${n}`, `e-${n}`);
    });
    await expect.poll(() => mine(recorder).length, { timeout: 10_000 }).toBe(20);
    expect(mostInFlight).toBe(5 * roundsInFlight);
  });

  it("retries a failing row with backoff while other aggregates flow, keeping its aggregate in order", async () => {
    const { writeTx, mine, rows, aggregateType } = scenario();
    let refusals = 0;
    const publisher = recordingPublisher({ fail: (m) => m.messageId === `${aggregateType}:x-0` && refusals++ < 2 });
    const errors: unknown[] = [];
    const r = relay(database, publisher, { retry: { initialDelayMs: 100, maxDelayMs: 400 }, onError: (e) => errors.push(e) });
    await writeTx("x", "x-0");
    await writeTx("x", "x-1");
    await writeTx("y", "y-0");
    await r.start();
    await expect.poll(() => mine(publisher).length, { timeout: 10_000 }).toBe(3);
    const order = mine(publisher).map((m) => m.messageId);
    expect(order[0]).toBe("y-0");
    expect(order.filter((id) => id.startsWith("x"))).toEqual(["x-0", "x-1"]);
    expect(errors).toHaveLength(2);
    const [row] = await rows();
    expect(row).toMatchObject({ eventId: "x-0", attempts: 2, lastError: null });
    expect(row?.publishedAt).toBeInstanceOf(Date);
  });

  it("reports itself not ready once publishes have failed for notReadyAfterMs, and ready again at the first that gets out", async () => {
    const { writeTx, mine } = scenario();
    let brokerDown = true;
    const publisher = recordingPublisher({ fail: () => brokerDown });
    const r = relay(database, publisher, { notReadyAfterMs: 500, retry: { initialDelayMs: 50, maxDelayMs: 100 } });
    expect(r.readiness()).toEqual({ ready: false, reason: "outbox relay is not running" });
    await r.start();
    expect(r.readiness()).toEqual({ ready: true });
    await writeTx("h", "h-0");
    await expect.poll(() => r.readiness(), { timeout: 10_000 }).toEqual({ ready: false, reason: expect.stringMatching(/^outbox relay publishes failing for \d+ s \(last error: publish of .* refused\)$/) });
    brokerDown = false;
    await expect.poll(() => r.readiness(), { timeout: 10_000 }).toEqual({ ready: true });
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["h-0"]);
  });

  it("reports the backlog: pending rows, failing rows, age of the oldest", async () => {
    const { writeTx, aggregateType } = scenario();
    const before = await outboxStats(database.db);
    const r = relay(database, recordingPublisher({ fail: (m) => m.messageId === `${aggregateType}:stuck` }));
    await writeTx("s", "stuck");
    await writeTx("s", "behind");
    await sleep(50);
    await r.runOnce();
    const stats = await outboxStats(database.db);
    expect(stats.pending - before.pending).toBe(2);
    expect(stats.failing - before.failing).toBe(1);
    expect(stats.oldestPendingAgeMs).toBeGreaterThanOrEqual(50);
    await database.db.delete(outbox).where(eq(outbox.aggregateType, aggregateType));
  });

  it("takes over rows whose relay died mid-publish once its lease expires", async () => {
    const { writeTx, mine, rows } = scenario();
    const hung = recordingPublisher({ hang: true });
    await writeTx("l", "lease-0");
    void createOutboxRelay({ database, publisher: hung }, { leaseMs: 400 }).runOnce().catch(() => undefined);
    await expect.poll(async () => (await rows())[0]?.claimedBy).toBeTruthy();
    const publisher = recordingPublisher();
    const successor = relay(database, publisher, { leaseMs: 400 });
    await successor.runOnce();
    expect(mine(publisher)).toEqual([]);
    await sleep(500);
    await successor.runOnce();
    expect(mine(publisher).map((m) => m.messageId)).toEqual(["lease-0"]);
  });

  it("loses nothing across a relay restart", async () => {
    const { writeTx, mine } = scenario();
    const publisher = recordingPublisher();
    const first = relay(database, publisher);
    await first.start();
    for (let i = 0; i < 5; i++) await writeTx(`r-${i}`, `restart-${i}`);
    await expect.poll(() => mine(publisher).length).toBe(5);
    await first.stop();
    for (let i = 5; i < 10; i++) await writeTx(`r-${i}`, `restart-${i}`);
    await sleep(100);
    expect(mine(publisher)).toHaveLength(5);
    await relay(database, publisher).start();
    await expect.poll(() => mine(publisher).length).toBe(10);
    expect(new Set(mine(publisher).map((m) => m.messageId)).size).toBe(10);
  });

  it("is woken by the commit notification, not the poll", async () => {
    const { writeTx, mine } = scenario();
    const publisher = recordingPublisher();
    await relay(database, publisher, { pollIntervalMs: 600_000 }).start();
    await sleep(100);
    const started = Date.now();
    await writeTx("n", "notified");
    await expect.poll(() => mine(publisher).length, { timeout: 3_000, interval: 10 }).toBe(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("deletes published rows only after the retention, and never unpublished ones", async () => {
    const { writeTx, rows, aggregateType } = scenario();
    const publisher = recordingPublisher({ fail: (m) => m.messageId === `${aggregateType}:unpublished` });
    const r = relay(database, publisher, { retentionMs: 1_000 });
    await writeTx("k", "kept-0");
    await writeTx("j", "kept-1");
    await writeTx("u", "unpublished");
    await r.runOnce();
    await r.cleanup();
    expect((await rows()).map((row) => row.eventId)).toEqual(["kept-0", "kept-1", "unpublished"]);
    await sleep(1_100);
    await writeTx("f", "fresh");
    await r.runOnce();
    await r.cleanup();
    expect((await rows()).map((row) => [row.eventId, row.publishedAt !== null])).toEqual([
      ["unpublished", false],
      ["fresh", true],
    ]);
  });

  describe("relay marks", () => {
    // Relays that poll once a minute: what claims and marks these tests' rows is a notification, a
    // full batch, markDelayMs or stop(), never the poll.
    const pollIntervalMs = 60_000;

    it("marks a published row within markDelayMs when no claim follows, without waiting for the poll", async () => {
      const { write, mine, rows, unmarked } = scenario();
      const publisher = recordingPublisher();
      const markDelayMs = 50;
      await relay(database, publisher, { pollIntervalMs, markDelayMs }).start();
      // By now the loops have claimed what there was: they wait for a notification (or a poll in a minute).
      await sleep(100);
      await write(database.db, "a", "a-0");
      await expect.poll(() => mine(publisher).map((m) => m.messageId), { interval: 5 }).toEqual(["a-0"]);
      const published = Date.now();
      await expect.poll(unmarked, { interval: 5, timeout: 5_000 }).toEqual([]);
      expect(Date.now() - published).toBeLessThan(markDelayMs + 1_000);
      expect(await rows()).toMatchObject([{ eventId: "a-0", claimedBy: null, claimedUntil: null }]);
    });

    it("publishes an aggregate's next row, from either of two relays, only once its predecessor is marked", async () => {
      const { prefix, write, mine } = scenario();
      const second = await backend.open();
      const recorder = recordingPublisher({ latencyMs: () => Math.random() * 4 });
      // Each event id ends in its position in its aggregate: `<aggregate>-<n>`.
      const published = async (eventId: string) => {
        const [row] = await database.db.select({ publishedAt: outbox.publishedAt }).from(outbox).where(eq(outbox.eventId, eventId));
        return row?.publishedAt != null;
      };
      const publishedBeforeItsPredecessorWasMarked: string[] = [];
      const publisher: EventPublisher = {
        async publish(message) {
          const [aggregate, n] = message.messageId.slice(prefix.length).split("-");
          if (Number(n) > 0 && !(await published(`${prefix}${aggregate}-${Number(n) - 1}`))) publishedBeforeItsPredecessorWasMarked.push(message.messageId);
          return recorder.publish(message);
        },
      };
      const byRelay = [0, 0];
      // Small batches, so the two relays share the aggregates even where queries run in turn (PGlite).
      await relay(database, publisher, { pollIntervalMs, batchSize: 3, onPublished: () => byRelay[0]!++ }).start();
      await relay(second, publisher, { pollIntervalMs, batchSize: 3, onPublished: () => byRelay[1]!++ }).start();
      const aggregates = ["a", "b", "c", "d", "e", "f", "g", "h"];
      await Promise.all(
        aggregates.map(async (aggregate) => {
          for (let n = 0; n < 10; n++) await write(database.db, aggregate, `${aggregate}-${n}`);
        }),
      );
      await expect.poll(() => mine(recorder).length, { timeout: 20_000 }).toBe(80);
      for (const aggregate of aggregates) {
        const order = mine(recorder)
          .filter((m) => m.headers[EventHeaders.aggregateId] === aggregate)
          .map((m) => m.messageId);
        expect(order).toEqual(Array.from({ length: 10 }, (_, n) => `${aggregate}-${n}`));
      }
      expect(publishedBeforeItsPredecessorWasMarked).toEqual([]);
      expect(byRelay[0]).toBeGreaterThan(0);
      expect(byRelay[1]).toBeGreaterThan(0);
    });

    it("marks on stop what it published, leaving no row claimed for a lease to free", async () => {
      const { write, mine, rows, unmarked } = scenario();
      const publisher = recordingPublisher();
      // Marks that wait longer than the test: only a claim or stop() can mark them.
      const r = relay(database, publisher, { pollIntervalMs, markDelayMs: 9_000 });
      await r.start();
      await sleep(100);
      // One commit, one notification, one claim: no later claim carries these marks.
      await database.db.transaction(async (tx) => {
        for (const aggregate of ["x", "y", "z"]) await write(tx, aggregate, `${aggregate}-0`);
      });
      await expect.poll(() => mine(publisher).length).toBe(3);
      expect(await unmarked()).toEqual(["x-0", "y-0", "z-0"]);
      const stopping = Date.now();
      await r.stop();
      expect(Date.now() - stopping).toBeLessThan(5_000);
      expect((await rows()).map((row) => ({ eventId: row.eventId, published: row.publishedAt !== null, claimedBy: row.claimedBy, claimedUntil: row.claimedUntil }))).toEqual(
        ["x-0", "y-0", "z-0"].map((eventId) => ({ eventId, published: true, claimedBy: null, claimedUntil: null })),
      );
    });

    // PGlite runs the writer's and the relay's queries on one connection, so neither can be told
    // apart from the other nor held while the other runs.
    describe.skipIf(backend.name === "PGlite")("on its own connections", () => {
      it("sends one statement a round under a steady stream of rows", async () => {
        const { write, mine, unmarked } = scenario();
        // The relay's own pool, so that every query it sees is the relay's (LISTEN has its own connection).
        const relayDatabase = await backend.open();
        const pool = (relayDatabase.db as unknown as { $client: { query: (...args: unknown[]) => unknown } }).$client;
        const query = pool.query.bind(pool);
        let statements = 0;
        pool.query = (...args: unknown[]) => {
          statements++;
          return query(...args);
        };
        let rounds = 0;
        const publisher = recordingPublisher();
        await relay(relayDatabase, publisher, {
          pollIntervalMs,
          // Far longer than the gaps between rows, however slow the machine: every mark can ride a claim.
          markDelayMs: 2_000,
          aroundRound: (_rows, publish) => {
            rounds++;
            return publish();
          },
        }).start();
        await sleep(100);
        const before = statements;
        // A steady stream, each row to an aggregate of its own.
        for (let n = 0; n < 40; n++) {
          await write(database.db, `s-${n}`, `s-${n}`);
          await sleep(10);
        }
        await expect.poll(() => mine(publisher).length).toBe(40);
        await expect.poll(unmarked, { timeout: 5_000 }).toEqual([]);
        // Before marks rode the claims: two statements a round, a claim and a mark.
        expect(rounds).toBeGreaterThan(20);
        expect((statements - before) / rounds).toBeLessThan(1.25);
      });

      it("looks up each candidate's earlier rows by index when a backlog follows a quiet outbox", async () => {
        const { prefix } = scenario();
        // One connection, so the relay's claim is prepared where this test reads its plan.
        const url = (database.db as unknown as { $client: { options: { connectionString: string } } }).$client.options.connectionString;
        const relayDatabase = await openDatabase({ url, schema, poolSize: 1 });
        try {
          const quiet = relay(relayDatabase, recordingPublisher(), { pollIntervalMs });
          await relayDatabase.db.execute(sql`analyze ${outbox}`);
          for (let n = 0; n < 30; n++) {
            await writeEvent(relayDatabase.db, { aggregateType: "quiet", aggregateId: `q-${n}`, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, {}), eventId: `${prefix}q-${n}` });
            await quiet.runOnce();
          }
          // A backlog the statistics have not seen, each row an aggregate of its own.
          for (let batch = 0; batch < 20; batch++) {
            await relayDatabase.db.insert(outbox).values(
              Array.from({ length: 1_000 }, (_, i) => ({
                eventId: `${prefix}b-${batch}-${i}`,
                aggregateType: "backlog",
                aggregateId: `b-${batch}-${i}`,
                eventType: OrderPlacedSchema.typeName,
                subject: OrderPlacedSchema.typeName,
                payload: new Uint8Array(0),
              })),
            );
          }
          const [claim] = (
            await relayDatabase.db.execute<{ name: string; types: string[] }>(
              sql`select name, parameter_types::text[] as types from pg_prepared_statements where statement like '%skip locked%'`,
            )
          ).rows;
          expect(claim).toBeDefined();
          const values = (claim?.types ?? []).map((type) => (type === "bigint[]" ? sql`'{}'::bigint[]` : type === "double precision" ? sql`10` : sql`null`));
          const [row] = (await relayDatabase.db.execute<{ "QUERY PLAN": unknown }>(sql`explain (format json) execute ${sql.identifier(claim?.name ?? "")}(${sql.join(values, sql`, `)})`)).rows;
          const joinTypes: string[] = [];
          const walk = (node: { "Join Type"?: string; Plans?: unknown[] }) => {
            if (node["Join Type"] !== undefined) joinTypes.push(node["Join Type"]);
            for (const child of node.Plans ?? []) walk(child as typeof node);
          };
          walk((row?.["QUERY PLAN"] as [{ Plan: Parameters<typeof walk>[0] }])[0].Plan);
          // An anti join compares every candidate with every pending row: 2-3 s a claim here.
          expect(joinTypes).not.toContain("Anti");
        } finally {
          // The backlog would keep the next tests' relays busy.
          await relayDatabase.db.delete(outbox).where(like(outbox.eventId, `${prefix}%`));
          await relayDatabase.close();
        }
      });

      it("keeps the claim's generic plan instead of planning each call anew", async () => {
        // A database of its own, so the outbox's ids, and with them its size class, are known.
        const own = await createTestDatabase("outbox_plans");
        // One connection, so every claim runs on the session whose prepared statements this test reads.
        const relayDatabase = await openDatabase({ url: own.url, schema, migrationsFolder, poolSize: 1 });
        try {
          // An outbox with history, as a running service's: on a near-empty one every plan costs the same.
          await relayDatabase.db.insert(outbox).values(
            Array.from({ length: 5_000 }, (_, i) => ({
              eventId: `history-${i}`,
              aggregateType: "history",
              aggregateId: `h-${i}`,
              eventType: OrderPlacedSchema.typeName,
              subject: OrderPlacedSchema.typeName,
              payload: new Uint8Array(0),
              publishedAt: new Date(),
            })),
          );
          await relayDatabase.db.execute(sql`analyze ${outbox}`);
          const publisher = recordingPublisher();
          const r = relay(relayDatabase, publisher, { pollIntervalMs });
          // Each round claims one row with no marks (runOnce marks in a statement of its own): the
          // case where a custom plan, knowing the arrays are empty, looks cheaper than the generic one.
          for (let n = 0; n < 12; n++) {
            await writeEvent(relayDatabase.db, { aggregateType: "plans", aggregateId: `g-${n}`, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, {}), eventId: `g-${n}` });
            await r.runOnce();
          }
          expect(publisher.published).toHaveLength(12);
          const claims = (
            await relayDatabase.db.execute<{ generic: number; custom: number }>(
              sql`select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where statement like '%skip locked%' order by generic_plans + custom_plans`,
            )
          ).rows;
          // The relay's first claim knows no id yet, so it is the size class 0 statement; the other
          // eleven (ids 5 001-5 012) are class 3's. PostgreSQL tries five custom plans before it
          // weighs the generic one; planned anew, the claim costs the backend more than running it.
          expect(claims).toEqual([
            { generic: 0, custom: 1 },
            { generic: 6, custom: 5 },
          ]);
        } finally {
          await relayDatabase.close();
          await own.drop();
        }
      });

      it("plans its claim again as the outbox grows, so a plan made on a young outbox does not scan a grown one", async () => {
        // A database of its own, young, whose statistics nothing refreshes between the claims.
        const young = await createTestDatabase("outbox_growth");
        const relayDatabase = await openDatabase({ url: young.url, schema, migrationsFolder, poolSize: 1 });
        try {
          const publisher = recordingPublisher();
          const r = relay(relayDatabase, publisher, { pollIntervalMs });
          const writeAndClaim = async (name: string) => {
            await writeEvent(relayDatabase.db, { aggregateType: "growth", aggregateId: name, schema: OrderPlacedSchema, event: create(OrderPlacedSchema, {}), eventId: name });
            await r.runOnce();
          };
          for (let n = 0; n < 8; n++) await writeAndClaim(`young-${n}`);
          await relayDatabase.db.insert(outbox).values(
            Array.from({ length: 5_000 }, (_, i) => ({
              eventId: `history-${i}`,
              aggregateType: "history",
              aggregateId: `h-${i}`,
              eventType: OrderPlacedSchema.typeName,
              subject: OrderPlacedSchema.typeName,
              payload: new Uint8Array(0),
              publishedAt: new Date(),
            })),
          );
          for (let n = 0; n < 8; n++) await writeAndClaim(`grown-${n}`);
          expect(publisher.published).toHaveLength(16);

          const claims = (
            await relayDatabase.db.execute<{ name: string; statement: string; types: string[] }>(
              sql`select name, statement, parameter_types::text[] as types from pg_prepared_statements where statement like '%skip locked%'`,
            )
          ).rows;
          const sizeClass = (statement: string) => Number(/outbox size class (\d+)/.exec(statement)?.[1]);
          // One statement for the young outbox, one for the grown one.
          expect(claims.map((claim) => sizeClass(claim.statement)).sort()).toEqual([0, 3]);
          const grown = claims.find((claim) => sizeClass(claim.statement) === 3);
          const values = (grown?.types ?? []).map((type) => (type === "bigint[]" ? sql`'{}'::bigint[]` : type === "double precision" ? sql`10` : sql`null`));
          await relayDatabase.db.execute(sql`set plan_cache_mode = force_generic_plan`);
          const [row] = (await relayDatabase.db.execute<{ "QUERY PLAN": unknown }>(sql`explain (format json) execute ${sql.identifier(grown?.name ?? "")}(${sql.join(values, sql`, `)})`)).rows;
          const scans: string[] = [];
          const walk = (node: { "Node Type"?: string; "Relation Name"?: string; Plans?: unknown[] }) => {
            if (node["Relation Name"] === "outbox") scans.push(node["Node Type"] ?? "");
            for (const child of node.Plans ?? []) walk(child as typeof node);
          };
          walk((row?.["QUERY PLAN"] as [{ Plan: Parameters<typeof walk>[0] }])[0].Plan);
          // Each read of the outbox goes through an index, whatever the statistics say.
          expect(scans.length).toBeGreaterThan(0);
          expect(scans).not.toContain("Seq Scan");
        } finally {
          await relayDatabase.close();
          await young.drop();
        }
      });

      it("keeps the marks of a statement that failed for the next one", async () => {
        const { write, mine, unmarked } = scenario();
        const publisher = recordingPublisher();
        const errors: unknown[] = [];
        await relay(database, publisher, { pollIntervalMs, markDelayMs: 3_000, onError: (err) => errors.push(err) }).start();
        await sleep(100);
        await write(database.db, "e", "e-0");
        await expect.poll(() => mine(publisher).map((m) => m.messageId), { interval: 5 }).toEqual(["e-0"]);
        // The statement that marks e-0 waits for the outbox, and is cancelled there.
        await database.db.transaction(async (tx) => {
          await tx.execute(sql`lock table ${outbox} in access exclusive mode`);
          const marking = async () =>
            (
              await database.db.execute<{ pid: number }>(
                sql`select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%"marking"%'`,
              )
            ).rows;
          await expect.poll(async () => (await marking()).length, { timeout: 10_000 }).toBe(1);
          for (const { pid } of await marking()) await database.db.execute(sql`select pg_cancel_backend(${pid})`);
          await expect.poll(() => errors.length).toBe(1);
        });
        expect(errors[0]).toMatchObject({ cause: { message: expect.stringMatching(/canceling statement/) } });
        expect(await unmarked()).toEqual(["e-0"]);
        // The next row's notification brings a claim, which carries e-0's mark; f-0's waits.
        await write(database.db, "f", "f-0");
        await expect.poll(() => mine(publisher).map((m) => m.messageId), { interval: 5 }).toEqual(["e-0", "f-0"]);
        expect(await unmarked()).toEqual(["f-0"]);
      });
    });
  });
});
