import { sql } from "drizzle-orm";
import type { Executor } from "@protomesh/data";
import { outbox } from "./outbox-table.js";

/** The outbox's backlog: what an "outbox lag" metric or an admin view reports. */
export interface OutboxStats {
  /** Rows not yet published. */
  pending: number;
  /** Pending rows that failed at least once. */
  failing: number;
  /** Age of the oldest pending row, ms; 0 when nothing is pending. */
  oldestPendingAgeMs: number;
}

export async function outboxStats(db: Executor): Promise<OutboxStats> {
  const [row] = await db
    .select({
      pending: sql<number>`count(*)::int`,
      failing: sql<number>`(count(*) filter (where ${outbox.attempts} > 0))::int`,
      oldestPendingAgeMs: sql<number>`coalesce(extract(epoch from (now() - min(${outbox.createdAt}))) * 1000, 0)::float8`,
    })
    .from(outbox)
    .where(sql`${outbox.publishedAt} is null`);
  return { pending: row?.pending ?? 0, failing: row?.failing ?? 0, oldestPendingAgeMs: Math.round(row?.oldestPendingAgeMs ?? 0) };
}
