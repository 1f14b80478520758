// relay: the kit's outbox relay against raw JetStream publishing from the same process to the
// same stream (the ceiling), on PostgreSQL, with a private nats-server and a throwaway database.
//   raw-publish  the relay's process publishes the outbox's event with a fixed number in flight,
//                whatever the relay's defaults; latency = publish to PubAck (the anchor);
//   relay-live   a writer process commits one-event transactions from `writers` loops while the
//                relay publishes them; latency = the writer's commit to the broker's PubAck;
//   relay-drain  a backlog committed before the relay starts: how fast the relay alone goes;
//                relay-drain-batch-1000 the same with a batch of 1 000.
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { openDatabase } from "@protomesh/data";
import { resolveRelayOptions } from "@protomesh/messaging";
import { createTestDatabase, startNatsServer, type NatsServer, type TestDatabase } from "../test/helpers/index.js";
import { type Child, startChild } from "./harness/children.js";
import type { GcTotals } from "./harness/gc-time.js";
import type { WriterReport, WriterSpec } from "./harness/outbox-writers.js";
import { printWithRatios, round, summarize, type Result } from "./harness/stats.js";
import type { RawReport } from "./servers/relay-node.js";
import type { BenchSettings } from "./settings.js";

/**
 * How many publishes raw publishing keeps in flight. Fixed, so the anchor does not move when the relay's
 * defaults do (it once followed the default batch): 100 is what every earlier run used.
 */
export const rawPublishInFlight = 100;
/** The relay's default batch, for the drain's report. */
const defaultBatchSize = resolveRelayOptions({}).batchSize;
/** The drain's second variant: a batch that spreads each round's fixed cost (ADR 91). */
const bigBatchSize = 1_000;
/** Largest backlog relay-drain starts from. */
const maxBacklog = 20_000;
const ordersMigrations = fileURLToPath(new URL("../services/orders/migrations", import.meta.url));

interface Sample extends GcTotals {
  cpuUs: number;
  rss: number;
  calls: number;
}

/** A private nats-server and a throwaway database with the outbox table, for one benchmark. */
export interface RelayBed {
  nats: NatsServer;
  database: TestDatabase;
  dispose(): Promise<void>;
}

export async function startRelayBed(name: string): Promise<RelayBed> {
  const nats = await startNatsServer();
  const database = await createTestDatabase(name);
  try {
    // The orders service's migrations: its outbox is the table the relay reads in production.
    const opened = await openDatabase({ url: database.url, migrationsFolder: ordersMigrations });
    await opened.close();
  } catch (error) {
    await database.drop();
    await nats.dispose();
    throw error;
  }
  return {
    nats,
    database,
    dispose: async () => {
      await database.drop();
      await nats.dispose();
    },
  };
}

/** Publishes from `node` with `rawPublishInFlight` in flight; the anchor row. */
export async function measureRawPublish(bench: string, node: Child, settings: BenchSettings): Promise<Result> {
  const report = await node.request<RawReport>({ type: "raw", concurrency: rawPublishInFlight, warmupS: settings.warmupS, seconds: settings.seconds });
  const sample = await node.request<Sample>({ type: "sample" });
  return {
    bench,
    variant: "raw-publish",
    callsPerS: Math.round(report.calls / report.seconds),
    errors: 0,
    ...summarize(report.latenciesMs),
    serverCpuUsPerCall: report.calls === 0 ? null : round(report.cpuUs / report.calls),
    // No writer process: the publisher is the only client.
    clientCpuUsPerCall: 0,
    serverRssMiB: round(sample.rss / 2 ** 20),
    load1: round(loadavg()[0] ?? 0, 2),
    inFlight: rawPublishInFlight,
  };
}

/** Young and full collections per 1 000 events between two samples. */
export function gcCountsPer1k(before: GcTotals, after: GcTotals, events: number): { minorGcsPer1k: number | null; majorGcsPer1k: number | null } {
  if (events === 0) return { minorGcsPer1k: null, majorGcsPer1k: null };
  return { minorGcsPer1k: round(((after.minorGcs - before.minorGcs) / events) * 1000, 2), majorGcsPer1k: round(((after.majorGcs - before.majorGcs) / events) * 1000, 3) };
}

/** Waits until the relay has published `count` events since `base`, or `timeoutMs` passed. */
async function drained(node: Child, base: number, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await node.request<Sample>({ type: "sample" })).calls - base >= count) return true;
    await sleep(100);
  }
  return false;
}

/** Writers commit one-event transactions while the relay in `node` publishes them. */
export async function measureRelayLive(bench: string, node: Child, databaseUrl: string, settings: BenchSettings, variant = "relay-live"): Promise<Result> {
  const base = (await node.request<Sample>({ type: "sample" })).calls;
  await node.request({ type: "relay-start" });
  const spec: WriterSpec = { mode: "live", databaseUrl, writers: settings.writers, warmupS: settings.warmupS, seconds: settings.seconds };
  const writer = await startChild("harness/outbox-writers.ts", [JSON.stringify(spec)]);
  try {
    const opened = writer.next("measuring");
    const done = writer.request<WriterReport>({ type: "run" });
    await opened;
    const before = await node.request<Sample>({ type: "sample" });
    const report = await done;
    const after = await node.request<Sample>({ type: "sample" });
    const caughtUp = await drained(node, base, report.committed, 30_000);
    const acks = await node.request<{ ids: string[]; at: number[] }>({ type: "acks" });
    const ackAt = new Map<string, number>();
    acks.ids.forEach((id, i) => ackAt.set(id, acks.at[i] as number));
    const latencies: number[] = [];
    let unpublished = 0;
    report.ids.forEach((id, i) => {
      const at = ackAt.get(id);
      if (at === undefined) unpublished++;
      else latencies.push(at - (report.committedAtMs[i] as number));
    });
    const ackedInWindow = acks.at.filter((at) => at >= report.windowStartMs && at < report.windowEndMs).length;
    return {
      bench,
      variant,
      callsPerS: Math.round(ackedInWindow / report.seconds),
      errors: unpublished,
      ...summarize(latencies),
      serverCpuUsPerCall: ackedInWindow === 0 ? null : round((after.cpuUs - before.cpuUs) / ackedInWindow),
      clientCpuUsPerCall: report.ids.length === 0 ? 0 : round(report.cpuUs / report.ids.length),
      serverRssMiB: round(after.rss / 2 ** 20),
      load1: round(loadavg()[0] ?? 0, 2),
      writers: settings.writers,
      committedPerS: Math.round(report.ids.length / report.seconds),
      // The relay's claim and mark are PostgreSQL statements on the commit-to-ack path: when the
      // shared server stalls, the writers' own transactions show it too.
      writerTransactionP99Ms: summarize(report.transactionMs).p99Ms,
      gcMsPerS: round((after.gcMs - before.gcMs) / report.seconds),
      ...gcCountsPer1k(before, after, ackedInWindow),
      caughtUp,
    };
  } finally {
    await writer.stop();
    await node.request({ type: "relay-stop" });
  }
}

async function measureRelayDrain(bench: string, node: Child, databaseUrl: string, settings: BenchSettings, backlog: number, batchSize?: number): Promise<Result> {
  const variant = batchSize === undefined ? "relay-drain" : `relay-drain-batch-${batchSize}`;
  const spec: WriterSpec = { mode: "prefill", databaseUrl, count: backlog };
  const writer = await startChild("harness/outbox-writers.ts", [JSON.stringify(spec)]);
  const filled = await writer.request<WriterReport>({ type: "run" }).finally(() => writer.stop());
  console.error(`${bench} ${variant}: ${backlog} events committed in ${round(filled.seconds)} s`);
  const atStart = await node.request<Sample>({ type: "sample" });
  const base = atStart.calls;
  const relayStarted = performance.now();
  await node.request({ type: "relay-start", ...(batchSize === undefined ? {} : { batchSize }) });
  try {
    // Sampled every 100 ms; the window ends early if the backlog runs out, so an idle relay is
    // never counted. A relay that drains it within the warm-up is timed from its start instead.
    let before = atStart;
    let started = relayStarted;
    let after = atStart;
    let includesWarmup = true;
    while (performance.now() - relayStarted < (settings.warmupS + settings.seconds) * 1000) {
      await sleep(100);
      after = await node.request<Sample>({ type: "sample" });
      if (after.calls - base >= backlog) break;
      if (includesWarmup && performance.now() - relayStarted >= settings.warmupS * 1000) {
        includesWarmup = false;
        before = after;
        started = performance.now();
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const published = after.calls - before.calls;
    await node.request({ type: "acks" });
    return {
      bench,
      variant,
      callsPerS: Math.round(published / seconds),
      errors: 0,
      // Every event waited in the backlog: its latency says nothing about the relay.
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      p999Ms: Number.NaN,
      serverCpuUsPerCall: published === 0 ? null : round((after.cpuUs - before.cpuUs) / published),
      clientCpuUsPerCall: 0,
      serverRssMiB: round(after.rss / 2 ** 20),
      load1: round(loadavg()[0] ?? 0, 2),
      backlog,
      batchSize: batchSize ?? defaultBatchSize,
      includesWarmup,
      backlogLeft: backlog - (after.calls - base),
      gcMsPerS: round((after.gcMs - before.gcMs) / seconds),
    };
  } finally {
    await node.request({ type: "relay-stop" });
    await node.request({ type: "discard-pending" });
  }
}

async function runRelay(settings: BenchSettings): Promise<Result[]> {
  const bench = "relay";
  const bed = await startRelayBed("bench_relay");
  let node: Child | undefined;
  try {
    node = await startChild("servers/relay-node.ts", [bed.nats.url, bed.database.url]);
    const raw = await measureRawPublish(bench, node, settings);
    console.error(`${bench} raw-publish: ${raw.callsPerS} msg/s, p99 ${raw.p99Ms} ms`);
    const live = await measureRelayLive(bench, node, bed.database.url, settings);
    console.error(`${bench} relay-live: ${live.callsPerS} events/s (${String(live["committedPerS"])} commits/s), p99 ${live.p99Ms} ms`);
    // Enough backlog for the warm-up and the window at the raw rate, which the relay cannot
    // beat, capped so that committing it stays within seconds on a loaded host.
    const backlog = Math.min(maxBacklog, Math.ceil(raw.callsPerS * (settings.warmupS + settings.seconds) * 1.2));
    const drain = await measureRelayDrain(bench, node, bed.database.url, settings, backlog);
    console.error(`${bench} relay-drain: ${drain.callsPerS} events/s`);
    // Each claim costs about the same whatever its size on a backlog (ADR 91): a big batch shows
    // how much of the drain rate is that per-round cost.
    const bigBatch = await measureRelayDrain(bench, node, bed.database.url, settings, backlog, bigBatchSize);
    console.error(`${bench} ${bigBatch.variant}: ${bigBatch.callsPerS} events/s`);
    return [raw, live, drain, bigBatch];
  } finally {
    await node?.stop();
    await bed.dispose();
  }
}

export async function relay(settings: BenchSettings): Promise<void> {
  const rows = await runRelay(settings);
  printWithRatios(rows, "raw-publish", ["callsPerS", "p99Ms", "serverCpuUsPerCall"]);
  const [raw, live, drain] = rows as [Result, Result, Result, Result];
  console.log(JSON.stringify({ bench: "relay", ratio: "relay-drain/raw-publish callsPerS", value: round(drain.callsPerS / raw.callsPerS, 3), target: ">= 0.5" }));
  console.log(JSON.stringify({ bench: "relay", ratio: "relay-live commit-to-ack p99 / raw-publish p99", value: round(live.p99Ms / raw.p99Ms, 3), target: "<= 5" }));
}
