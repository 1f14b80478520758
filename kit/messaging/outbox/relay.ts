import { and, getTableColumns, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { type Database, type Db, type Executor, prepareStatement } from "@protomesh/data";
import { backoffDelay } from "../backoff.js";
import type { EventPublisher } from "../bus/event-bus.js";
import { FailureStreak } from "../readiness/failure-streak.js";
import type { Readiness } from "../readiness/readiness.js";
import { type Envelope, toOutgoingMessage } from "./envelope.js";
import { outbox } from "./outbox-table.js";
import { type OutboxRelayOptions, type ResolvedRelayOptions, resolveRelayOptions } from "./relay-options.js";
import { OUTBOX_CHANNEL } from "./writer.js";

/**
 * Publishes committed outbox rows. Several relays may run against one database: each round
 * claims, under a lease, the oldest unpublished row of each aggregate that no one else holds,
 * so an aggregate's events go out one at a time in id order, and a row that committed late
 * (its id allocated before rows that committed first) is claimed like any other. The rows a
 * round published are marked by the relay's next claim, in the same statement, so a round costs
 * one round trip to the database; with no claim due within `markDelayMs`, one runs for them.
 */
export interface OutboxRelay {
  /** Starts listening and publishing in the background. */
  start(): Promise<void>;
  /**
   * Stops after the rounds in flight and marks what they published (errors go to `onError`);
   * unpublished rows stay for the next relay.
   */
  stop(): Promise<void>;
  /**
   * One claim-publish round, the rows it published marked before it resolves; returns the number
   * of rows claimed. For tests and tools.
   */
  runOnce(): Promise<number>;
  /** Deletes published rows older than the retention; returns how many. */
  cleanup(): Promise<number>;
  /**
   * Whether events get out (for a health probe): not ready when stopped, or when publishes have
   * failed for `notReadyAfterMs` with none succeeding. With nothing to publish it stays as it was.
   */
  readiness(): Readiness;
}

export interface OutboxRelayDeps {
  database: Pick<Database<Record<string, unknown>>, "db" | "listen">;
  publisher: EventPublisher;
}

export function createOutboxRelay(deps: OutboxRelayDeps, options: OutboxRelayOptions = {}): OutboxRelay {
  const opts = resolveRelayOptions(options);
  const db: Executor = deps.database.db;
  // A failed row is tried again within the longest retry delay and a poll; a streak quiet for
  // longer than that (with notReadyAfterMs of margin for the publish itself) has no row behind it.
  const publishes = new FailureStreak({
    what: "outbox relay publishes",
    notReadyAfterMs: opts.notReadyAfterMs,
    forgetAfterMs: opts.notReadyAfterMs + opts.retry.maxDelayMs + opts.pollIntervalMs,
  });
  let running: Promise<void[]> | undefined;
  let stopped = true;
  const sleepers = new Set<() => void>();
  let pending = false;
  // Set when published rows waited markDelayMs with no claim to mark them: a loop claims at once.
  let marksDue = false;
  let unlisten: (() => Promise<void>) | undefined;
  let cleanupTimer: NodeJS.Timeout | undefined;

  const wakeAll = () => {
    for (const wake of [...sleepers]) wake();
  };
  const wakeOne = () => {
    const [wake] = sleepers;
    wake?.();
  };
  // A commit wakes one round loop: waking all would send the others to claim nothing. A loop
  // whose claim comes back full wakes another at once, since a backlog likely waits behind it.
  const notify = () => {
    pending = true;
    wakeOne();
  };

  const waitForWork = async () => {
    if (pending || marksDue || stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, opts.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      }
      sleepers.add(done);
    });
  };

  // Published rows wait for the next claim to mark them, but at most markDelayMs: until they are
  // marked, other relays cannot claim their aggregates' next rows. Then the first loop to wake
  // marks them in its claim.
  let markTimer: NodeJS.Timeout | undefined;
  let unmarked: number[] = [];
  const marks: UnmarkedRows = {
    published(ids) {
      unmarked.push(...ids);
      markTimer ??= setTimeout(() => {
        markTimer = undefined;
        marksDue = true;
        wakeOne();
      }, opts.markDelayMs);
    },
    async markWith(statement) {
      const ids = unmarked;
      unmarked = [];
      clearTimeout(markTimer);
      markTimer = undefined;
      marksDue = false;
      try {
        return await statement(ids);
      } catch (err) {
        // Left unmarked, the rows would be published again when their lease ends. No timer: the
        // database has just failed, so they wait for the next notification or poll.
        unmarked = ids.concat(unmarked);
        throw err;
      }
    },
  };
  const round: RoundContext = { db, publisher: deps.publisher, publishes, opts, marks, highestId: 0 };

  const runOnce = async () => {
    const { claimed } = await publishRound(round);
    await markPublished(round);
    return claimed;
  };

  // Under a backlog several rounds run at once, so the next round's claim overlaps this round's
  // publishes; rows claimed by one round are leased, so the others skip them, and an aggregate's
  // next row is claimable only once every earlier one is marked, by an earlier statement or by
  // the claim itself, so order per aggregate holds.
  const roundLoop = async () => {
    while (!stopped) {
      pending = false;
      let more = false;
      try {
        ({ more } = await publishRound(round, (count) => {
          if (count >= opts.batchSize) wakeOne();
        }));
      } catch (err) {
        opts.onError(err);
      }
      // Claiming again when nothing is known to be waiting would find nothing: a row committed
      // since this round's claim has notified (`pending`), retries coming due are polled, and
      // marks that waited long enough have set `marksDue`.
      if (!more) await waitForWork();
    }
  };

  const cleanup = () => deletePublished(db, opts);

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      try {
        unlisten = await deps.database.listen(OUTBOX_CHANNEL, notify);
      } catch (err) {
        // Polling still publishes everything; notifications only make it prompt.
        opts.onError(err);
      }
      running = Promise.all(Array.from({ length: opts.roundsInFlight }, roundLoop));
      cleanupTimer = setInterval(() => {
        cleanup().catch(opts.onError);
      }, opts.cleanupIntervalMs);
      cleanupTimer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(cleanupTimer);
      wakeAll();
      await running;
      // What the last rounds published would otherwise be published again after the lease.
      await markPublished(round).catch(opts.onError);
      await unlisten?.().catch(opts.onError);
      unlisten = undefined;
    },
    runOnce,
    cleanup,
    readiness: () => (stopped ? { ready: false, reason: "outbox relay is not running" } : publishes.readiness()),
  };
}

/**
 * The rows a relay published and has not marked yet, shared by its round loops: the next
 * statement any of them sends marks them all (docs/adr/0145).
 */
interface UnmarkedRows {
  /** Adds rows the bus has stored; they are marked within `markDelayMs`. */
  published(ids: readonly number[]): void;
  /** Runs `statement` with every unmarked id; if it fails, the ids stay for a later statement. */
  markWith<T>(statement: (ids: number[]) => Promise<T>): Promise<T>;
}

interface RoundContext {
  db: Executor;
  publisher: EventPublisher;
  publishes: FailureStreak;
  opts: ResolvedRelayOptions;
  marks: UnmarkedRows;
  /** The highest outbox id this relay has claimed: how large the outbox has grown, at least. */
  highestId: number;
}

interface RoundResult {
  claimed: number;
  /** Rows may be claimable now: the claim came back full, or a published row has a successor. */
  more: boolean;
}

async function publishRound(round: RoundContext, afterClaim?: (count: number) => void): Promise<RoundResult> {
  const { db, publisher, publishes, opts } = round;
  const rows = await claim(round);
  afterClaim?.(rows.length);
  if (rows.length === 0) return { claimed: 0, more: false };
  // At most one row per aggregate was claimed, so publishing them in parallel keeps order.
  const results = await opts.aroundRound(rows, () =>
    Promise.allSettled(
      rows.map(async (row) => {
        const ack = await publisher.publish(toOutgoingMessage(row));
        opts.onPublished(row, ack);
      }),
    ),
  );
  const published: number[] = [];
  const failures: Promise<unknown>[] = [];
  results.forEach((result, i) => {
    const row = rows[i];
    if (row === undefined) return;
    if (result.status === "fulfilled") {
      published.push(row.id);
    } else {
      opts.onError(result.reason);
      publishes.failed(result.reason);
      failures.push(markFailed(db, row.id, row.attempts + 1, result.reason, opts));
    }
  });
  // One row getting out shows the bus takes publishes; the others' failures are theirs.
  if (published.length > 0) {
    publishes.succeeded();
    round.marks.published(published);
  }
  await Promise.all(failures);
  return { claimed: rows.length, more: rows.length >= opts.batchSize || rows.some((row) => row.hasSuccessor) };
}

/** `hasSuccessor`: a later row of the same aggregate was pending at the claim, so it becomes claimable once this one is published. */
type ClaimedRow = Envelope & { id: number; attempts: number; hasSuccessor: boolean };

// The claim runs every round: built once, with the options as values (docs/adr/0143).
// The batch size is written into the claim's text, not passed as a value: a generic plan of a
// named statement cannot see a parameter's LIMIT, and PostgreSQL may then scan the whole outbox
// instead of the pending rows' index (ADR 91). It is fixed per relay, so there is one text per size.
//
// The outbox's size class goes into the text too (ADR 0155). PostgreSQL makes a named statement's
// generic plan once per connection, from the table's size at that moment, and keeps it until the
// table's statistics change; where nothing refreshes them (autovacuum off, PGlite) a plan made on
// a young outbox would join the claimed ids by a sequential scan of every row ever written. A new
// class each time the highest id claimed doubles (past 1 024) sends a new statement, planned on
// the outbox as it is then: at most one statement per doubling and connection, and a plan never
// made on a table less than half its size.
const claimStatements = new Map<string, ReturnType<typeof claimStatement>>();

/** 0 below id 1 024, then one class per doubling. */
function outboxSizeClass(highestId: number): number {
  return highestId < 1_024 ? 0 : Math.floor(Math.log2(highestId)) - 9;
}

function claimStatementFor(batchSize: number, sizeClass: number): ReturnType<typeof claimStatement> {
  const key = `${batchSize}:${sizeClass}`;
  let statement = claimStatements.get(key);
  if (statement === undefined) {
    statement = claimStatement(batchSize, sizeClass);
    claimStatements.set(key, statement);
  }
  return statement;
}

// `batchSize` is a positive integer (resolveRelayOptions checks it), so it is safe as SQL text.
// The rows published since the relay's last statement (`marked`) are marked in a WITH of the
// claim. The claim does not see that update (every part of a statement reads one snapshot), so it
// treats those rows as published itself: none is claimed again, and none holds back its successor.
function claimStatement(batchSize: number, sizeClass: number) {
  return prepareStatement((executor) => {
    // Every executor is a drizzle database or transaction, and both build WITH clauses.
    const db = executor as Executor & Pick<Db, "$with" | "with">;
    // The marks are read through a sub-select so that no plan knows how many there are. With the
    // bare parameter, a custom plan for a round's few marks is estimated cheaper than the generic
    // plan's default of ten, so PostgreSQL planned the claim anew on every call: 0.3-0.5 ms of
    // backend CPU per claim, more than running it (ADR 0155). Hidden, both estimate alike and the
    // named statement keeps its generic plan. (The outer cast keeps `all(…)` reading one array
    // rather than a sub-select's rows.)
    const marked = sql`(select ${sql.placeholder("marked")}::bigint[])::bigint[]`;
    const marking = db.$with("marking", {}).as(markPublishedQuery(db, marked).getSQL());
    // `offset 0` fences the NOT EXISTS: PostgreSQL may otherwise turn it into an anti join that
    // scans every pending row for each candidate, as it did with statistics taken while the outbox
    // was quiet and then a backlog of 20 000 (2-3 s per claim of 500, ADR 0145); a subplan looks
    // up each candidate's aggregate by index (85-95 ms per round of 500).
    const candidates = sql`(
      select o.id from ${outbox} o
      where o.published_at is null
        and o.id <> all(${marked})
        and o.next_attempt_at <= now()
        and (o.claimed_until is null or o.claimed_until < now())
        and not exists (
          select 1 from ${outbox} p
          where p.aggregate_type = o.aggregate_type and p.aggregate_id = o.aggregate_id
            and p.published_at is null and p.id < o.id and p.id <> all(${marked})
          offset 0)
      order by o.id
      limit ${sql.raw(String(batchSize))}
      for update skip locked /* outbox size class ${sql.raw(String(sizeClass))} */)`;
    return (
      db
        .with(marking)
        .update(outbox)
        .set({ claimedBy: sql`${sql.placeholder("relayId")}`, claimedUntil: sql`now() + make_interval(secs => ${sql.placeholder("leaseS")})` })
        // The candidates as a set of ids computed first, then joined: `in (<candidates>)` let the
        // planner compare every row of the outbox with every candidate, and `= any(array(…))`
        // tests each row against the whole array (28 ms for 500 of 20 000 rows, ADR 0145); a set
        // is hashed, or looked up by key when the statistics know the outbox is large.
        .where(sql`${outbox.id} in (select unnest(array${candidates}))`)
        // The updated row's columns qualified by hand: drizzle leaves them bare, which inside the
        // subquery would name the subquery's own row.
        .returning({
          ...getTableColumns(outbox),
          hasSuccessor: sql<boolean>`exists (
            select 1 from ${outbox} s
            where s.aggregate_type = ${outbox}.aggregate_type and s.aggregate_id = ${outbox}.aggregate_id
              and s.published_at is null and s.id > ${outbox}.id and s.id <> all(${marked}))`,
        })
    );
  });
}

// `ids` is one bigint[] for any number of rows, so the statement's text stays the same. The ids
// are joined as a set, as in the claim; a row marked before keeps its `published_at` (coalesce)
// rather than being filtered out with `published_at is null`, a test that led the planner to scan
// every pending row against every id.
function markPublishedQuery(db: Executor, ids: SQL) {
  return db
    .update(outbox)
    .set({ publishedAt: sql`coalesce(${outbox.publishedAt}, now())`, claimedBy: null, claimedUntil: null, lastError: null })
    .where(sql`${outbox.id} in (select unnest(${ids}))`);
}

// Marks without claiming, for when no round follows: `runOnce` and `stop`.
const markPublishedStatement = prepareStatement((db) => markPublishedQuery(db, sql`${sql.placeholder("ids")}::bigint[]`));

async function markPublished({ db, marks }: RoundContext): Promise<void> {
  await marks.markWith(async (ids) => {
    if (ids.length > 0) await markPublishedStatement.execute(db, { ids });
  });
}

async function claim(round: RoundContext): Promise<ClaimedRow[]> {
  const { db, opts, marks } = round;
  const statement = claimStatementFor(opts.batchSize, outboxSizeClass(round.highestId));
  const rows = await marks.markWith((marked) => statement.execute(db, { relayId: opts.relayId, leaseS: opts.leaseMs / 1000, marked }));
  rows.sort((a, b) => a.id - b.id);
  round.highestId = Math.max(round.highestId, rows.at(-1)?.id ?? 0);
  return rows;
}

async function markFailed(db: Executor, id: number, attempts: number, reason: unknown, opts: ResolvedRelayOptions): Promise<void> {
  const delayMs = backoffDelay(opts.retry, attempts);
  const message = reason instanceof Error ? reason.message : String(reason);
  await db
    .update(outbox)
    .set({
      attempts,
      nextAttemptAt: sql`now() + make_interval(secs => ${delayMs / 1000})`,
      lastError: message.slice(0, 2_000),
      claimedBy: null,
      claimedUntil: null,
    })
    .where(and(inArray(outbox.id, [id]), isNull(outbox.publishedAt)));
}

async function deletePublished(db: Executor, opts: ResolvedRelayOptions): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db
      .delete(outbox)
      .where(
        inArray(
          outbox.id,
          sql`(select id from ${outbox} where published_at < now() - make_interval(secs => ${opts.retentionMs / 1000}) limit ${opts.cleanupBatchSize})`,
        ),
      )
      .returning({ id: outbox.id });
    total += deleted.length;
    if (deleted.length < opts.cleanupBatchSize) return total;
  }
}
