// rpc: unary CreateOrder calls to the same handler behind each server, one grpc-js client
// (protobuf-es serializers) in its own process for all. Anchor: Nest's built-in gRPC transport.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDevCertificates } from "protomesh/kit/tls";
import { freePort } from "../test/helpers/free-port.js";
import { startChild } from "./harness/children.js";
import { measure } from "./harness/measure.js";
import { printWithRatios, type Result } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

const variants = [
  { variant: "nest-connect", server: "connect" },
  { variant: "nest-connect-mtls", server: "connect-mtls" },
  { variant: "bare-connect-node", server: "bare-connect" },
  { variant: "nest-grpc", server: "nest-grpc" },
  { variant: "bare-grpc-js", server: "grpc-js" },
] as const;

export async function rpc(settings: BenchSettings): Promise<void> {
  const certDir = await mkdtemp(join(tmpdir(), "protomesh-bench-"));
  try {
    await writeDevCertificates(certDir, ["orders", "bench-client"]);
    const rows: Result[] = [];
    for (const { variant, server } of variants) {
      const port = await freePort();
      const child = await startChild("servers/orders-server.ts", [server, String(port), certDir]);
      try {
        const tls = server === "connect-mtls" ? { certDir } : {};
        const row = await measure("rpc", variant, [child], {
          caller: { kind: "grpc-js", targets: [`127.0.0.1:${port}`], ...tls },
          concurrency: settings.concurrency,
          warmupS: settings.warmupS,
          seconds: settings.seconds,
        });
        rows.push(row);
        console.error(`rpc ${variant}: ${row.callsPerS} calls/s, server ${row.serverCpuUsPerCall} µs/call`);
      } finally {
        await child.stop();
      }
    }
    printWithRatios(rows, "nest-grpc", ["callsPerS", "serverCpuUsPerCall", "clientCpuUsPerCall", "p99Ms", "serverRssMiB"]);
    const plain = rows.find((r) => r.variant === "nest-connect");
    const mtls = rows.find((r) => r.variant === "nest-connect-mtls");
    if (plain !== undefined && mtls !== undefined) {
      console.log(JSON.stringify({ bench: "rpc", ratio: "mtls/cleartext callsPerS", value: Math.round((mtls.callsPerS / plain.callsPerS) * 1000) / 1000 }));
    }
  } finally {
    await rm(certDir, { recursive: true, force: true });
  }
}
