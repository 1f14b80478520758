import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The shared nats-server with JetStream every developer and CI machine runs. */
export const SHARED_NATS_URL = process.env.PROTOMESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A name no other test file uses, valid as a stream name and a subject token: `PREFIX_1a2b3c4d`. */
export function uniqueName(prefix: string): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, "_")}_${randomBytes(4).toString("hex")}`;
}

/**
 * Tracks streams a test creates on a (shared) server and deletes them, and closes the
 * connections it opened, in `cleanup()`.
 */
export interface StreamJanitor {
  connect(servers?: string | string[]): Promise<NatsConnection>;
  track(stream: string): string;
  cleanup(): Promise<void>;
}

export function streamJanitor(servers: string | string[] = SHARED_NATS_URL): StreamJanitor {
  const streams = new Set<string>();
  const connections = new Set<NatsConnection>();
  return {
    async connect(target = servers) {
      const nc = await connect({ servers: target });
      connections.add(nc);
      return nc;
    },
    track(stream) {
      streams.add(stream);
      return stream;
    },
    async cleanup() {
      if (streams.size > 0) {
        const nc = await connect({ servers });
        const jsm = await jetstreamManager(nc);
        for (const name of streams) await jsm.streams.delete(name).catch(() => false);
        await nc.close();
      }
      await Promise.all(
        [...connections].map(async (nc) => {
          if (!nc.isClosed()) await nc.close();
        }),
      );
    },
  };
}
