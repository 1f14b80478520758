import { describe, expect, it } from "vitest";
import { resolveConsumerOptions } from "./consumer-options.js";
import { resolveRelayOptions } from "../outbox/relay-options.js";

const base = { stream: "ITEMS", durable: "billing", filterSubject: "acme.items.v1.ItemAdded" };

describe("consumer and relay options", () => {
  it("applies the documented consumer defaults", () => {
    expect(resolveConsumerOptions(base)).toMatchObject({
      concurrency: 8,
      maxDeliver: 5,
      ackWaitMs: 30_000,
      maxAckPending: 1_000,
      workingIntervalMs: 10_000,
      nakBackoff: { initialDelayMs: 500, maxDelayMs: 60_000, multiplier: 2, jitter: 0.2 },
    });
  });

  it("names the option that cannot work", () => {
    expect(() => resolveConsumerOptions({ ...base, durable: "pay.ments" })).toThrow(/durable "pay.ments"/);
    expect(() => resolveConsumerOptions({ ...base, concurrency: 0 })).toThrow(/concurrency must be a positive integer/);
    expect(() => resolveConsumerOptions({ ...base, ackWaitMs: 1_000, workingIntervalMs: 1_000 })).toThrow(/workingIntervalMs/);
    expect(() => resolveRelayOptions({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => resolveRelayOptions({ retry: { initialDelayMs: 10, maxDelayMs: 5 } })).toThrow(/maxDelayMs/);
    expect(() => resolveRelayOptions({ leaseMs: 1_000, markDelayMs: 1_000 })).toThrow(/markDelayMs must be an integer from 0 to below leaseMs \(1000\), got 1000/);
    expect(() => resolveRelayOptions({ markDelayMs: -1 })).toThrow(/markDelayMs/);
  });

  it("applies the documented relay defaults", () => {
    expect(resolveRelayOptions({})).toMatchObject({
      batchSize: 500,
      pollIntervalMs: 1_000,
      markDelayMs: 50,
      leaseMs: 10_000,
      retentionMs: 7 * 24 * 3600_000,
      cleanupIntervalMs: 60_000,
    });
  });
});
