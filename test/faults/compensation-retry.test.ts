// A compensation that fails several times before it succeeds: inventory's release of a
// declined order's stock is refused by the database three times per order (a trigger that
// counts attempts over a separate connection, so the count survives the rollback), then
// allowed. The handler's naks bring the OrderCancelled event back with growing delays; the
// fourth delivery releases the stock, nothing is dead-lettered and stock is conserved.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries } from "./broker-stats.js";

const REFUSALS = 3;
const SAGA_DEADLINE_MS = 30_000;

/** Makes inventory's release fail `refusals` times per order before it may commit. */
function refuseReleasesSql(databaseUrl: string, refusals: number): string {
  const url = new URL(databaseUrl);
  const conninfo = `host=${url.hostname} port=${url.port || "5432"} dbname=${url.pathname.slice(1)} user=${decodeURIComponent(url.username)}`;
  return `
    create extension if not exists dblink;
    create table fault_release_attempts (order_id text primary key, attempts int not null);
    create function fault_refuse_release() returns trigger language plpgsql as $$
    declare
      attempt int;
    begin
      -- Counted over a second connection, so the count stays when this transaction rolls back.
      select t.n into attempt from dblink(${pgLiteral(conninfo)},
        format('insert into fault_release_attempts values (%L, 1) on conflict (order_id) do update set attempts = fault_release_attempts.attempts + 1 returning attempts', new.order_id)) as t(n int);
      if attempt <= ${refusals} then
        raise exception 'release of order % refused (attempt %)', new.order_id, attempt;
      end if;
      return new;
    end $$;
    create trigger fault_refuse_release before update on reservations
      for each row when (new.status = 'released' and old.status <> 'released') execute function fault_refuse_release();`;
}

function pgLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

describe("a compensation fails several times before it succeeds", () => {
  const fault = useFaultShop(() => ({ sagaDeadlineMs: SAGA_DEADLINE_MS, env: { payments: { PAYMENT_DECLINE_RATE: "0.3" } } }));

  it("releases the stock of every declined order once, on the delivery after the last refusal", async () => {
    const db = new pg.Client({ connectionString: fault.shop.databaseUrl("inventory") });
    await db.connect();
    try {
      await db.query(refuseReleasesSql(fault.shop.databaseUrl("inventory"), REFUSALS));
      const startedAt = Date.now();
      const placed = await fault.shop.placeOrders(40, 4);
      const report = await fault.shop.settle(90_000);
      const attempts = (await db.query("select order_id, attempts from fault_release_attempts")).rows as { order_id: string; attempts: number }[];
      const released = (await db.query("select count(*)::int as n from reservations where status = 'released'")).rows[0] as { n: number };
      const dead = (await db.query("select count(*)::int as n from dead_letters")).rows[0] as { n: number };
      const redelivered = await redeliveries(fault.shop.nats.servers, "inventory");
      console.info(
        `compensation refused ${REFUSALS}x: ${JSON.stringify({ placed, releases: attempts.length, released: released.n, attemptsPerRelease: [...new Set(attempts.map((a) => a.attempts))], redelivered, settledMs: Date.now() - startedAt, orders: report.orders, events: report.events, compensations: report.compensations })}`,
      );

      expect(report.violations).toEqual([]);
      expect(report.orders.pending).toBe(0);
      expect(report.orders.total).toBe(placed.accepted);
      // Every declined order's stock was released, each after exactly REFUSALS refused attempts.
      expect(report.orders.cancelled).toBeGreaterThan(0);
      expect(released.n).toBe(report.orders.cancelled);
      expect(attempts).toHaveLength(report.orders.cancelled);
      expect(attempts.every((a) => a.attempts === REFUSALS + 1)).toBe(true);
      expect(report.compensations.stockReleased).toBe(report.orders.cancelled);
      expect(redelivered).toBeGreaterThanOrEqual(REFUSALS * report.orders.cancelled);
      expect(dead.n).toBe(0);
    } finally {
      await db.end();
    }
  }, 180_000);
});
