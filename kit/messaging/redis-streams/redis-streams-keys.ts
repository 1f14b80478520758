/**
 * Where a bus keeps things in Redis. Every key of one stream carries the stream name as its hash
 * tag (`{ITEMS}`), so a script touching several of them runs on one Redis Cluster node.
 */
export interface StreamKeys {
  /** The stream's name (its StreamSpec name). */
  name: string;
  /** The Redis stream: one entry per stored message. */
  stream: string;
  /** Counter behind `PublishAck.sequence` and `Delivery.streamSequence`. */
  sequence: string;
  /** Nak'ed entries of one consumer group waiting for their redelivery time. */
  naks(durable: string): string;
  /** Marks a `messageId` as stored for the duplicate window. */
  dedupe(messageId: string): string;
}

export function streamKeys(prefix: string, stream: string): StreamKeys {
  const base = `${prefix}stream:{${stream}}`;
  return {
    name: stream,
    stream: base,
    sequence: `${base}:seq`,
    naks: (durable) => `${base}:naks:${durable}`,
    dedupe: (messageId) => `${base}:msgid:${messageId}`,
  };
}

/** The hash of declared streams (name -> JSON of the StreamSpec), read by every publisher. */
export function streamRegistryKey(prefix: string): string {
  return `${prefix}streams`;
}

/** Stream and durable names become parts of keys: keep them to what JetStream also accepts. */
export function validateName(kind: "stream" | "durable", name: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new TypeError(`redis streams ${kind} name "${name}" must be letters, digits, _ or - (as JetStream requires)`);
  }
}
