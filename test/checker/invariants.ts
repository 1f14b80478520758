// Reads the three services' databases after a run and checks the saga's invariants (I1-I8
// of DESIGN.md). The tests, the fault scenarios and the demo share it, so they all judge a
// run by the same rules.
import { sql } from "drizzle-orm";
import type { Executor } from "@protomesh/data";
import { defaultDurableName } from "@protomesh/messaging";
import { subscriptions, type ServiceName } from "../../services/saga/topology.js";

export interface CheckerDatabases {
  orders: Executor;
  /** Inventory's database, or each shard's by shard name when inventory is sharded (ADR 0105). */
  inventory: Executor | { shards: Readonly<Record<string, Executor>> };
  payments: Executor;
}

export interface CheckerOptions {
  /** The saga deadline the orders service ran with, ms. */
  sagaDeadlineMs: number;
  /** Allowed lateness past the deadline (sweep interval, relay and consumer delays), ms. Default 10 000. */
  graceMs?: number;
}

export type Invariant = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | "I8";

export interface Violation {
  invariant: Invariant;
  message: string;
}

export interface InvariantReport {
  violations: Violation[];
  orders: { total: number; confirmed: number; cancelled: number; pending: number; cancelledBy: Record<string, number> };
  events: { published: number; unpublished: number; consumed: number; deadLettered: number; reorderedDeliveries: number };
  compensations: { stockReleased: number; paymentsRefunded: number };
}

type Row = Record<string, unknown>;

async function rows<T extends Row>(db: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  return (await db.execute(query)).rows as T[];
}

const MAX_LISTED = 10;

export async function checkInvariants(dbs: CheckerDatabases, options: CheckerOptions): Promise<InvariantReport> {
  const violations: Violation[] = [];
  const counts = new Map<Invariant, number>();
  const violate = (invariant: Invariant, message: string) => {
    const seen = (counts.get(invariant) ?? 0) + 1;
    counts.set(invariant, seen);
    if (seen <= MAX_LISTED) violations.push({ invariant, message });
  };
  const graceMs = options.graceMs ?? 10_000;

  // Outboxes and inboxes of every service; a sharded inventory is one consumer per shard, each
  // with its own durables and database, and its outbox is the union of the shards'.
  type OutboxRow = { id: string; event_id: string; event_type: string; aggregate_id: string; published: boolean };
  type InboxRow = { consumer: string; event_id: string; processed_at: Date };
  type DeadRow = { consumer: string; event_id: string | null };
  const inventoryShards = "shards" in dbs.inventory ? Object.entries(dbs.inventory.shards) : undefined;
  const consumers: { service: ServiceName; name: string; db: Executor }[] = [
    { service: "orders", name: "orders", db: dbs.orders },
    ...(inventoryShards ?? [["inventory", dbs.inventory as Executor] as const]).map(([name, db]) => ({ service: "inventory" as const, name, db })),
    { service: "payments", name: "payments", db: dbs.payments },
  ];
  const outboxes = new Map<ServiceName, OutboxRow[]>();
  const inboxes = new Map<string, InboxRow[]>();
  const deadLetters = new Map<string, DeadRow[]>();
  for (const { service, name, db } of consumers) {
    const outbox = await rows<OutboxRow>(db, sql`select id::text, event_id, event_type, aggregate_id, published_at is not null as published from outbox order by id`);
    outboxes.set(service, [...(outboxes.get(service) ?? []), ...outbox]);
    inboxes.set(name, await rows<InboxRow>(db, sql`select consumer, event_id, processed_at from inbox`));
    deadLetters.set(name, await rows<DeadRow>(db, sql`select consumer, event_id from dead_letters`));
  }

  const allOutbox = [...outboxes.values()].flat();
  const committedIds = new Set(allOutbox.map((row) => row.event_id));
  const unpublished = allOutbox.filter((row) => !row.published);
  for (const row of unpublished) violate("I1", `event ${row.event_type} ${row.event_id} (order ${row.aggregate_id}) was committed but never published`);

  let consumed = 0;
  let reorderedDeliveries = 0;
  for (const consumer of consumers) {
    const inbox = inboxes.get(consumer.name) ?? [];
    const dead = deadLetters.get(consumer.name) ?? [];
    for (const subscription of subscriptions.filter((s) => s.consumer === consumer.service)) {
      const durable = defaultDurableName(consumer.name, subscription.eventType);
      const expected = (outboxes.get(subscription.producer) ?? []).filter((row) => row.event_type === subscription.eventType);
      const expectedIds = new Map(expected.map((row) => [row.event_id, row]));
      const applied = inbox.filter((row) => row.consumer === durable);
      const appliedIds = new Set(applied.map((row) => row.event_id));
      const deadIds = new Set(dead.filter((row) => row.consumer === durable).map((row) => row.event_id));
      consumed += applied.filter((row) => expectedIds.has(row.event_id)).length;

      for (const row of expected) {
        if (!appliedIds.has(row.event_id) && !deadIds.has(row.event_id)) {
          violate("I1", `${durable} never applied ${row.event_type} ${row.event_id} (order ${row.aggregate_id}) and it is not a dead letter`);
        }
        if (appliedIds.has(row.event_id) && deadIds.has(row.event_id)) {
          violate("I8", `${durable} both applied and dead-lettered ${row.event_type} ${row.event_id}`);
        }
      }
      for (const row of applied) {
        if (!expectedIds.has(row.event_id) && !committedIds.has(row.event_id)) {
          violate("I2", `${durable} applied event ${row.event_id}, which no outbox ever committed`);
        }
      }

      // Per-aggregate order: deliveries applied in an order other than the producer's.
      const byAggregate = new Map<string, { outboxId: bigint; processedAt: number }[]>();
      for (const row of applied) {
        const produced = expectedIds.get(row.event_id);
        if (produced === undefined) continue;
        const list = byAggregate.get(produced.aggregate_id) ?? [];
        list.push({ outboxId: BigInt(produced.id), processedAt: new Date(row.processed_at).getTime() });
        byAggregate.set(produced.aggregate_id, list);
      }
      for (const list of byAggregate.values()) {
        list.sort((a, b) => a.processedAt - b.processedAt);
        for (let i = 1; i < list.length; i++) if ((list[i]?.outboxId ?? 0n) < (list[i - 1]?.outboxId ?? 0n)) reorderedDeliveries += 1;
      }
    }
  }

  // I3: each effect once. The ledger is where a double effect would show as money.
  for (const dup of await rows<{ order_id: string; kind: string; n: number }>(
    dbs.payments,
    sql`select order_id, kind, count(*)::int as n from ledger_entries group by order_id, kind having count(*) > 1`,
  )) {
    violate("I3", `order ${dup.order_id} has ${dup.n} ${dup.kind} ledger entries`);
  }

  // I5: stock conserved and consistent with the reservations that hold it, in every shard; and
  // a SKU's stock lives in one shard only.
  const inventoryDbs = consumers.filter((consumer) => consumer.service === "inventory").map(({ name, db }) => [name, db] as const);
  const stockedIn = new Map<string, string[]>();
  for (const [shard, inventory] of inventoryDbs) {
    for (const { sku } of await rows<{ sku: string }>(inventory, sql`select sku from stock_items`)) stockedIn.set(sku, [...(stockedIn.get(sku) ?? []), shard]);
    for (const bad of await rows<{ sku: string; available: number; reserved: number; sold: number; total: number }>(
      inventory,
      sql`select s.sku, s.available, s.reserved, s.sold, coalesce(l.total, 0)::int as total
          from stock_items s left join (select sku, sum(delta) as total from stock_ledger group by sku) l on l.sku = s.sku
          where s.available + s.reserved + s.sold <> coalesce(l.total, 0) or s.available < 0 or s.reserved < 0 or s.sold < 0`,
    )) {
      violate("I5", `SKU ${bad.sku}: available ${bad.available} + reserved ${bad.reserved} + sold ${bad.sold} != stocked ${bad.total}`);
    }
    for (const bad of await rows<{ sku: string; status: string; counter: number; held: number }>(
      inventory,
      sql`select s.sku, h.status, case h.status when 'reserved' then s.reserved else s.sold end as counter, h.held::int as held
          from stock_items s
          join (select line->>'sku' as sku, r.status, sum((line->>'quantity')::int) as held
                from reservations r, jsonb_array_elements(r.lines) as line
                where r.status in ('reserved', 'sold') group by 1, 2) h on h.sku = s.sku
          where (h.status = 'reserved' and s.reserved <> h.held) or (h.status = 'sold' and s.sold <> h.held)`,
    )) {
      violate("I5", `SKU ${bad.sku}: ${bad.status} counter ${bad.counter} but reservations hold ${bad.held}`);
    }
  }
  for (const [sku, shards] of stockedIn) if (shards.length > 1) violate("I5", `SKU ${sku} has stock in ${shards.length} shards (${shards.join(", ")})`);

  // I6 and I7 per order.
  type OrderRow = { order_id: string; status: string; cause: string | null; total_minor: string; created_at: Date; updated_at: Date };
  const orderRows = await rows<OrderRow>(dbs.orders, sql`select order_id::text, status, cancellation_cause as cause, total_minor::text, created_at, updated_at from orders`);
  const charged = new Map(
    (await rows<{ order_id: string; charged: string }>(dbs.payments, sql`select order_id, sum(amount_minor)::text as charged from ledger_entries group by order_id`)).map(
      (row) => [row.order_id, BigInt(row.charged)],
    ),
  );
  const cancelledBy: Record<string, number> = {};
  for (const order of orderRows) {
    const money = charged.get(order.order_id) ?? 0n;
    if (order.status === "confirmed" && money !== BigInt(order.total_minor)) {
      violate("I6", `order ${order.order_id} is confirmed but charged ${money}, not its total ${order.total_minor}`);
    }
    if (order.status === "cancelled" && money !== 0n) violate("I6", `order ${order.order_id} is cancelled but still charged ${money}`);
    if (order.status === "confirmed" && BigInt(order.total_minor) <= 0n) violate("I6", `order ${order.order_id} is confirmed with a total of ${order.total_minor}; only positive totals are charged`);
    if (order.status === "pending") violate("I7", `order ${order.order_id} is still pending`);
    const tookMs = new Date(order.updated_at).getTime() - new Date(order.created_at).getTime();
    if (order.status !== "pending" && tookMs > options.sagaDeadlineMs + graceMs) {
      violate("I7", `order ${order.order_id} ended ${order.status} after ${tookMs} ms, past its deadline ${options.sagaDeadlineMs} ms + grace ${graceMs} ms`);
    }
    if (order.status === "cancelled") cancelledBy[order.cause ?? "unknown"] = (cancelledBy[order.cause ?? "unknown"] ?? 0) + 1;
  }
  for (const capture of await rows<{ order_id: string; amount: string }>(dbs.payments, sql`select order_id, amount_minor::text as amount from ledger_entries where kind = 'capture' and amount_minor <= 0`)) {
    violate("I6", `payments captured ${capture.amount} for order ${capture.order_id}; a capture is positive`);
  }
  for (const orderId of charged.keys()) {
    if (!orderRows.some((order) => order.order_id === orderId)) violate("I6", `payments charged order ${orderId}, which orders never stored`);
  }

  for (const [invariant, seen] of counts) {
    if (seen > MAX_LISTED) violations.push({ invariant, message: `… and ${seen - MAX_LISTED} more ${invariant} violations` });
  }
  const countOf = (type: string) => allOutbox.filter((row) => row.event_type === type).length;
  return {
    violations,
    orders: {
      total: orderRows.length,
      confirmed: orderRows.filter((o) => o.status === "confirmed").length,
      cancelled: orderRows.filter((o) => o.status === "cancelled").length,
      pending: orderRows.filter((o) => o.status === "pending").length,
      cancelledBy,
    },
    events: {
      published: allOutbox.length - unpublished.length,
      unpublished: unpublished.length,
      consumed,
      deadLettered: [...deadLetters.values()].flat().length,
      reorderedDeliveries,
    },
    compensations: { stockReleased: countOf("shop.inventory.v1.StockReleased"), paymentsRefunded: countOf("shop.payments.v1.PaymentRefunded") },
  };
}
