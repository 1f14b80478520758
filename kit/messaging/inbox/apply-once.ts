import type { Db, Tx } from "@protomesh/data";
import { type InboxKey, type InboxOutcome, withInbox } from "./with-inbox.js";

/**
 * Opens a transaction, records the event in the inbox under the consumer it came through and runs
 * `effect` in it: the usual body of an event handler, `applyOnce(db, event, (tx) => …)`. Resolve
 * means committed (ack the message); "duplicate" means another delivery already applied it (ack
 * and skip). Work that must follow the commit (cache invalidation) goes after it, on "applied".
 */
export function applyOnce<TSchema extends Record<string, unknown>, T>(
  db: Db<TSchema>,
  event: InboxKey,
  effect: (tx: Tx<TSchema>) => Promise<T>,
): Promise<InboxOutcome<T>> {
  return db.transaction((tx) => withInbox(tx, event, effect));
}
