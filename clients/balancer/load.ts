/** Peak-EWMA decay time: how long a latency spike keeps weighing (Finagle's default, 10 s). */
const DEFAULT_DECAY_MS = 10_000;

/**
 * Load of one endpoint for latency-aware picking: peak EWMA of call latency, calls in flight,
 * and the start time of the oldest call in flight. Peak EWMA jumps to a slower sample at once
 * and decays towards faster ones; the oldest call's age lets a stalled endpoint look slow before
 * its first slow reply comes back.
 */
export class EndpointLoad {
  private ewmaMs = 0;
  private lastSampleAt = 0;
  private nextToken = 0;
  /** Insertion-ordered, so the first entry is the oldest call still in flight. */
  private readonly inFlight = new Map<number, number>();

  constructor(private readonly decayMs = DEFAULT_DECAY_MS) {}

  get outstanding(): number {
    return this.inFlight.size;
  }

  /** Calls started on this endpoint so far (each attempt counts). */
  get started(): number {
    return this.nextToken;
  }

  begin(now: number): number {
    const token = this.nextToken++;
    this.inFlight.set(token, now);
    return token;
  }

  end(token: number, now: number): void {
    const startedAt = this.inFlight.get(token);
    if (startedAt === undefined) {
      return;
    }
    this.inFlight.delete(token);
    const rtt = now - startedAt;
    if (rtt > this.ewmaMs) {
      this.ewmaMs = rtt;
    } else {
      const w = Math.exp(-(now - this.lastSampleAt) / this.decayMs);
      this.ewmaMs = this.ewmaMs * w + rtt * (1 - w);
    }
    this.lastSampleAt = now;
  }

  /**
   * Lower is better: expected latency (at least the oldest call's age) times (outstanding + 1).
   * The peak decays with the time since the last sample too, as if idle time were fast samples:
   * otherwise an endpoint that stalled once, and so is never picked again, would never be
   * sampled again, and would stay avoided long after it recovered.
   */
  cost(now: number): number {
    let latency = this.ewmaMs * Math.exp(-Math.max(0, now - this.lastSampleAt) / this.decayMs);
    for (const startedAt of this.inFlight.values()) {
      latency = Math.max(latency, now - startedAt);
      break;
    }
    return latency * (this.inFlight.size + 1);
  }
}
