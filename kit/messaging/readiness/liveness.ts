import { errorText } from "../error-text.js";
import { READY, type Readiness } from "./readiness.js";

/**
 * Readiness of something that hears from its broker regularly while it works (JetStream pull
 * heartbeats, Redis Streams reads): not ready once it has heard nothing for `notReadyAfterMs`.
 * A hung broker produces silence rather than errors, so silence is what counts; the last error
 * seen goes into the reason.
 */
export class Liveness {
  private lastHeardAt = Date.now();
  private lastProblem: string | undefined;
  private suspended = false;

  constructor(
    private readonly what: string,
    private readonly notReadyAfterMs: number,
  ) {}

  /** The broker answered. */
  heard(): void {
    this.lastHeardAt = Date.now();
    this.lastProblem = undefined;
  }

  /** Something failed; it becomes the reason if silence follows. */
  problem(err: unknown): void {
    this.lastProblem = errorText(err);
  }

  /** Nothing is asked of the broker for now (every handler slot is busy): silence is expected. */
  suspend(): void {
    this.suspended = true;
  }

  /** Something is asked of the broker again; silence counts from now. */
  resume(): void {
    this.suspended = false;
    this.lastHeardAt = Date.now();
  }

  readiness(): Readiness {
    const silentMs = Date.now() - this.lastHeardAt;
    if (this.suspended || silentMs < this.notReadyAfterMs) return READY;
    const seconds = Math.round(silentMs / 1000);
    return { ready: false, reason: `${this.what}: no answer from the broker for ${seconds} s${this.lastProblem === undefined ? "" : ` (last error: ${this.lastProblem})`}` };
  }
}
