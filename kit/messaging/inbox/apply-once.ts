import type { Db, Tx } from "@protomesh/data";
import { type InboxOutcome, withInbox } from "./with-inbox.js";

/**
 * Opens a transaction, records the event in the inbox and runs `effect` in it: the usual body
 * of an event handler. Resolve means committed (ack the message); "duplicate" means another
 * delivery already applied it (ack and skip).
 */
export function applyOnce<TSchema extends Record<string, unknown>, T>(
  db: Db<TSchema>,
  consumer: string,
  eventId: string,
  effect: (tx: Tx<TSchema>) => Promise<T>,
): Promise<InboxOutcome<T>> {
  return db.transaction((tx) => withInbox(tx, consumer, eventId, effect));
}
