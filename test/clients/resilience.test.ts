import { describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { clientTransport, closeClient, isCircuitOpenError, type ClientEvent, type ClientOptions } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { HealthCheckResponse_ServingStatus } from "../../clients/gen/grpc/health/v1/health_pb.js";
import type { OrdersService } from "../../gen/shop/orders/v1/orders_pb.js";
import { useCleanup } from "./helpers/cleanup.js";
import { eventually, runLoad } from "./helpers/load.js";
import { type Replica, type ReplicaSet, startReplicas } from "./helpers/replicas.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";
const defer = useCleanup();

async function replicas(count: number): Promise<ReplicaSet> {
  const set = await startReplicas(count);
  defer(() => set.close());
  return set;
}

async function client(options: ClientOptions, events: ClientEvent[] = []): Promise<Client<typeof OrdersService>> {
  const c = createOrdersClient({
    healthCheck: { intervalMs: 100 },
    reconnect: { initialBackoffMs: 50, maxBackoffMs: 200 },
    onEvent: (e) => events.push(e),
    ...options,
  });
  defer(() => closeClient(c));
  await clientTransport(c).ready();
  return c;
}

const total = (rs: Replica[]) => rs.reduce((n, r) => n + r.calls, 0);

describe("health and outlier ejection", () => {
  it("P2C sends a stalled replica almost nothing, and no call fails or outlives its deadline", async () => {
    const { replicas: rs } = await replicas(5);
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "p2c", retry: { maxAttempts: 4, perAttemptTimeoutMs: 200 } });
    await eventually(() => clientTransport(c).snapshot().every((e) => e.admitted), 3_000, "all admitted");
    const stalled = rs[2]!;
    stalled.stalled = true;

    const result = await runLoad(() => c.getOrder({ orderId: ORDER_ID }, { timeoutMs: 2_000 }), 4, 1_000);

    expect(result.failures).toEqual([]);
    expect(result.maxMs).toBeLessThan(2_000);
    // The first calls it swallows make it look slow (the oldest call's age counts) and the
    // attempt timeouts' samples keep it slow in the peak EWMA: it gets a handful of calls while
    // its age overtakes the others' latency (1-2 on an idle host, up to 5 on a busy one).
    expect(stalled.calls).toBeLessThanOrEqual(6);
    expect(total(rs) - stalled.calls).toBeGreaterThanOrEqual(result.calls);
  });

  it("ejects a killed replica and readmits it when it comes back", async () => {
    const { replicas: rs } = await replicas(3);
    const events: ClientEvent[] = [];
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "round-robin" }, events);
    await eventually(() => clientTransport(c).snapshot().every((e) => e.admitted), 3_000, "all admitted");
    const victim = rs[0]!;

    await victim.kill();
    await eventually(() => events.some((e) => e.type === "endpoint-ejected" && e.address === victim.address), 2_000, "ejection");
    const during = await runLoad(() => c.getOrder({ orderId: ORDER_ID }), 4, 200);
    expect(during.failures).toEqual([]);
    const victimCallsWhileDown = victim.calls;

    await victim.restart();
    await eventually(() => events.some((e) => e.type === "endpoint-readmitted" && e.address === victim.address), 3_000, "readmission");
    const after = await runLoad(() => c.getOrder({ orderId: ORDER_ID }), 4, 200);
    expect(after.failures).toEqual([]);
    expect(victim.calls).toBeGreaterThan(victimCallsWhileDown);
  });

  it("sends no calls to a replica reporting NOT_SERVING", async () => {
    const { replicas: rs } = await replicas(3);
    const sick = rs[1]!;
    sick.health = HealthCheckResponse_ServingStatus.NOT_SERVING;
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "round-robin" });
    await eventually(() => clientTransport(c).snapshot().filter((e) => e.health !== "unknown").length === 3, 3_000, "health known");

    const result = await runLoad(() => c.getOrder({ orderId: ORDER_ID }), 4, 300);
    expect(result.failures).toEqual([]);
    expect(sick.calls).toBe(0);
    expect(rs[0]!.calls + rs[2]!.calls).toBe(result.calls);
  });
});

describe("retries", () => {
  it("never retries a non-idempotent call without an idempotency key", async () => {
    const { replicas: rs } = await replicas(2);
    rs.forEach((r) => (r.failWith = Code.Unavailable));
    const c = await client({ target: rs.map((r) => r.address), circuitBreaker: false });

    await expect(c.createOrder({ userId: "u1", items: [{ sku: "SKU-1", quantity: 1 }] })).rejects.toMatchObject({ code: Code.Unavailable });
    expect(total(rs)).toBe(1);
  });

  it("retries a call carrying an idempotency key, and an idempotent method, on another replica", async () => {
    const { replicas: rs } = await replicas(2);
    const [a, b] = rs as [Replica, Replica];
    a.failWith = Code.Unavailable;
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "pick-first", circuitBreaker: false, outlierDetection: { consecutiveFailures: 100 } });

    const created = await c.createOrder({ userId: "u1", items: [{ sku: "SKU-1", quantity: 1 }], idempotencyKey: "key-00000001" });
    expect(created.created).toBe(true);
    expect([a.calls, b.calls]).toEqual([1, 1]);

    // Pick-first now sticks to b; make it fail and the idempotent read is retried on a.
    a.failWith = undefined;
    b.failWith = Code.Unavailable;
    const read = await c.getOrder({ orderId: ORDER_ID });
    expect(read.order?.userId).toBe(a.name);
    expect([a.calls, b.calls]).toEqual([2, 2]);
  });

  it("keeps attempts per call within the budget during a total outage", async () => {
    const { replicas: rs } = await replicas(3);
    rs.forEach((r) => (r.failWith = Code.Unavailable));
    const c = await client({
      target: rs.map((r) => r.address),
      circuitBreaker: false,
      outlierDetection: { consecutiveFailures: 1_000_000 },
      retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 2 },
    });

    const calls = 400;
    const failed = await Promise.all(
      Array.from({ length: calls }, () => c.getOrder({ orderId: ORDER_ID }).then(() => false, (e: unknown) => e instanceof ConnectError)),
    );
    expect(failed.every(Boolean)).toBe(true);
    // 10 % of calls plus a floor of 10 retries per 10 s window.
    expect(total(rs) / calls).toBeLessThanOrEqual(1.1 + 10 / calls);
  });

  it("never lets retries run past the deadline, and gives each attempt only the time left", async () => {
    const { replicas: rs } = await replicas(2);
    rs.forEach((r) => {
      r.failWith = Code.Unavailable;
      r.pushbackMs = "60";
    });
    const retries: { at: number; delayMs: number }[] = [];
    const c = await client({ target: rs.map((r) => r.address), circuitBreaker: false, retry: { maxAttempts: 5 }, retryBudget: { minRetriesPerSecond: 100 } }, []);
    clientTransport(c).events.on((e) => {
      if (e.type === "retry") {
        retries.push({ at: Date.now(), delayMs: e.delayMs });
      }
    });

    const deadline = Date.now() + 400;
    const error = await c.getOrder({ orderId: ORDER_ID }, { timeoutMs: 400 }).then(
      () => new ConnectError("unexpected success"),
      (e: unknown) => ConnectError.from(e),
    );
    // Either retry gave up because the next wait would end past the deadline (the server's
    // Unavailable), or the deadline cut an attempt short.
    expect([Code.Unavailable, Code.DeadlineExceeded]).toContain(error.code);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    for (const retry of retries) {
      expect(retry.at + retry.delayMs).toBeLessThan(deadline);
    }
    const timeouts = rs
      .flatMap((r) => r.timeouts)
      .sort((a, b) => a.at - b.at)
      .map((t) => t.ms);
    // An attempt the deadline cut short may never have reached a server.
    expect(timeouts.length).toBeLessThanOrEqual(retries.length + 1);
    expect(Math.max(...timeouts)).toBeLessThanOrEqual(400);
    for (let i = 1; i < timeouts.length; i++) {
      expect(timeouts[i]).toBeLessThanOrEqual((timeouts[i - 1] ?? 0) - 60);
    }
  });
});

describe("circuit breaker", () => {
  it("fails fast without network traffic once open, then lets a probe through and closes", async () => {
    const { replicas: rs } = await replicas(1);
    const replica = rs[0]!;
    replica.failWith = Code.Internal;
    const events: ClientEvent[] = [];
    const c = await client(
      { target: replica.address, retry: false, circuitBreaker: { failureThreshold: 3, openMs: 300 }, outlierDetection: { consecutiveFailures: 1_000 } },
      events,
    );

    for (let i = 0; i < 3; i++) {
      await expect(c.getOrder({ orderId: ORDER_ID })).rejects.toMatchObject({ code: Code.Internal });
    }
    expect(events.some((e) => e.type === "circuit-opened")).toBe(true);

    const error = await c.getOrder({ orderId: ORDER_ID }).catch((e: unknown) => e);
    expect(isCircuitOpenError(error)).toBe(true);
    expect(error).toMatchObject({ code: Code.Unavailable });
    expect(String((error as Error).message)).toMatch(/circuit open/);
    expect(replica.calls).toBe(3);

    replica.failWith = undefined;
    await new Promise((resolve) => setTimeout(resolve, 320));
    await c.getOrder({ orderId: ORDER_ID });
    expect(replica.calls).toBe(4);
    expect(events.map((e) => e.type).filter((t) => t.startsWith("circuit-"))).toEqual(["circuit-opened", "circuit-half-open", "circuit-closed"]);
  });
});
