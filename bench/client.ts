// client: the cost of our balancing client. protomesh's client (defaults: P2C, health checks,
// retry, breaker, deadline) over 4 grpc-js replicas, the same to one replica, a plain
// connect-node gRPC transport to one replica, and grpc-js with round_robin over the 4.
// Anchor: grpc-js round_robin.
import { startReplicas } from "./harness/replicas.js";
import { measure } from "./harness/measure.js";
import type { CallerSpec } from "./harness/callers.js";
import { printWithRatios, type Result } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

export async function client(settings: BenchSettings): Promise<void> {
  const replicas = await startReplicas(4);
  try {
    const all = replicas.targets;
    const one = all.slice(0, 1);
    const variants: [string, CallerSpec, number][] = [
      ["protomesh-4", { kind: "protomesh", targets: all }, 4],
      ["protomesh-1", { kind: "protomesh", targets: one }, 1],
      ["connect-node-1", { kind: "connect-node", target: one[0] as string }, 1],
      ["grpc-js-round-robin-4", { kind: "grpc-js", targets: all, roundRobin: true }, 4],
    ];
    const rows: Result[] = [];
    for (const [variant, caller, n] of variants) {
      const row = await measure("client", variant, replicas.servers.slice(0, n), {
        caller,
        concurrency: settings.concurrency,
        warmupS: settings.warmupS,
        seconds: settings.seconds,
      });
      rows.push(row);
      console.error(`client ${variant}: ${row.callsPerS} calls/s, client ${row.clientCpuUsPerCall} µs/call`);
    }
    printWithRatios(rows, "grpc-js-round-robin-4", ["callsPerS", "clientCpuUsPerCall", "p99Ms"]);
    const balanced = rows.find((r) => r.variant === "protomesh-4");
    const plain = rows.find((r) => r.variant === "connect-node-1");
    if (balanced !== undefined && plain !== undefined) {
      console.log(JSON.stringify({ bench: "client", ratio: "protomesh-4/connect-node-1 callsPerS", value: Math.round((balanced.callsPerS / plain.callsPerS) * 1000) / 1000 }));
    }
  } finally {
    await replicas.stop();
  }
}
