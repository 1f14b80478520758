// A replica that goes away or freezes, against real HTTP/2 servers on loopback: the only replica
// of a service killed and started again (calls resume soon after it is back, whatever the
// method circuit went through), and a replica in a child process frozen with SIGSTOP (ejected
// as unresponsive while another answers, readmitted after SIGCONT).
import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { clientTransport, closeClient, type ClientEvent, type ClientOptions } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { startChildReplica } from "./helpers/child-replica.js";
import { useCleanup } from "./helpers/cleanup.js";
import { eventually } from "./helpers/load.js";
import { startReplicas } from "./helpers/replicas.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";
const defer = useCleanup();

type TimedEvent = ClientEvent & { at: number };

async function client(options: ClientOptions, events: TimedEvent[]) {
  const c = createOrdersClient({ onEvent: (e) => events.push({ ...e, at: Date.now() }), ...options });
  defer(() => closeClient(c));
  await clientTransport(c).ready();
  return c;
}

/** Calls from `callers` loops until stopped; records when each call succeeded. */
function keepCalling(call: () => Promise<unknown>, callers: number) {
  const successes: number[] = [];
  let failures = 0;
  let running = true;
  const loops = Array.from({ length: callers }, async () => {
    while (running) {
      try {
        await call();
        successes.push(Date.now());
      } catch {
        failures++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });
  return {
    successes,
    failures: () => failures,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

describe("the only replica goes away and comes back", () => {
  it("resumes calls within 1.5 s of its return, though its method circuit had opened, and never reopens it while no endpoint is up", async () => {
    const { replicas } = await startReplicas(1);
    const replica = replicas[0]!;
    defer(() => replica.kill());
    const events: TimedEvent[] = [];
    // The method circuit's defaults (5 failures, 10 s open, up to 60 s); quick health checks and reconnects.
    const c = await client({ target: replica.address, healthCheck: { intervalMs: 100 }, reconnect: { initialBackoffMs: 50, maxBackoffMs: 200 } }, events);

    // Real failures from the server open GetOrder's circuit.
    replica.failWith = Code.Unavailable;
    for (let i = 0; i < 5; i++) {
      await expect(c.getOrder({ orderId: ORDER_ID })).rejects.toMatchObject({ code: Code.Unavailable });
    }
    expect(events.filter((e) => e.type === "circuit-opened")).toHaveLength(1);
    replica.failWith = undefined;

    const load = keepCalling(() => c.getOrder({ orderId: ORDER_ID }, { timeoutMs: 1_000 }), 4);
    defer(() => load.stop());
    await replica.kill();
    await eventually(() => events.some((e) => e.type === "endpoint-ejected"), 2_000, "the endpoint to go");
    // Down for a while: the callers' attempts find no endpoint.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const callsWhileDown = replica.calls;
    await replica.restart();
    const backAt = Date.now();
    await eventually(() => load.successes.some((at) => at >= backAt), 10_000, "a call to succeed after the replica is back");
    const recoveryMs = (load.successes.find((at) => at >= backAt) ?? Infinity) - backAt;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await load.stop();

    console.info(`only replica back: first call served ${recoveryMs} ms after it listened again; ${load.failures()} failed calls while it was down`);
    expect(recoveryMs).toBeLessThan(1_500);
    expect(replica.calls).toBeGreaterThan(callsWhileDown);
    // No endpoint meant no call was sent: nothing to count against the method.
    expect(events.filter((e) => e.type === "circuit-opened")).toHaveLength(1);
    expect(events.map((e) => e.type)).toContain("endpoint-readmitted");
    expect(events.some((e) => e.type === "circuit-closed" && e.at >= backAt)).toBe(true);
  });
});

describe("a frozen replica (SIGSTOP)", () => {
  it("is ejected as unresponsive within 3 s while another replica answers, and readmitted within 3 s of SIGCONT", async () => {
    const { replicas } = await startReplicas(1);
    const healthy = replicas[0]!;
    defer(() => healthy.kill());
    const frozen = await startChildReplica();
    defer(() => frozen.stop());
    const events: TimedEvent[] = [];
    const c = await client(
      { target: [healthy.address, frozen.address], loadBalancing: "round-robin", healthCheck: { intervalMs: 250, timeoutMs: 500 }, retry: { perAttemptTimeoutMs: 500 } },
      events,
    );
    const transport = clientTransport(c);
    await eventually(() => transport.snapshot().every((e) => e.admitted), 5_000, "both admitted");
    const callsTo = (address: string) => transport.snapshot().find((e) => e.address === address)?.calls ?? 0;
    const load = keepCalling(() => c.getOrder({ orderId: ORDER_ID }, { timeoutMs: 3_000 }), 2);
    defer(() => load.stop());
    await eventually(() => callsTo(frozen.address) > 0, 3_000, "calls to the child replica");

    frozen.signal("SIGSTOP");
    const frozenAt = Date.now();
    await eventually(() => events.some((e) => e.type === "endpoint-ejected" && e.address === frozen.address), 5_000, "the frozen endpoint to be ejected");
    const ejection = events.find((e) => e.type === "endpoint-ejected" && e.address === frozen.address);
    const ejectedAfterMs = (ejection?.at ?? Infinity) - frozenAt;
    const callsAtEjection = callsTo(frozen.address);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const callsWhileEjected = callsTo(frozen.address) - callsAtEjection;
    const failuresWhileFrozen = load.failures();

    frozen.signal("SIGCONT");
    const resumedAt = Date.now();
    await eventually(() => events.some((e) => e.type === "endpoint-readmitted" && e.address === frozen.address && e.at >= resumedAt), 5_000, "readmission");
    const readmittedAfterMs = (events.find((e) => e.type === "endpoint-readmitted" && e.at >= resumedAt)?.at ?? Infinity) - resumedAt;
    const callsAtReadmission = callsTo(frozen.address);
    await eventually(() => callsTo(frozen.address) > callsAtReadmission, 3_000, "calls to the resumed replica");
    await load.stop();

    console.info(`frozen replica: ejected ${ejectedAfterMs} ms after SIGSTOP, readmitted ${readmittedAfterMs} ms after SIGCONT, ${failuresWhileFrozen} failed calls`);
    expect(ejection).toMatchObject({ reason: "unresponsive" });
    // One interval plus the check's timeout, with room for a busy machine.
    expect(ejectedAfterMs).toBeLessThan(3_000);
    expect(callsWhileEjected).toBe(0);
    expect(failuresWhileFrozen).toBe(0);
    expect(readmittedAfterMs).toBeLessThan(3_000);
  });

  it("stays in rotation when it is the only replica: never the last endpoint for an unanswered check", async () => {
    const frozen = await startChildReplica();
    defer(() => frozen.stop());
    const events: TimedEvent[] = [];
    const c = await client({ target: frozen.address, healthCheck: { intervalMs: 100, timeoutMs: 200 } }, events);
    frozen.signal("SIGSTOP");
    // Several checks time out meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(clientTransport(c).snapshot()[0]).toMatchObject({ admitted: true, health: "serving" });
    expect(events.some((e) => e.type === "endpoint-ejected")).toBe(false);
  });
});
