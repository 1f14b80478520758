// The orders service as deployed (built, a container-sized heap of 256 MB, 1,024 file
// descriptors) against clients that attack the HTTP/2 edge instead of calling it: a flood of
// streams that never send their request, many connections each holding open streams, idle
// connections past the descriptor limit, and watches past the streaming bounds. Meanwhile a
// well-behaved client keeps calling; the service must stay up, within its memory bound, and keep
// answering that client.
import { setMaxListeners } from "node:events";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@protomesh/clients/health";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, freePort, requireBuild, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { spawnServer, stopProcess, waitUntil, type ServerProcess } from "../helpers/process.js";
import { openFloodConnection, openIdleConnection, type FloodConnection } from "./http2-attacker.js";

/**
 * What the service may grow by under attack, over its RSS when idle (about 150 MB on PostgreSQL).
 * Measured: 5-90 MB; unbounded before the server limits (700 MB, then an abort in node:http2).
 */
const rssGrowthBoundMb = 160;
/**
 * The well-behaved client's p99 while the attack runs, on two cores shared with the attacker and
 * the other test files. Measured: 15-75 ms through the flood and the idle connections, 50-300 ms
 * (up to 2.7 s on a host at load 10) while 30,000 streams are held; before, every call failed.
 */
const p99BoundMs = 3000;

interface CallRecord {
  latenciesMs: number[];
  failures: Map<string, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

describe("the orders service under hostile HTTP/2 clients", () => {
  let nats: NatsServer;
  let database: TestDatabase;
  let service: ServerProcess;
  let port: number;
  let idleRssMb: number;
  let maxRssMb = 0;
  let sampler: NodeJS.Timeout | undefined;

  const rssMb = async (): Promise<number> => {
    const status = await readFile(`/proc/${service.child.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
  };

  const client = () => createClient(OrdersService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));

  /** Calls ListOrders from two loops until `until` resolves, then for `afterMs` more. */
  async function callThroughout(until: Promise<unknown>, afterMs: number): Promise<CallRecord> {
    const orders = client();
    const record: CallRecord = { latenciesMs: [], failures: new Map() };
    let stop = false;
    const loop = async () => {
      while (!stop) {
        const started = performance.now();
        try {
          await orders.listOrders({ pageSize: 5 }, { timeoutMs: 5000 });
          record.latenciesMs.push(performance.now() - started);
        } catch (error) {
          const key = ConnectError.from(error).message;
          record.failures.set(key, (record.failures.get(key) ?? 0) + 1);
        }
        await sleep(10);
      }
    };
    const loops = [loop(), loop()];
    await until;
    await sleep(afterMs);
    stop = true;
    await Promise.all(loops);
    record.latenciesMs.sort((a, b) => a - b);
    return record;
  }

  function expectServedThroughout(record: CallRecord): void {
    expect(service.child.exitCode, service.output()).toBeNull();
    expect(Object.fromEntries(record.failures)).toEqual({});
    expect(record.latenciesMs.length).toBeGreaterThan(20);
    expect(percentile(record.latenciesMs, 0.99)).toBeLessThan(p99BoundMs);
    expect(maxRssMb - idleRssMb).toBeLessThan(rssGrowthBoundMb);
  }

  beforeAll(async () => {
    requireBuild();
    nats = await startNatsServer();
    database = await createTestDatabase("hostile_orders");
    port = await freePort();
    const node = `exec ${JSON.stringify(process.execPath)} --max-old-space-size=256 dist/services/serve.js orders`;
    service = spawnServer("bash", ["-c", `ulimit -n 1024 && ${node}`], {
      cwd: new URL("../..", import.meta.url).pathname,
      env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), DATABASE_URL: database.url, NATS_URL: nats.url, LOG_LEVEL: "warn" },
    });
    await waitUntil("orders", () => client().listOrders({}).then(() => true), service, 120_000);
    await sleep(1000);
    idleRssMb = await rssMb();
    sampler = setInterval(() => {
      rssMb().then(
        (mb) => (maxRssMb = Math.max(maxRssMb, mb)),
        () => undefined,
      );
    }, 100);
  }, 180_000);

  afterAll(async () => {
    clearInterval(sampler);
    if (service !== undefined) await stopProcess(service);
    await database?.drop();
    await nats?.dispose();
  });

  it("keeps answering others through a flood of streams that never send a request", async () => {
    const flood = (async () => {
      const connections = await Promise.all(Array.from({ length: 10 }, () => openFloodConnection(port)));
      await Promise.all(connections.map((c) => c.openStreams(16_000, "/shop.orders.v1.OrdersService/GetOrder")));
      await sleep(2000);
      // Streams past SETTINGS_MAX_CONCURRENT_STREAMS are refused until the server closes the connection.
      expect(connections.every((c) => c.closed)).toBe(true);
      connections.forEach((c) => c.destroy());
    })();
    expectServedThroughout(await callThroughout(flood, 3000));
  });

  it("keeps answering others while many connections hold open streams", async () => {
    const holders: FloodConnection[] = [];
    const hold = (async () => {
      // 300 x 100 streams is three times the server's bound on calls in flight.
      for (let i = 0; i < 300; i++) holders.push(await openFloodConnection(port));
      await Promise.all(holders.map((c) => c.openStreams(100, "/shop.orders.v1.OrdersService/GetOrder")));
      await sleep(3000);
    })();
    const record = await callThroughout(hold, 2000);
    expectServedThroughout(record);
    // The holders' connections were closed to make room for calls whose requests arrive.
    expect(holders.filter((c) => c.closed).length).toBeGreaterThan(100);
    holders.forEach((c) => c.destroy());
  });

  it("answers calls while idle connections exceed its file descriptors, and closes them", async () => {
    // In bursts of 100: a thousand SYNs at once overflow the listen backlog (511), and the kernel's
    // retransmissions would then connect some sockets many seconds later.
    const idle: Socket[] = [];
    for (let i = 0; i < 1100; i += 100) idle.push(...(await Promise.all(Array.from({ length: 100 }, () => openIdleConnection(port)))));
    const record = await callThroughout(sleep(2000), 0);
    expectServedThroughout(record);
    // Connections that never send the HTTP/2 preface are closed after the handshake timeout (10 s).
    await waitUntil("idle connections closed", async () => idle.every((socket) => socket.destroyed || socket.readableEnded), service, 20_000);
    idle.forEach((socket) => socket.destroy());
  });

  it("bounds streaming calls per connection with ResourceExhausted and keeps unary calls going", async () => {
    // One connection (one transport): its watches count against limits.maxStreamingCallsPerConnection (50).
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const health = createClient(Health, transport);
    const controller = new AbortController();
    setMaxListeners(100, controller.signal);
    // A watch that got its first status stays open (its iterator is not returned) until the abort.
    const watch = async (): Promise<string> => {
      try {
        await health.watch({ service: "" }, { signal: controller.signal })[Symbol.asyncIterator]().next();
        return "open";
      } catch (error) {
        return ConnectError.from(error).code === Code.ResourceExhausted ? "refused" : ConnectError.from(error).message;
      }
    };
    const watches = Array.from({ length: 80 }, watch);
    const outcomes = await Promise.all(watches);
    expect(outcomes.filter((o) => o === "open")).toHaveLength(50);
    expect(outcomes.filter((o) => o === "refused")).toHaveLength(30);
    const orders = createClient(OrdersService, transport);
    await expect(orders.listOrders({ pageSize: 1 })).resolves.toBeDefined();
    controller.abort();
  });
});
