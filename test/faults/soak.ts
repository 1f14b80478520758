// The soak: the whole shop as child processes (two replicas of each service, compiled code)
// on a private nats-server and a private PostgreSQL, orders at a steady rate, and a random
// fault every few seconds (kill -9 and restart a replica, freeze one, restart the broker,
// restart the database) with quiet periods between. Afterwards the checker judges the history,
// and the memory of every process, sampled throughout, must not keep growing.
import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { clientTransport, closeClient } from "@protomesh/clients";
import { createInventoryClient, createOrdersClient } from "../../services/clients.js";
import { median } from "../../bench/harness/stats.js";
import type { ServiceName } from "../../services/saga/topology.js";
import type { InvariantReport } from "../checker/invariants.js";
import { startNatsServer, startPostgresServer } from "../helpers/index.js";
import { startShop, tallyOrderCalls, type ChildReplica, type PlaceOrdersResult } from "../saga/shop.js";

export interface SoakOptions {
  /** How long faults are injected, ms; the run then settles and checks. */
  durationMs: number;
  /** Replicas of each service. Default 2. */
  replicas?: number;
  /** Orders per second the clients aim at. Default 10. */
  ordersPerSecond?: number;
  /** Quiet time between faults, ms: a random value in this range. Default 5 000 to 15 000. */
  quietMs?: [number, number];
  /** Last third's median RSS over the first third's, at most, for every process. Default 2. */
  memoryGrowthLimit?: number;
  log?: (line: string) => void;
}

export type FaultKind = "kill-replica" | "freeze-replica" | "restart-nats" | "restart-postgres";

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  atMs: number;
  /** How long the target was gone or frozen, ms. */
  outageMs: number;
}

export interface MemorySeries {
  process: string;
  samples: number;
  firstThirdMb: number;
  lastThirdMb: number;
  growth: number;
}

export interface SoakResult {
  passed: boolean;
  problems: string[];
  orders: PlaceOrdersResult;
  faults: FaultRecord[];
  settledMs: number;
  report: InvariantReport;
  memory: MemorySeries[];
}

const SERVICES: readonly ServiceName[] = ["inventory", "payments", "orders"];

async function rssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** The pid of the one process whose command line contains every one of `needles` (the servers the soak started). */
async function findPid(needles: string[]): Promise<number | undefined> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const args = cmdline.split("\0");
    if (needles.every((needle) => args.includes(needle))) return Number(entry);
  }
  return undefined;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const between = ([low, high]: [number, number]) => low + Math.random() * (high - low);

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  const replicaCount = options.replicas ?? 2;
  const quietMs = options.quietMs ?? [5_000, 15_000];
  const growthLimit = options.memoryGrowthLimit ?? 2;
  const nats = await startNatsServer();
  const postgres = await startPostgresServer();
  const shop = await startShop({
    name: "soak",
    logLevel: "fatal",
    natsUrls: [nats.url],
    postgresUrl: postgres.url,
    replicas: 0,
    childCode: "dist",
    sagaDeadlineMs: 60_000,
    env: { payments: { PAYMENT_DECLINE_RATE: "0.2", PAYMENT_LATENCY_MS: "20" } },
  });
  // Each replica slot keeps its port across restarts, so the clients' static lists stay right.
  const slots: { name: string; service: ServiceName; port: number; child: ChildReplica }[] = [];
  const samples = new Map<string, number[]>();
  let sampling: Promise<void> | undefined;
  let running = true;
  try {
    for (const service of SERVICES) {
      for (let i = 1; i <= replicaCount; i++) {
        const child = await shop.startChild(service);
        slots.push({ name: `${service}#${i}`, service, port: Number(child.address.split(":")[1]), child });
      }
    }
    const addresses = (service: ServiceName) => slots.filter((slot) => slot.service === service).map((slot) => `127.0.0.1:${slot.port}`);
    const clientOptions = { deadlines: { defaultTimeoutMs: 10_000 }, retry: { perAttemptTimeoutMs: 2_000 }, healthCheck: { intervalMs: 1_000, timeoutMs: 500 } };
    const orders = createOrdersClient({ target: addresses("orders"), ...clientOptions });
    const inventory = createInventoryClient({ target: addresses("inventory"), ...clientOptions });
    await Promise.all([clientTransport(orders).ready(), clientTransport(inventory).ready()]);
    // Freshly started replicas answer their first calls slowly on a busy machine.
    await inventory.setStock({ sku: "MUG-1", name: "Mug", available: 1_000_000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } }, { timeoutMs: 60_000 });
    closeClient(inventory);

    const startedAt = Date.now();
    // Every process is sampled under its pid: a restarted one starts a new series.
    sampling = (async () => {
      while (running) {
        const natsPid = await findPid([join(dirname(nats.storeDir), "nats.conf")]);
        const postgresPid = await findPid(["-p", String(postgres.port), "-D"]);
        const targets: [string, number | undefined][] = [
          [`soak driver pid ${process.pid}`, process.pid],
          [`nats-server pid ${natsPid}`, natsPid],
          [`postgres postmaster pid ${postgresPid}`, postgresPid],
          ...slots.map((slot): [string, number] => [`${slot.name} pid ${slot.child.pid}`, slot.child.pid]),
        ];
        for (const [name, pid] of targets) {
          const mb = pid === undefined ? undefined : await rssMb(pid);
          if (mb !== undefined) samples.set(name, [...(samples.get(name) ?? []), mb]);
        }
        await sleep(1_000);
      }
    })();

    const placed = tallyOrderCalls();
    const intervalMs = 1_000 / (options.ordersPerSecond ?? 10);
    const calls = new Set<Promise<void>>();
    const load = (async () => {
      for (let n = 0; running; n++) {
        const call = orders.createOrder({ userId: `soak-${n % 31}`, items: [{ sku: "MUG-1", quantity: 1 + (n % 3) }], idempotencyKey: `soak-${randomUUID()}`, currencyCode: "EUR" }).then(
          () => void placed.accepted++,
          (err: unknown) => placed.refused(err),
        );
        calls.add(call);
        void call.finally(() => calls.delete(call));
        await sleep(intervalMs);
      }
    })();

    const faults: FaultRecord[] = [];
    const kinds: FaultKind[] = ["kill-replica", "kill-replica", "freeze-replica", "freeze-replica", "restart-nats", "restart-postgres"];
    while (Date.now() - startedAt < options.durationMs) {
      await sleep(Math.min(between(quietMs), Math.max(0, options.durationMs - (Date.now() - startedAt))));
      if (Date.now() - startedAt >= options.durationMs) break;
      const kind = pick(kinds);
      const began = Date.now();
      let target = "";
      if (kind === "kill-replica") {
        const slot = pick(slots);
        target = slot.name;
        slot.child.signal("SIGKILL");
        await slot.child.process.exited;
        await sleep(between([500, 2_000]));
        slot.child = await shop.startChild(slot.service, { port: slot.port });
      } else if (kind === "freeze-replica") {
        const slot = pick(slots);
        target = slot.name;
        slot.child.signal("SIGSTOP");
        await sleep(between([2_000, 6_000]));
        slot.child.signal("SIGCONT");
      } else if (kind === "restart-nats") {
        target = "nats-server";
        await nats.restart();
      } else {
        target = "postgres";
        await postgres.restart();
      }
      const record = { kind, target, atMs: began - startedAt, outageMs: Date.now() - began };
      faults.push(record);
      log(`fault ${faults.length}: ${JSON.stringify(record)}`);
    }
    running = false;
    await load;
    await Promise.all(calls);
    closeClient(orders);
    const settleStart = Date.now();
    log(`load stopped: ${JSON.stringify(placed)}; settling`);
    const report = await shop.settle(180_000);
    const settledMs = Date.now() - settleStart;
    await sampling;

    const memory: MemorySeries[] = [];
    for (const [name, series] of samples) {
      if (series.length < 9) continue;
      const third = Math.floor(series.length / 3);
      const firstThirdMb = median(series.slice(0, third));
      const lastThirdMb = median(series.slice(-third));
      memory.push({ process: name, samples: series.length, firstThirdMb: Math.round(firstThirdMb), lastThirdMb: Math.round(lastThirdMb), growth: Math.round((lastThirdMb / firstThirdMb) * 100) / 100 });
    }
    const problems: string[] = [
      ...report.violations.map((v) => `${v.invariant}: ${v.message}`),
      ...(report.orders.pending > 0 ? [`${report.orders.pending} orders still pending after ${settledMs} ms`] : []),
      // More may be stored than accepted: a call refused after its commit (its reply lost).
      ...(report.orders.total < placed.accepted ? [`${placed.accepted} orders accepted but only ${report.orders.total} stored`] : []),
      ...(placed.accepted === 0 ? ["no order was accepted"] : []),
      ...memory.filter((m) => m.growth > growthLimit).map((m) => `${m.process}: RSS grew ${m.growth}x (${m.firstThirdMb} -> ${m.lastThirdMb} MB), over the limit ${growthLimit}x`),
    ];
    const { accepted, failed, failedBy, failedWith } = placed;
    return { passed: problems.length === 0, problems, orders: { accepted, failed, failedBy, failedWith }, faults, settledMs, report, memory };
  } finally {
    running = false;
    await sampling;
    await shop.stop();
    await postgres.dispose();
    await nats.dispose();
  }
}
