// The saga benchmark's load generator, a process of its own: CreateOrder through the typed
// orders client at a fixed offered load (open loop: a call starts on schedule whether or not
// earlier ones finished), for the warm-up and then the window. Records, for orders placed in
// the window, the order id and the wall-clock time the call started. Sends "measuring" when the
// window opens and "closed" when it ends (calls still in flight then are awaited).
import { randomUUID } from "node:crypto";
import { closeClient } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { serveParent } from "./children.js";
import { wallClockMs } from "./outbox-event.js";
import { monotonicNow } from "./stats.js";

export interface OrderLoadSpec {
  target: string;
  ratePerS: number;
  warmupS: number;
  seconds: number;
  /** Orders spread over this many SKUs, so inventory's row locks do not serialize the run. */
  skus: string[];
}

export interface OrderLoadReport {
  windowStartMs: number;
  windowEndMs: number;
  seconds: number;
  cpuUs: number;
  /** Orders placed in the window, and when each call started. */
  orderIds: string[];
  startedAtMs: number[];
  /** CreateOrder latency of each of them, ms. */
  callMs: number[];
  errors: number;
  errorKinds: Record<string, number>;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as OrderLoadSpec;
const client = createOrdersClient({ target: spec.target });

async function run(): Promise<OrderLoadReport> {
  const report: OrderLoadReport = { windowStartMs: 0, windowEndMs: 0, seconds: 0, cpuUs: 0, orderIds: [], startedAtMs: [], callMs: [], errors: 0, errorKinds: {} };
  const inFlight = new Set<Promise<void>>();
  const intervalMs = 1000 / spec.ratePerS;
  const begin = monotonicNow();
  const windowOpensAt = begin + spec.warmupS * 1000;
  const windowClosesAt = windowOpensAt + spec.seconds * 1000;
  let cpu: NodeJS.CpuUsage | undefined;
  for (let n = 0; ; n++) {
    const due = begin + n * intervalMs;
    if (due >= windowClosesAt) break;
    const wait = due - monotonicNow();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const inWindow = due >= windowOpensAt;
    if (inWindow && cpu === undefined) {
      cpu = process.cpuUsage();
      report.windowStartMs = wallClockMs();
      process.send?.({ type: "measuring" });
    }
    const startedAtMs = wallClockMs();
    const started = monotonicNow();
    const sku = spec.skus[n % spec.skus.length] as string;
    const call = client
      .createOrder({ userId: `user-${n % 97}`, items: [{ sku, quantity: 1 }], idempotencyKey: randomUUID(), currencyCode: "EUR" })
      .then(
        ({ order }) => {
          if (!inWindow) return;
          report.orderIds.push(order?.orderId ?? "");
          report.startedAtMs.push(startedAtMs);
          report.callMs.push(monotonicNow() - started);
        },
        (error: unknown) => {
          if (!inWindow) return;
          report.errors++;
          const e = error as { code?: unknown; name?: string };
          const key = `${e.name ?? "Error"}:${String(e.code)}`;
          report.errorKinds[key] = (report.errorKinds[key] ?? 0) + 1;
        },
      )
      .finally(() => inFlight.delete(call));
    inFlight.add(call);
  }
  const wait = windowClosesAt - monotonicNow();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  report.windowEndMs = wallClockMs();
  process.send?.({ type: "closed" });
  report.seconds = spec.seconds;
  const used = process.cpuUsage(cpu);
  report.cpuUs = used.user + used.system;
  await Promise.all(inFlight);
  closeClient(client);
  return report;
}

serveParent(async () => ({ ...(await run()) }));
process.send?.({ type: "ready" });
