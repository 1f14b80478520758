// How every saga handler applies an event: in one transaction with its inbox record, so a
// redelivered or duplicated event changes nothing the second time (DESIGN decision 7).
import { runTransaction, type Db, type Tx } from "protomesh/kit/data";
import { withInbox, type InboxOutcome, type JetStreamContext } from "protomesh/kit/messaging";
import { durableName, type ServiceName } from "./topology.js";

export function applyOnce<T>(db: Db, service: ServiceName, context: JetStreamContext, effect: (tx: Tx) => Promise<T>): Promise<InboxOutcome<T>> {
  return runTransaction(db, (tx) => withInbox(tx, durableName(service, context.getSubject()), context.getEventId(), effect));
}
