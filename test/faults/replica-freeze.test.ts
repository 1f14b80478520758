// An orders replica in a child process is frozen with SIGSTOP (it hangs with its connections
// open) while a balanced client keeps placing orders over it and an in-process replica. Calls
// that land on the frozen one time out per attempt and are retried on the other (CreateOrder
// carries an idempotency key), so every call succeeds within its deadline; after SIGCONT the
// replica takes calls again, and the saga work it held (deliveries, outbox claims) comes back.
// The client's endpoint events are printed: its health check times out, so the frozen
// endpoint is ejected as unresponsive and readmitted after SIGCONT (ADR 0101).
import { Code } from "@connectrpc/connect";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { clientTransport, closeClient, type ClientEvent } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { useFaultShop } from "./fault-shop.js";
import { redeliveries } from "./broker-stats.js";

const SAGA_DEADLINE_MS = 60_000;
const FROZEN_MS = 8_000;

describe("an orders replica freezes while clients keep calling", () => {
  const fault = useFaultShop(() => ({ sagaDeadlineMs: SAGA_DEADLINE_MS }));

  it("serves every call through the other replica while one is frozen, and uses it again after SIGCONT", async () => {
    const frozen = await fault.shop.startChild("orders");
    const inProcess = fault.shop.replicas.orders[0]?.address ?? "";
    const events: (ClientEvent & { at: number })[] = [];
    const client = createOrdersClient({
      target: [inProcess, frozen.address],
      // Generous for a busy machine; an attempt stuck on the frozen replica gives up after 2 s.
      deadlines: { defaultTimeoutMs: 20_000 },
      retry: { perAttemptTimeoutMs: 2_000, retryableCodes: [Code.Unavailable] },
      healthCheck: { intervalMs: 1_000, timeoutMs: 500 },
      onEvent: (event) => events.push({ ...event, at: Date.now() }),
    });
    try {
      const transport = clientTransport(client);
      await transport.ready();
      const callsTo = (address: string) => transport.snapshot().find((endpoint) => endpoint.address === address)?.calls ?? 0;
      const before = await fault.shop.placeOrders(20, 2, client);

      const callsAtFreeze = callsTo(frozen.address);
      frozen.signal("SIGSTOP");
      const frozenAt = Date.now();
      const during = await fault.shop.placeOrders(60, 2, client);
      // Attempts the picker still sent to the frozen endpoint (each timed out and was retried).
      const callsWhileFrozen = callsTo(frozen.address) - callsAtFreeze;
      while (Date.now() - frozenAt < FROZEN_MS) await sleep(100);
      frozen.signal("SIGCONT");
      const resumedAt = Date.now();

      // The frozen replica's stall still weighs on its latency estimate and decays over about
      // 10 s without samples: keep calling, in rounds, until the picker tries it again (bounded).
      const after = { accepted: 0, failed: 0 };
      const callsBeforeResume = callsTo(frozen.address);
      while (callsTo(frozen.address) === callsBeforeResume && Date.now() - resumedAt < 90_000) {
        const round = await fault.shop.placeOrders(10, 2, client);
        after.accepted += round.accepted;
        after.failed += round.failed;
      }
      const callsAfter = callsTo(frozen.address) - callsBeforeResume;
      const report = await fault.shop.settle(90_000);
      const retries = events.filter((e) => e.type === "retry" && e.at >= frozenAt && e.at < resumedAt).length;
      const redelivered = await redeliveries([fault.nats.url], "orders");
      const timeline = events.filter((e) => "address" in e && e.address === frozen.address).map((e) => `${e.type}${"reason" in e ? `:${e.reason}` : ""}@${e.at - frozenAt}`);
      console.info(
        `SIGSTOP orders replica: ${JSON.stringify({ before, during, after, retries, callsWhileFrozen, callsAfter, timeline, redelivered, recoveryMs: Date.now() - frozenAt, orders: report.orders, events: report.events })}`,
      );

      expect(before.failed + during.failed + after.failed).toBe(0);
      expect(callsAfter).toBeGreaterThan(0);
      expect(report.violations).toEqual([]);
      expect(report.orders.pending).toBe(0);
      expect(report.orders.total).toBe(before.accepted + during.accepted + after.accepted);
    } finally {
      closeClient(client);
    }
  }, 270_000);
});
