// Read-only views operators use: where one order's saga stands in each service, and what the
// consumers gave up on. The CLI (cli.ts) prints them; tests call them directly.
import { eq } from "drizzle-orm";
import type { Executor } from "@protomesh/data";
import { createDeadLetterStore, type StoredDeadLetter } from "@protomesh/messaging";
import { orders } from "../orders/schema.js";
import { reservations } from "../inventory/schema.js";
import { charges } from "../payments/schema.js";

export interface SagaView {
  orderId: string;
  order: { status: string; cancellationCause: string | null; deadline: Date; updatedAt: Date } | undefined;
  /** Per inventory database: "inventory", or each shard's name when inventory is sharded (ADR 0105). */
  reservations: Record<string, { status: string; lines: unknown } | undefined>;
  charge: { status: string; paymentId: string | null; amountMinor: bigint | null; declineReason: string | null } | undefined;
}

/** `inventory`: the inventory database by name, one entry per shard when it is sharded. */
export async function sagaView(dbs: { orders: Executor; inventory: Readonly<Record<string, Executor>>; payments: Executor }, orderId: string): Promise<SagaView> {
  const [order] = await dbs.orders
    .select({ status: orders.status, cancellationCause: orders.cancellationCause, deadline: orders.deadline, updatedAt: orders.updatedAt })
    .from(orders)
    .where(eq(orders.orderId, orderId));
  const reservationsByDatabase = await Promise.all(
    Object.entries(dbs.inventory).map(async ([name, db]) => {
      const [reservation] = await db.select({ status: reservations.status, lines: reservations.lines }).from(reservations).where(eq(reservations.orderId, orderId));
      return [name, reservation] as const;
    }),
  );
  const [charge] = await dbs.payments
    .select({ status: charges.status, paymentId: charges.paymentId, amountMinor: charges.amountMinor, declineReason: charges.declineReason })
    .from(charges)
    .where(eq(charges.orderId, orderId));
  return { orderId, order, reservations: Object.fromEntries(reservationsByDatabase), charge };
}

/** Dead letters not yet replayed, newest first. */
export function pendingDeadLetters(db: Executor, limit = 100): Promise<StoredDeadLetter[]> {
  return createDeadLetterStore(db).list({ onlyPending: true, limit });
}
