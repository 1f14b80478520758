// rpc: unary CreateOrder calls to the same handler behind each server, one grpc-js client
// (protobuf-es serializers) in its own process for all. Anchor: Nest's built-in gRPC transport.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeDevCertificates } from "@protomesh/server/pki";
import { freePort } from "../test/helpers/free-port.js";
import { startChild } from "./harness/children.js";
import { measure } from "./harness/measure.js";
import { median, printWithRatios, round, type Result } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

const variants = [
  { variant: "nest-connect", server: "connect" },
  { variant: "nest-connect-mtls", server: "connect-mtls" },
  { variant: "bare-connect-node", server: "bare-connect" },
  { variant: "nest-grpc", server: "nest-grpc" },
  { variant: "bare-grpc-js", server: "grpc-js" },
] as const;
const anchor = "nest-grpc";
const fields = ["callsPerS", "serverCpuUsPerCall", "clientCpuUsPerCall", "p99Ms", "serverRssMiB"] as const;

export async function rpc(settings: BenchSettings): Promise<void> {
  const unknown = settings.only.filter((name) => !variants.some((v) => v.variant === name));
  if (unknown.length > 0) throw new Error(`--only names no rpc variant: ${unknown.join(", ")}; known: ${variants.map((v) => v.variant).join(", ")}`);
  const chosen = variants.filter((v) => settings.only.length === 0 || settings.only.includes(v.variant));
  const certDir = await mkdtemp(join(tmpdir(), "protomesh-bench-"));
  try {
    await writeDevCertificates(certDir, { trustDomain: "shop", names: ["orders", "bench-client"] });
    const rounds: Result[][] = [];
    for (let r = 0; r < settings.rounds; r++) {
      const rows: Result[] = [];
      for (const { variant, server } of r % 2 === 0 ? chosen : [...chosen].reverse()) {
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
          rows.push(settings.rounds > 1 ? { ...row, round: r + 1 } : row);
          console.error(`rpc ${variant}${settings.rounds > 1 ? ` (round ${r + 1})` : ""}: ${row.callsPerS} calls/s, server ${row.serverCpuUsPerCall} µs/call`);
        } finally {
          await child.stop();
        }
      }
      printWithRatios(rows, anchor, fields);
      rounds.push(rows);
    }
    if (settings.rounds > 1) printMedians(rounds);
    const last = rounds.at(-1) ?? [];
    const plain = last.find((r) => r.variant === "nest-connect");
    const mtls = last.find((r) => r.variant === "nest-connect-mtls");
    if (plain !== undefined && mtls !== undefined) {
      console.log(JSON.stringify({ bench: "rpc", ratio: "mtls/cleartext callsPerS", value: round(mtls.callsPerS / plain.callsPerS, 3) }));
    }
  } finally {
    await rm(certDir, { recursive: true, force: true });
  }
}

// Per variant: the median of each field over the rounds, and the median of its per-round ratios
// to the anchor (a host that drifts moves both sides of a round together, so these are steadier
// than a ratio of medians).
function printMedians(rounds: readonly Result[][]): void {
  for (const { variant } of variants) {
    const rows = rounds.flatMap((rows) => rows.filter((r) => r.variant === variant));
    if (rows.length === 0) continue;
    const medians: Record<string, number> = {};
    const ratios: Record<string, number> = {};
    for (const field of fields) {
      const values = rows.map((r) => r[field]).filter((v): v is number => typeof v === "number");
      medians[field] = median(values);
      const perRound = rounds.flatMap((rows) => {
        const a = rows.find((r) => r.variant === variant)?.[field];
        const b = rows.find((r) => r.variant === anchor)?.[field];
        return typeof a === "number" && typeof b === "number" && b !== 0 ? [a / b] : [];
      });
      if (perRound.length > 0) ratios[field] = round(median(perRound), 3);
    }
    console.log(JSON.stringify({ bench: "rpc", variant, rounds: rows.length, median: medians, anchor, medianRatio: ratios }));
  }
}
