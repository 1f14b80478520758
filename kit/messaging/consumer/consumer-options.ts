import { type BackoffOptions, validateBackoff } from "../backoff.js";

/** One durable consumer of one subject, shared by all replicas of a service. */
export interface EventConsumerOptions {
  stream: string;
  /** Durable name, the same on every replica. */
  durable: string;
  /** Subject filter, e.g. `acme.items.v1.ItemAdded`. */
  filterSubject: string;
  /** Handlers running at once in this process. Default 8. */
  concurrency?: number | undefined;
  /**
   * Deliveries before the message is copied to the dead letters and terminated. Default 5.
   * Enforced here, not by the broker (whose MaxDeliver is left unlimited), so a failed
   * dead-letter write is retried instead of the broker dropping the message.
   */
  maxDeliver?: number | undefined;
  /** Broker ack wait, ms; running handlers extend it with `working()`. Default 30 000 (JetStream's). */
  ackWaitMs?: number | undefined;
  /** Unacked messages the broker hands out to all replicas together. Default 1 000 (JetStream's). */
  maxAckPending?: number | undefined;
  /** Delay of the redelivery after a failure, growing per delivery. Default 500 ms doubling to 60 s, ±20 %. */
  nakBackoff?: Partial<BackoffOptions> | undefined;
  /** How often a running handler's delivery is marked in progress, ms. Default ackWaitMs / 3. */
  workingIntervalMs?: number | undefined;
  /** Errors that do not stop the consumer (failed handler, failed ack). Default: ignored. */
  onError?: ((err: unknown, context: { subject: string; streamSequence: number }) => void) | undefined;
}

export interface ResolvedConsumerOptions {
  stream: string;
  durable: string;
  filterSubject: string;
  concurrency: number;
  maxDeliver: number;
  ackWaitMs: number;
  maxAckPending: number;
  nakBackoff: BackoffOptions;
  workingIntervalMs: number;
  onError: (err: unknown, context: { subject: string; streamSequence: number }) => void;
}

export function resolveConsumerOptions(options: EventConsumerOptions): ResolvedConsumerOptions {
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const resolved: ResolvedConsumerOptions = {
    stream: options.stream,
    durable: options.durable,
    filterSubject: options.filterSubject,
    concurrency: options.concurrency ?? 8,
    maxDeliver: options.maxDeliver ?? 5,
    ackWaitMs,
    maxAckPending: options.maxAckPending ?? 1_000,
    nakBackoff: { initialDelayMs: 500, maxDelayMs: 60_000, multiplier: 2, jitter: 0.2, ...options.nakBackoff },
    workingIntervalMs: options.workingIntervalMs ?? Math.max(1, Math.floor(ackWaitMs / 3)),
    onError: options.onError ?? (() => undefined),
  };
  for (const key of ["stream", "durable", "filterSubject"] as const) {
    if (!resolved[key]) throw new TypeError(`event consumer ${key} is required`);
  }
  if (/[.*> ]/.test(resolved.durable)) throw new TypeError(`event consumer durable "${resolved.durable}" may not contain . * > or spaces`);
  for (const key of ["concurrency", "maxDeliver", "ackWaitMs", "maxAckPending", "workingIntervalMs"] as const) {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 1) throw new TypeError(`event consumer ${key} must be a positive integer, got ${value}`);
  }
  if (resolved.workingIntervalMs >= resolved.ackWaitMs) throw new TypeError("event consumer workingIntervalMs must be below ackWaitMs");
  validateBackoff("event consumer nakBackoff", resolved.nakBackoff);
  return resolved;
}
