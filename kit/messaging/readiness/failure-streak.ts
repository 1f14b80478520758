import { errorText } from "../error-text.js";
import { READY, type Readiness } from "./readiness.js";

export interface FailureStreakOptions {
  /** Names the calls in the reason, e.g. "outbox relay publishes". */
  what: string;
  /** How long calls must keep failing, with no success between, before readiness says so, ms. */
  notReadyAfterMs: number;
  /**
   * A streak no failed call has continued for this long is forgotten, ms: with no attempts left
   * there is no evidence (another relay may have published the rows). Longer than the longest
   * pause between retries.
   */
  forgetAfterMs: number;
}

/**
 * Readiness from the outcomes of calls made only when there is work (publishes): not ready once
 * calls have failed for `notReadyAfterMs` with no success between. A success ends the streak at
 * once; while there is nothing to do, nothing changes.
 */
export class FailureStreak {
  private failingSince: number | undefined;
  private lastFailureAt = 0;
  private lastError = "";

  constructor(private readonly options: FailureStreakOptions) {}

  succeeded(): void {
    this.failingSince = undefined;
  }

  failed(err: unknown): void {
    const now = Date.now();
    if (this.failingSince === undefined || now - this.lastFailureAt >= this.options.forgetAfterMs) this.failingSince = now;
    this.lastFailureAt = now;
    this.lastError = errorText(err);
  }

  readiness(): Readiness {
    const now = Date.now();
    if (this.failingSince === undefined || now - this.failingSince < this.options.notReadyAfterMs) return READY;
    if (now - this.lastFailureAt >= this.options.forgetAfterMs) return READY;
    const seconds = Math.round((now - this.failingSince) / 1000);
    return { ready: false, reason: `${this.options.what} failing for ${seconds} s (last error: ${this.lastError})` };
  }
}
