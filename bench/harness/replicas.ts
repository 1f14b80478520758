// N grpc-js OrdersService replicas, each a process of its own, for the client benchmarks.
import { freePort } from "../../test/helpers/free-port.js";
import { type Child, startChild } from "./children.js";

export interface Replicas {
  servers: Child[];
  targets: string[];
  /** Sets every replica's (or one replica's) delay and failure mode. */
  mode(mode: { delayMs?: number; fail?: boolean }, index?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startReplicas(n: number): Promise<Replicas> {
  const servers: Child[] = [];
  const targets: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      servers.push(await startChild("servers/orders-server.ts", ["grpc-js", String(port)]));
      targets.push(`127.0.0.1:${port}`);
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
  return {
    servers,
    targets,
    mode: async (mode, index) => {
      const chosen = index === undefined ? servers : [servers[index] as Child];
      await Promise.all(chosen.map((s) => s.request({ type: "mode", ...mode })));
    },
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
