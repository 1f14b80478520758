import { describe, expect, it } from "vitest";
import { DEFAULT_METRIC_NAMESPACE, startTelemetry, type Telemetry } from "@protomesh/telemetry";
import type { Envelope } from "@protomesh/messaging";
import { freePort } from "../../test/helpers/free-port.js";
import { names, scrape, sum } from "../../test/telemetry/prometheus.js";

const invoicePaid: Envelope = {
  eventId: "0b5c1f7e-8d3a-4e0f-9f00-000000000001",
  aggregateType: "invoice",
  aggregateId: "inv-1",
  eventType: "acme.billing.v1.InvoicePaid",
  subject: "acme.billing.v1.InvoicePaid",
  payload: new Uint8Array(),
  headers: {},
  createdAt: new Date(),
};

/** Publishes one saga-ending event through the relay hooks and reports an outbox backlog. */
async function recordOutboxMetrics(telemetry: Telemetry): Promise<void> {
  const { onPublished } = telemetry.relayOptions();
  if (onPublished === undefined) throw new Error("telemetry with metrics gives the relay an onPublished hook");
  onPublished(invoicePaid, { stream: "BILLING", sequence: 1, duplicate: false });
  telemetry.observeOutbox(() => Promise.resolve({ pending: 2, failing: 0, oldestPendingAgeMs: 1_500 }));
}

async function scrapeWith(metricNamespace: string | undefined) {
  const telemetry = await startTelemetry(
    { service: "billing", metricsPort: await freePort(), sagaOutcomes: { "acme.billing.v1.InvoicePaid": "paid" }, ...(metricNamespace === undefined ? {} : { metricNamespace }) },
    {},
  );
  try {
    await recordOutboxMetrics(telemetry);
    return await scrape(telemetry.metricsUrl ?? "");
  } finally {
    await telemetry.shutdown();
  }
}

describe("metric namespace", () => {
  it("names the toolkit's metrics protomesh.* by default", async () => {
    const samples = await scrapeWith(undefined);
    expect(DEFAULT_METRIC_NAMESPACE).toBe("protomesh");
    expect(sum(samples, "protomesh_outbox_published_total", { protomesh_event_type: "acme.billing.v1.InvoicePaid" })).toBe(1);
    expect(sum(samples, "protomesh_saga_outcomes_total", { protomesh_saga_outcome: "paid" })).toBe(1);
    expect(sum(samples, "protomesh_outbox_pending")).toBe(2);
  });

  it("puts every metric of the toolkit's own under a custom namespace", async () => {
    const samples = await scrapeWith("acme.billing");
    expect(sum(samples, "acme_billing_outbox_published_total", { protomesh_event_type: "acme.billing.v1.InvoicePaid" })).toBe(1);
    expect(sum(samples, "acme_billing_saga_outcomes_total", { protomesh_saga_outcome: "paid" })).toBe(1);
    expect(sum(samples, "acme_billing_outbox_pending")).toBe(2);
    expect(sum(samples, "acme_billing_outbox_oldest_pending_age")).toBe(1.5);
    expect(names(samples).filter((name) => name.startsWith("protomesh_"))).toEqual([]);
  });

  it.each(["", "1acme", "acme-items", "acme..billing", "acme.", ".acme", "a".repeat(201)])("refuses %j before anything starts", async (metricNamespace) => {
    await expect(startTelemetry({ service: "billing", metricNamespace }, {})).rejects.toThrow(/metricNamespace must be/);
  });
});
