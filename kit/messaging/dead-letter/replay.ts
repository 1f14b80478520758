import type { EventPublisher, PublishAck } from "../bus/event-bus.js";
import type { DeadLetterStore } from "./dead-letter-store.js";

/**
 * Publishes a dead letter again, unchanged, on its original subject, and marks it replayed.
 * The broker dedupe id is fresh (the original id may still be in the duplicate window); the
 * event id header is kept, so consumers that already applied the event skip it in their inbox.
 */
export async function replayDeadLetter(store: DeadLetterStore, publisher: EventPublisher, id: number): Promise<PublishAck> {
  const letter = await store.get(id);
  if (!letter) throw new Error(`dead letter ${id} not found`);
  const ack = await publisher.publish({
    subject: letter.subject,
    data: letter.payload,
    headers: letter.headers,
    messageId: `${letter.eventId ?? `${letter.stream}:${letter.streamSequence}`}:replay:${id}`,
  });
  await store.markReplayed(id);
  return ack;
}
