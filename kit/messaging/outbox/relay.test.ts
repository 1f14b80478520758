// The relay's marks ride its next claim (docs/adr/0145): how soon they land, what they keep of
// per-aggregate order across relays, what a round costs in statements, and that none is lost to
// a stop or a failed statement. The rest of the relay's behaviour: test/messaging/outbox.test.ts.
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { asc, eq, like, sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Database, type Executor, openDatabase } from "@protomesh/data";
import { createOutboxRelay, EventHeaders, type EventPublisher, type OutboxRelay, type OutboxRelayOptions, outbox, writeEvent } from "@protomesh/messaging";
import { EchoRequestSchema } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { type DatabaseBackend, pgliteBackend, postgresBackend, type TestSchema } from "../../../test/messaging/backends.js";
import * as schema from "../../../test/messaging/fixtures/schema.js";
import { type RecordingPublisher, recordingPublisher } from "../../../test/messaging/recording-publisher.js";

const backends: DatabaseBackend[] = [pgliteBackend(), postgresBackend("relay_marks")];

describe.each(backends)("outbox relay marks on $name", (backend) => {
  let database: Database<TestSchema>;
  const relays: OutboxRelay[] = [];
  beforeAll(async () => {
    await backend.setup();
    database = await backend.open();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
  });
  afterAll(async () => {
    await backend.teardown();
  });

  // Every test uses its own aggregate type and event-id prefix, so rows of other tests never mix in.
  let run = 0;
  function scenario() {
    const aggregateType = `marks${++run}`;
    const prefix = `${aggregateType}:`;
    const write = (aggregateId: string, eventId: string, db: Executor = database.db) =>
      writeEvent(db, { aggregateType, aggregateId, schema: EchoRequestSchema, event: create(EchoRequestSchema, { text: eventId }), eventId: prefix + eventId });
    /** What this test's rows published, event ids without the prefix. */
    const mine = (p: RecordingPublisher) => p.published.filter((m) => m.messageId.startsWith(prefix)).map((m) => m.messageId.slice(prefix.length));
    const rows = async () =>
      (await database.db.select().from(outbox).where(eq(outbox.aggregateType, aggregateType)).orderBy(asc(outbox.id))).map((row) => ({
        ...row,
        eventId: row.eventId.slice(prefix.length),
      }));
    const unmarked = async () => (await rows()).filter((row) => row.publishedAt === null).map((row) => row.eventId);
    return { prefix, write, mine, rows, unmarked };
  }
  function relay(db: Database<TestSchema>, publisher: EventPublisher, options: OutboxRelayOptions = {}) {
    const r = createOutboxRelay({ database: db, publisher }, { pollIntervalMs: 60_000, ...options });
    relays.push(r);
    return r;
  }

  it("marks a published row within markDelayMs when no claim follows, without waiting for the poll", async () => {
    const { write, mine, rows, unmarked } = scenario();
    const publisher = recordingPublisher();
    const markDelayMs = 50;
    await relay(database, publisher, { markDelayMs }).start();
    // The loops' first claims found nothing: they wait for a notification (or a poll in a minute).
    await sleep(100);
    await write("a", "a-0");
    await expect.poll(() => mine(publisher), { interval: 5 }).toEqual(["a-0"]);
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
    await relay(database, publisher, { batchSize: 3, onPublished: () => byRelay[0]!++ }).start();
    await relay(second, publisher, { batchSize: 3, onPublished: () => byRelay[1]!++ }).start();
    const aggregates = ["a", "b", "c", "d", "e", "f", "g", "h"];
    await Promise.all(
      aggregates.map(async (aggregate) => {
        for (let n = 0; n < 10; n++) await write(aggregate, `${aggregate}-${n}`);
      }),
    );
    await expect.poll(() => mine(recorder).length, { timeout: 20_000 }).toBe(80);
    for (const aggregate of aggregates) {
      const order = recorder.published.filter((m) => m.headers[EventHeaders.aggregateId] === aggregate && m.messageId.startsWith(prefix)).map((m) => m.messageId.slice(prefix.length));
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
    const r = relay(database, publisher, { markDelayMs: 9_000 });
    await r.start();
    await sleep(100);
    // One commit, one notification, one claim: no later claim carries these marks.
    await database.db.transaction(async (tx) => {
      for (const aggregate of ["x", "y", "z"]) await write(aggregate, `${aggregate}-0`, tx);
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
        await write(`s-${n}`, `s-${n}`);
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
        const quiet = relay(relayDatabase, recordingPublisher());
        await relayDatabase.db.execute(sql`analyze ${outbox}`);
        for (let n = 0; n < 30; n++) {
          await writeEvent(relayDatabase.db, { aggregateType: "quiet", aggregateId: `q-${n}`, schema: EchoRequestSchema, event: create(EchoRequestSchema, {}), eventId: `${prefix}q-${n}` });
          await quiet.runOnce();
        }
        // A backlog the statistics have not seen, each row an aggregate of its own.
        for (let batch = 0; batch < 20; batch++) {
          await relayDatabase.db.insert(outbox).values(
            Array.from({ length: 1_000 }, (_, i) => ({
              eventId: `${prefix}b-${batch}-${i}`,
              aggregateType: "backlog",
              aggregateId: `b-${batch}-${i}`,
              eventType: EchoRequestSchema.typeName,
              subject: EchoRequestSchema.typeName,
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

    it("keeps the marks of a statement that failed for the next one", async () => {
      const { write, mine, unmarked } = scenario();
      const publisher = recordingPublisher();
      const errors: unknown[] = [];
      await relay(database, publisher, { markDelayMs: 3_000, onError: (err) => errors.push(err) }).start();
      await sleep(100);
      await write("e", "e-0");
      await expect.poll(() => mine(publisher), { interval: 5 }).toEqual(["e-0"]);
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
      await write("f", "f-0");
      await expect.poll(() => mine(publisher), { interval: 5 }).toEqual(["e-0", "f-0"]);
      expect(await unmarked()).toEqual(["f-0"]);
    });
  });
});
