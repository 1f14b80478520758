// Reads from the broker how often a service's durable consumers redelivered: every delivery
// beyond the first of a message. Read after the run has settled (nothing left unacked).
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { subscriptions, type ServiceName } from "../../services/saga/topology.js";

/** Deliveries handed out and not yet acked, over all of a service's durable consumers. */
export async function ackPending(natsUrls: string[], service: ServiceName): Promise<number> {
  const nc = await connect({ servers: natsUrls });
  try {
    const jsm = await jetstreamManager(nc);
    let total = 0;
    for (const subscription of subscriptions.filter((s) => s.consumer === service)) {
      total += (await jsm.consumers.info(subscription.stream, subscription.durable)).num_ack_pending;
    }
    return total;
  } finally {
    await nc.close();
  }
}

/**
 * Waits until the broker holds no unacked delivery for `service`. A delivery stranded in a killed
 * replica is redelivered only after the ack wait, which can be long after every saga has ended
 * (the outbox relay of another replica published what the dead one committed), so a count of
 * redeliveries is read after this, not after the sagas settle.
 */
export async function untilAllAcked(natsUrls: string[], service: ServiceName, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await ackPending(natsUrls, service);
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${service} still had ${pending} deliveries unacked after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** The longest ack wait among a service's durable consumers, as the broker has it, ms. */
export async function ackWaitMs(natsUrls: string[], service: ServiceName): Promise<number> {
  const nc = await connect({ servers: natsUrls });
  try {
    const jsm = await jetstreamManager(nc);
    let longest = 0;
    for (const subscription of subscriptions.filter((s) => s.consumer === service)) {
      const info = await jsm.consumers.info(subscription.stream, subscription.durable);
      longest = Math.max(longest, Math.ceil((info.config.ack_wait ?? 0) / 1_000_000));
    }
    return longest;
  } finally {
    await nc.close();
  }
}

const CONSUMER_NOT_FOUND = 10014;

export async function redeliveries(natsUrls: string[], service: ServiceName): Promise<number> {
  const nc = await connect({ servers: natsUrls });
  try {
    const jsm = await jetstreamManager(nc);
    let total = 0;
    for (const subscription of subscriptions.filter((s) => s.consumer === service)) {
      // No replica of the service has started yet: nothing delivered, nothing redelivered.
      const consumer = await jsm.consumers.info(subscription.stream, subscription.durable).catch((err: unknown) => {
        if ((err as { code?: unknown } | null)?.code === CONSUMER_NOT_FOUND) return undefined;
        throw err;
      });
      if (consumer === undefined) continue;
      const stream = await jsm.streams.info(subscription.stream, { subjects_filter: subscription.eventType });
      const messages = stream.state.subjects?.[subscription.eventType] ?? 0;
      total += consumer.delivered.consumer_seq - messages;
    }
    return total;
  } finally {
    await nc.close();
  }
}
