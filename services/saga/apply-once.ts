// How every saga handler applies an event: in one transaction with its inbox record, under
// the handler's durable consumer name (its service's, or its inventory shard's), so a
// redelivered or duplicated event changes nothing the second time (DESIGN decision 7).
import type { Db, Tx } from "@protomesh/data";
import { applyOnce, type InboxOutcome } from "@protomesh/messaging";
import { type EventContext } from "@protomesh/messaging/nest";
import { durableName, type ServiceName } from "./topology.js";

export function applyEventOnce<T>(db: Db, consumer: ServiceName | (string & {}), context: EventContext, effect: (tx: Tx) => Promise<T>): Promise<InboxOutcome<T>> {
  return applyOnce(db, durableName(consumer, context.getSubject()), context.getEventId(), effect);
}
