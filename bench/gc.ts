// gc: the effect of V8's young-generation size (--max-semi-space-size, MiB) and old-space limit
// (--max-old-space-size, MiB) on the server side of the rpc benchmark (the Nest ConnectTransport
// server, one grpc-js client) and of the relay benchmark (relay-live). Each flag set restarts the
// server process (the rpc server, the relay's process) with those flags; clients and writers keep
// the defaults. Anchor: no flags. GC pauses and counts come from V8's GC performance entries;
// the counts are what a loaded host cannot blur.
import { loadavg } from "node:os";
import { freePort } from "../test/helpers/free-port.js";
import { type Child, startChild } from "./harness/children.js";
import { measure } from "./harness/measure.js";
import { printWithRatios, round, type Result } from "./harness/stats.js";
import { gcCountsPer1k, measureRelayLive, startRelayBed } from "./relay.js";
import type { GcTotals } from "./harness/gc-time.js";
import type { BenchSettings } from "./settings.js";

export const gcFlagSets: readonly { name: string; nodeArgs: string[] }[] = [
  { name: "default", nodeArgs: [] },
  { name: "semi-space-64", nodeArgs: ["--max-semi-space-size=64"] },
  { name: "old-space-192", nodeArgs: ["--max-old-space-size=192"] },
];
/** Window of each measurement, s, so that six of them stay near a minute. */
const gcWindowS = 4;

interface Sample extends GcTotals {
  calls: number;
}

async function rpcRow(name: string, nodeArgs: readonly string[], settings: BenchSettings): Promise<Result> {
  const port = await freePort();
  const server: Child = await startChild("servers/orders-server.ts", ["connect", String(port)], nodeArgs);
  try {
    const before = await server.request<Sample>({ type: "sample" });
    const row = await measure("gc", `rpc ${name}`, [server], {
      caller: { kind: "grpc-js", targets: [`127.0.0.1:${port}`] },
      concurrency: settings.concurrency,
      warmupS: settings.warmupS,
      seconds: settings.seconds,
    });
    const after = await server.request<Sample>({ type: "sample" });
    const calls = after.calls - before.calls;
    // Over the warm-up and the window: scavenges are too few in a short window to count alone.
    return { ...row, gcMsPer1kCalls: calls === 0 ? null : round(((after.gcMs - before.gcMs) / calls) * 1000, 2), ...gcCountsPer1k(before, after, calls), nodeArgs: nodeArgs.join(" ") };
  } finally {
    await server.stop();
  }
}

export async function gc(full: BenchSettings): Promise<void> {
  const settings = { ...full, seconds: Math.min(full.seconds, gcWindowS) };
  const rpcRows: Result[] = [];
  const relayRows: Result[] = [];
  const bed = await startRelayBed("bench_gc");
  try {
    for (const { name, nodeArgs } of gcFlagSets) {
      const rpc = await rpcRow(name, nodeArgs, settings);
      rpcRows.push(rpc);
      console.error(`gc rpc ${name}: ${rpc.callsPerS} calls/s, server ${rpc.serverCpuUsPerCall} µs/call, GC ${String(rpc["gcMsPer1kCalls"])} ms and ${String(rpc["minorGcsPer1k"])} scavenges per 1k calls`);
      const node = await startChild("servers/relay-node.ts", [bed.nats.url, bed.database.url], nodeArgs);
      try {
        const relay = await measureRelayLive("gc", node, bed.database.url, settings, `relay ${name}`);
        relayRows.push({ ...relay, nodeArgs: nodeArgs.join(" "), load1: round(loadavg()[0] ?? 0, 2) });
        console.error(`gc relay ${name}: ${relay.callsPerS} events/s, relay ${relay.serverCpuUsPerCall} µs/event, p99 ${relay.p99Ms} ms, GC ${String(relay["gcMsPerS"])} ms/s, ${String(relay["minorGcsPer1k"])} scavenges per 1k events`);
      } finally {
        await node.stop();
      }
    }
  } finally {
    await bed.dispose();
  }
  printWithRatios(rpcRows, "rpc default", ["callsPerS", "serverCpuUsPerCall", "p99Ms", "serverRssMiB", "gcMsPer1kCalls", "minorGcsPer1k", "majorGcsPer1k"]);
  printWithRatios(relayRows, "relay default", ["callsPerS", "serverCpuUsPerCall", "p99Ms", "serverRssMiB", "gcMsPerS", "minorGcsPer1k", "majorGcsPer1k"]);
}
