// npm run rehearsal: the cluster deployment rehearsed on this machine. A three-node JetStream
// cluster with every saga stream at R3, throwaway databases on a PostgreSQL server (one per
// service, inventory split into two shards with a database each), several replicas of every
// service and shard, the demo's orders driven through them and the
// invariant checker's report. It stops everything it started and drops its databases, also on
// failure and Ctrl-C, and exits 1 when an invariant is broken, an order is not terminal or a
// stream is not replicated three times. Needs nats-server on the PATH and a PostgreSQL server.
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createJetStreamBus } from "@protomesh/messaging/jetstream";
import { boundedNumber } from "../demo/cli.js";
import { prepareDatabases } from "../demo/databases.js";
import { abortOnSignals, INTERRUPTED_EXIT_CODE } from "../demo/interrupt.js";
import { runDemo, type DemoOptions } from "../demo/run-demo.js";
import { printSummary } from "../demo/summary.js";
import { streams } from "../services/saga/topology.js";
import { startNatsCluster } from "../test/helpers/nats-server.js";

const CLUSTER_NODES = 3;
const STREAM_REPLICAS = 3;
const DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432/postgres";
/** Inventory split by SKU over two databases, as a sharded deployment runs it (ADR 0105). */
const INVENTORY_SHARDS = ["inventory-0", "inventory-1"];

const usage = "usage: npm run rehearsal -- [--orders N] [--replicas N] [--concurrency N] [--decline-rate R] [--deadline-ms MS]";

function parseOptions(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      orders: { type: "string", default: "200" },
      replicas: { type: "string", default: "2" },
      concurrency: { type: "string", default: "24" },
      "decline-rate": { type: "string", default: "0.2" },
      "deadline-ms": { type: "string", default: "20000" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return {
    // Bounded: a rehearsal shows the deployment works, the soak and the benchmarks load it.
    orders: boundedNumber("orders", values.orders, 1, 500),
    replicas: boundedNumber("replicas", values.replicas, 1, 4),
    chaos: false,
    declineRate: boundedNumber("decline-rate", values["decline-rate"], 0, 1),
    concurrency: boundedNumber("concurrency", values.concurrency, 1, 128),
    sagaDeadlineMs: boundedNumber("deadline-ms", values["deadline-ms"], 1000, 600_000),
  };
}

/** What was started, released in reverse order; each release runs once. */
const releases: (() => Promise<void>)[] = [];

async function releaseAll(): Promise<void> {
  for (let release = releases.pop(); release !== undefined; release = releases.pop()) {
    await release().catch((error: unknown) => console.error(`clean-up failed: ${error instanceof Error ? error.message : String(error)}`));
  }
}

/**
 * Polls `problem` until it reports none (an error counts as a problem), failing with the last
 * one at `deadline`.
 */
async function waitFor(what: string, problem: () => Promise<string | undefined>, deadline: number, interrupted: AbortSignal): Promise<void> {
  for (;;) {
    interrupted.throwIfAborted();
    const last = await problem().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (last === undefined) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready: ${last}`);
    await sleep(250, undefined, { signal: interrupted });
  }
}

/**
 * Creates every saga stream at R3 and waits until each has an elected leader and all its
 * replicas current, before any service starts. A fresh cluster answers JetStream calls only once
 * it has a meta leader, and an R3 stream's leader is elected after it is created; on a loaded
 * host either can take longer than a replica's JetStream calls wait (5 s), and a replica whose
 * call times out exits. Here the cluster gets all the time it needs before the first replica.
 */
async function streamsReady(servers: string[], interrupted: AbortSignal, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers });
  try {
    await waitFor("JetStream on the NATS cluster", async () => void (await (await jetstreamManager(nc)).getAccountInfo()), deadline, interrupted);
    const bus = await createJetStreamBus(nc, { timeoutMs: 10_000 });
    const jsm = await jetstreamManager(nc);
    for (const spec of Object.values(streams)) {
      const problem = async () => {
        await bus.ensureStream({ ...spec, replicas: STREAM_REPLICAS });
        const { cluster } = await jsm.streams.info(spec.name);
        if (cluster?.leader === undefined || cluster.leader === "") return "no leader elected yet";
        const current = (cluster.replicas ?? []).filter((peer) => peer.current).length;
        return current === STREAM_REPLICAS - 1 ? undefined : `${current} of ${STREAM_REPLICAS - 1} followers current`;
      };
      await waitFor(`stream ${spec.name} at R${STREAM_REPLICAS}`, problem, deadline, interrupted);
    }
  } finally {
    await nc.close();
  }
}

/** Each saga stream's replica count as the cluster reports it. */
async function streamReplicas(servers: string[]): Promise<{ stream: string; replicas: number }[]> {
  const nc = await connect({ servers });
  try {
    const jsm = await jetstreamManager(nc);
    return await Promise.all(
      Object.values(streams).map(async ({ name }) => ({ stream: name, replicas: (await jsm.streams.info(name)).config.num_replicas })),
    );
  } finally {
    await nc.close();
  }
}

async function rehearse(options: DemoOptions, serverUrl: string, interrupted: AbortSignal): Promise<number> {
  const cluster = await startNatsCluster(CLUSTER_NODES);
  releases.push(() => cluster.dispose());
  console.error(`rehearsal: NATS cluster of ${CLUSTER_NODES} nodes at ${cluster.servers.join(", ")}, stores under ${cluster.nodes.map((node) => dirname(node.storeDir)).join(", ")}`);
  await streamsReady(cluster.servers, interrupted);
  interrupted.throwIfAborted();
  const databases = await prepareDatabases(serverUrl, INVENTORY_SHARDS);
  releases.push(() => databases.dispose());
  const databaseNames = databases.names.map((name) => new URL(databases.envFor(name).DATABASE_URL ?? "").pathname.slice(1));
  const server = new URL(serverUrl);
  console.error(`rehearsal: databases ${databaseNames.join(", ")} on ${server.host}`);

  const result = await runDemo(
    options,
    { nats: { url: cluster.servers.join(","), origin: "started", streamReplicas: STREAM_REPLICAS, stop: () => cluster.dispose() }, databases },
    interrupted,
  );
  const replication = await streamReplicas(cluster.servers);
  printSummary(result);

  const problems: string[] = [];
  if (result.report.violations.length > 0) problems.push(`${result.report.violations.length} invariant violation(s)`);
  if (result.unfinished > 0 || result.report.orders.pending > 0) problems.push(`${Math.max(result.unfinished, result.report.orders.pending)} order(s) not terminal`);
  const underReplicated = replication.filter(({ replicas }) => replicas !== STREAM_REPLICAS);
  if (underReplicated.length > 0) problems.push(`streams not at R${STREAM_REPLICAS}: ${underReplicated.map(({ stream, replicas }) => `${stream} R${replicas}`).join(", ")}`);
  console.log(
    ` rehearsal: ${CLUSTER_NODES}-node NATS cluster, streams ${replication.map(({ stream, replicas }) => `${stream} R${replicas}`).join(", ")}; ${databaseNames.length} PostgreSQL databases on ${server.host}, inventory sharded over ${INVENTORY_SHARDS.join(" and ")}`,
  );
  console.log(problems.length === 0 ? " rehearsal passed" : ` rehearsal FAILED: ${problems.join("; ")}`);
  return problems.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  // A signal only aborts: every step unwinds to the release below, which runs after the replicas
  // have been stopped and awaited, whatever was under way when it came.
  const interrupted = abortOnSignals();
  try {
    return await rehearse(options, process.env.DATABASE_URL || DEFAULT_SERVER_URL, interrupted);
  } catch (error) {
    if (interrupted.aborted) return INTERRUPTED_EXIT_CODE;
    console.error(`rehearsal failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await releaseAll();
  }
}

process.exitCode = await main();
