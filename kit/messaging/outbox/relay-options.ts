import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { type BackoffOptions, validateBackoff } from "../backoff.js";
import type { Envelope } from "./envelope.js";
import type { PublishAck } from "../bus/event-bus.js";
import { DEFAULT_NOT_READY_AFTER_MS } from "../readiness/readiness.js";

export interface OutboxRelayOptions {
  /** Names this relay in `claimed_by`. Default: `<hostname>-<pid>-<random>`. */
  relayId?: string | undefined;
  /**
   * Rows claimed per round, at most one per aggregate. Default 500: a claim and its marks cost
   * about the same whatever their size, so a bigger batch drains a backlog faster (0.58-0.71 of
   * raw publishing, docs/benchmarks.md; 0.31-0.35 with 100, ADR 0144). It bounds what one relay
   * holds: up to `roundsInFlight × batchSize` publishes in flight and leased rows, all retried
   * after the lease if it dies, and a relay's claim may take the heads of that many aggregates
   * before another replica's claim runs. At low rates a claim finds the few rows committed since.
   */
  batchSize?: number | undefined;
  /**
   * Rounds (claim, publish) run at once, so one round's SQL overlaps another's publishes; the rows
   * a round published are marked by the next claim of any of them. Default 2: a drain of a backlog
   * goes about twice as fast as with one; more rounds add little while the database is the
   * bottleneck (docs/benchmarks.md).
   */
  roundsInFlight?: number | undefined;
  /** Fallback poll when no notification arrives (and for retries coming due), ms. Default 1 000. */
  pollIntervalMs?: number | undefined;
  /**
   * How long published rows may wait for the next claim to mark them, ms; then a statement runs
   * for them (it claims too). Rows committed within it cost one statement a round instead of two
   * (docs/adr/0145). Until marked, other relays cannot claim the next rows of those aggregates,
   * and a relay that dies republishes them after its lease. Default 50; less than `leaseMs`.
   */
  markDelayMs?: number | undefined;
  /**
   * A claim's lease, ms: a relay that dies mid-publish frees its rows after it. Keep it shorter
   * than the stream's duplicate window (2 min by default), so a republish is deduplicated by the
   * broker. Default `DEFAULT_OUTBOX_LEASE_MS` (10 000).
   */
  leaseMs?: number | undefined;
  /** Delay before a failed row is tried again. Default 100 ms doubling to 30 s, ±20 %. */
  retry?: Partial<BackoffOptions> | undefined;
  /**
   * How long published rows are kept, ms, so they can be republished after a broker loses data.
   * Default 7 days.
   */
  retentionMs?: number | undefined;
  /** How often published rows past retention are deleted, ms. Default 60 000. */
  cleanupIntervalMs?: number | undefined;
  /** Rows deleted per statement during cleanup. Default 1 000. */
  cleanupBatchSize?: number | undefined;
  /**
   * How long publishes must keep failing, with none succeeding, before `readiness()` says so, ms.
   * Default 15 000 (`DEFAULT_NOT_READY_AFTER_MS`).
   */
  notReadyAfterMs?: number | undefined;
  /** Errors the relay survives (database down, publish failed). Default: ignored. */
  onError?: ((err: unknown) => void) | undefined;
  /** Called after each event is stored by the broker, e.g. to record outbox lag. Default: none. */
  onPublished?: ((envelope: Envelope, ack: PublishAck) => void) | undefined;
  /**
   * Runs the publishing of each round's claimed rows, e.g. inside a span linked to every row's
   * trace (a batch has no single parent). Default: runs it as is.
   */
  aroundRound?: (<T>(rows: readonly Envelope[], publish: () => Promise<T>) => Promise<T>) | undefined;
}

/**
 * A relay killed between the broker's ack and marking its rows holds them until its lease ends;
 * 10 s lets another relay take over soon while staying well inside the 2 min duplicate window.
 */
export const DEFAULT_OUTBOX_LEASE_MS = 10_000;

export interface ResolvedRelayOptions {
  relayId: string;
  batchSize: number;
  roundsInFlight: number;
  pollIntervalMs: number;
  markDelayMs: number;
  leaseMs: number;
  retry: BackoffOptions;
  retentionMs: number;
  cleanupIntervalMs: number;
  cleanupBatchSize: number;
  notReadyAfterMs: number;
  onError: (err: unknown) => void;
  onPublished: (envelope: Envelope, ack: PublishAck) => void;
  aroundRound: <T>(rows: readonly Envelope[], publish: () => Promise<T>) => Promise<T>;
}

export function resolveRelayOptions(options: OutboxRelayOptions): ResolvedRelayOptions {
  const resolved: ResolvedRelayOptions = {
    relayId: options.relayId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
    batchSize: options.batchSize ?? 500,
    roundsInFlight: options.roundsInFlight ?? 2,
    pollIntervalMs: options.pollIntervalMs ?? 1_000,
    markDelayMs: options.markDelayMs ?? 50,
    leaseMs: options.leaseMs ?? DEFAULT_OUTBOX_LEASE_MS,
    retry: { initialDelayMs: 100, maxDelayMs: 30_000, multiplier: 2, jitter: 0.2, ...options.retry },
    retentionMs: options.retentionMs ?? 7 * 24 * 3600_000,
    cleanupIntervalMs: options.cleanupIntervalMs ?? 60_000,
    cleanupBatchSize: options.cleanupBatchSize ?? 1_000,
    notReadyAfterMs: options.notReadyAfterMs ?? DEFAULT_NOT_READY_AFTER_MS,
    onError: options.onError ?? (() => undefined),
    onPublished: options.onPublished ?? (() => undefined),
    aroundRound: options.aroundRound ?? ((_rows, publish) => publish()),
  };
  for (const key of ["batchSize", "roundsInFlight", "pollIntervalMs", "leaseMs", "cleanupIntervalMs", "cleanupBatchSize", "notReadyAfterMs"] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`outbox relay ${key} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(resolved.markDelayMs) || resolved.markDelayMs < 0 || resolved.markDelayMs >= resolved.leaseMs) {
    throw new TypeError(`outbox relay markDelayMs must be an integer from 0 to below leaseMs (${resolved.leaseMs}), got ${resolved.markDelayMs}`);
  }
  if (!(resolved.retentionMs >= 0)) throw new TypeError(`outbox relay retentionMs must be >= 0, got ${resolved.retentionMs}`);
  validateBackoff("outbox relay retry", resolved.retry);
  return resolved;
}
