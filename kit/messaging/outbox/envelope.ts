import { EventHeaders, type OutgoingMessage } from "../bus/event-bus.js";

/** An event as the outbox stores it: the payload plus what the relay needs to publish it. */
export interface Envelope {
  /** Unique per event; the broker's dedupe id and the consumers' inbox key. */
  eventId: string;
  aggregateType: string;
  aggregateId: string;
  /** Fully-qualified protobuf type name; consumers decode the payload by it. */
  eventType: string;
  subject: string;
  payload: Uint8Array;
  /** Extra headers, the trace context (`traceparent`, `tracestate`) among them. */
  headers: Record<string, string>;
  createdAt: Date;
}

/** Publication state of a stored envelope. */
export interface EnvelopeState {
  /** Row id: orders the events of one aggregate. */
  id: number;
  publishedAt: Date | null;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
}

export function toOutgoingMessage(envelope: Envelope): OutgoingMessage {
  return {
    subject: envelope.subject,
    data: envelope.payload,
    messageId: envelope.eventId,
    headers: {
      ...envelope.headers,
      [EventHeaders.eventType]: envelope.eventType,
      [EventHeaders.eventId]: envelope.eventId,
      [EventHeaders.aggregateType]: envelope.aggregateType,
      [EventHeaders.aggregateId]: envelope.aggregateId,
    },
  };
}
