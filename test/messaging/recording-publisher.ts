import { setTimeout as sleep } from "node:timers/promises";
import type { EventPublisher, OutgoingMessage, PublishAck } from "@protomesh/messaging";

/** A publisher that records what it was asked to publish, with optional latency and failures. */
export interface RecordingPublisher extends EventPublisher {
  readonly published: OutgoingMessage[];
  /** Event ids in first-publication order. */
  ids(): string[];
}

export function recordingPublisher(
  options: { latencyMs?: () => number; fail?: (message: OutgoingMessage) => boolean; hang?: boolean } = {},
): RecordingPublisher {
  const published: OutgoingMessage[] = [];
  let sequence = 0;
  return {
    published,
    ids: () => [...new Set(published.map((m) => m.messageId))],
    async publish(message): Promise<PublishAck> {
      // A broker that never answers: the publish stays pending, like a relay frozen mid-call.
      if (options.hang) return new Promise<PublishAck>(() => undefined);
      const latency = options.latencyMs?.() ?? 0;
      if (latency > 0) await sleep(latency);
      if (options.fail?.(message)) throw new Error(`publish of ${message.messageId} refused`);
      const duplicate = published.some((m) => m.messageId === message.messageId);
      published.push(message);
      return { stream: "TEST", sequence: ++sequence, duplicate };
    },
  };
}
