// A deterministic stand-in for a card processor, so demos and tests can ask for a mix of
// outcomes and reproduce it: the same order always gets the same verdict.
import { createHash } from "node:crypto";
import type { ProcessorVerdict } from "./charge.js";

export interface PaymentSimulatorOptions {
  /** Share of orders declined, 0..1, chosen by a hash of the order id. Default 0. */
  declineRate?: number;
  /** Amounts above this (minor units) are declined as over the limit. Default: no limit. */
  limitMinor?: bigint;
  /** Users whose every charge is declined. Default: none. */
  declinedUsers?: readonly string[];
  /** Delay before a verdict, in ms, like a processor round trip. Default 0. */
  latencyMs?: number;
  /** Share of attempts that fail with a transient error (the handler retries), 0..1. Default 0. */
  transientFailureRate?: number;
}

export interface ChargeRequest {
  orderId: string;
  userId: string;
  amountMinor: bigint;
}

export class TransientProcessorError extends Error {
  override readonly name = "TransientProcessorError";
  readonly transient = true;
}

function unitInterval(seed: string): number {
  return createHash("sha256").update(seed).digest().readUInt32BE(0) / 0x1_0000_0000;
}

function checkRate(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${name} must be between 0 and 1, got ${value}`);
  return value;
}

export function createPaymentSimulator(options: PaymentSimulatorOptions = {}) {
  const declineRate = checkRate("declineRate", options.declineRate ?? 0);
  const transientFailureRate = checkRate("transientFailureRate", options.transientFailureRate ?? 0);
  const latencyMs = options.latencyMs ?? 0;
  if (!(latencyMs >= 0)) throw new RangeError(`latencyMs must be >= 0, got ${latencyMs}`);
  const declinedUsers = new Set(options.declinedUsers ?? []);
  let attempts = 0;

  return {
    /** Decides capture or decline; throws TransientProcessorError on a simulated outage. */
    async charge(request: ChargeRequest): Promise<ProcessorVerdict> {
      attempts += 1;
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      if (transientFailureRate > 0 && unitInterval(`${request.orderId}:attempt:${attempts}`) < transientFailureRate) {
        throw new TransientProcessorError(`simulated processor outage charging order ${request.orderId}`);
      }
      if (declinedUsers.has(request.userId)) return { outcome: "decline", reason: "card declined for this customer" };
      if (options.limitMinor !== undefined && request.amountMinor > options.limitMinor) {
        return { outcome: "decline", reason: "amount over the card limit" };
      }
      if (unitInterval(request.orderId) < declineRate) return { outcome: "decline", reason: "insufficient funds" };
      return { outcome: "capture" };
    },
  };
}

export type PaymentSimulator = ReturnType<typeof createPaymentSimulator>;
