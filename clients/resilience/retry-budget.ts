export interface RetryBudgetOptions {
  /** Retries allowed per call made, over the window. Default 0.1 (Finagle: 0.2; Linkerd: 0.2). */
  ratio?: number;
  /** Retries always allowed per second, so a quiet client can still retry. Default 1 (Finagle: 10). */
  minRetriesPerSecond?: number;
  /** How long a call or retry counts. Default 10 s (as Finagle and Linkerd). */
  windowMs?: number;
}

const BUCKETS = 10;

/**
 * Caps retries at `floor + ratio × calls` over a sliding window, so an outage cannot multiply
 * the load on a struggling service (gRPC core's equivalent is retryThrottling's token bucket).
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly bucketMs: number;
  private readonly calls = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);
  private bucketStart = Number.NEGATIVE_INFINITY;
  private index = 0;

  constructor(options: RetryBudgetOptions = {}) {
    this.ratio = options.ratio ?? 0.1;
    const windowMs = options.windowMs ?? 10_000;
    this.floor = (options.minRetriesPerSecond ?? 1) * (windowMs / 1000);
    this.bucketMs = windowMs / BUCKETS;
  }

  /** Records one call (not a retry). */
  deposit(now = Date.now()): void {
    this.advance(now);
    this.calls[this.index] = (this.calls[this.index] ?? 0) + 1;
  }

  /** Takes one retry out of the budget; false when it is spent. */
  tryWithdraw(now = Date.now()): boolean {
    this.advance(now);
    const calls = this.calls.reduce((a, b) => a + b, 0);
    const retries = this.retries.reduce((a, b) => a + b, 0);
    if (retries + 1 > this.floor + this.ratio * calls) {
      return false;
    }
    this.retries[this.index] = (this.retries[this.index] ?? 0) + 1;
    return true;
  }

  private advance(now: number): void {
    const elapsed = Math.floor((now - this.bucketStart) / this.bucketMs);
    if (elapsed <= 0) {
      return;
    }
    for (let i = 0; i < Math.min(elapsed, BUCKETS); i++) {
      this.index = (this.index + 1) % BUCKETS;
      this.calls[this.index] = 0;
      this.retries[this.index] = 0;
    }
    this.bucketStart = elapsed >= BUCKETS ? now : this.bucketStart + elapsed * this.bucketMs;
  }
}
