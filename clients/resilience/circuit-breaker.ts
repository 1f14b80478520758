/**
 * The state of one circuit. Transitions: closed -(threshold consecutive failures)-> open
 * -(open time elapsed, checked lazily, or `probeNow`)-> half-open -(probe succeeds)-> closed, or -(probe
 * fails)-> open again with a longer open time.
 */
export type BreakerState =
  /** Calls flow. `failures` counts consecutive failures since the last success. */
  | { readonly kind: "closed"; readonly failures: number }
  /** Calls fail fast until `until` (epoch ms). `openings` counts back-to-back openings and grows the open time. */
  | { readonly kind: "open"; readonly until: number; readonly openings: number }
  /** One probe call at a time is let through; `probing` is true while it runs. */
  | { readonly kind: "half-open"; readonly probing: boolean; readonly openings: number };

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Open time of the first opening; the n-th back-to-back opening stays open n times as long. */
  openMs: number;
  /** Upper bound of the open time. */
  maxOpenMs: number;
  /** Consulted before opening; returning false keeps the circuit closed (e.g. never eject every endpoint). */
  canOpen?: () => boolean;
  onTransition?: (state: BreakerState) => void;
}

/** What `acquire` lets a caller do. */
export type BreakerPermit = "call" | "probe" | "reject";

/** A consecutive-failure circuit breaker with half-open probing and growing open time. */
export class CircuitBreaker {
  private current: BreakerState = { kind: "closed", failures: 0 };

  constructor(private readonly options: BreakerOptions) {}

  /** The state now, moving open to half-open once its time is up. */
  state(now = Date.now()): BreakerState {
    if (this.current.kind === "open" && now >= this.current.until) {
      this.set({ kind: "half-open", probing: false, openings: this.current.openings });
    }
    return this.current;
  }

  /** Asks to make a call; "probe" means this call decides whether the circuit closes. */
  acquire(now = Date.now()): BreakerPermit {
    const state = this.state(now);
    switch (state.kind) {
      case "closed":
        return "call";
      case "open":
        return "reject";
      case "half-open":
        if (state.probing) {
          return "reject";
        }
        this.set({ ...state, probing: true });
        return "probe";
    }
  }

  onSuccess(): void {
    if (this.current.kind !== "closed" || this.current.failures !== 0) {
      this.set({ kind: "closed", failures: 0 });
    }
  }

  onFailure(now = Date.now()): void {
    const state = this.current;
    if (state.kind === "half-open") {
      this.open(now, state.openings + 1);
    } else if (state.kind === "closed") {
      const failures = state.failures + 1;
      if (failures < this.options.failureThreshold) {
        this.current = { kind: "closed", failures };
      } else if (this.options.canOpen?.() ?? true) {
        this.open(now, 1);
      } else {
        this.current = { kind: "closed", failures: 0 };
      }
    }
  }

  /** The call ended without telling anything about the target (e.g. the caller cancelled it). */
  onNeutral(): void {
    if (this.current.kind === "half-open" && this.current.probing) {
      this.set({ ...this.current, probing: false });
    }
  }

  /** Ends the open time now, when something says the target may be back: the next call is a probe. */
  probeNow(): void {
    if (this.current.kind === "open") {
      this.set({ kind: "half-open", probing: false, openings: this.current.openings });
    }
  }

  private open(now: number, openings: number): void {
    const durationMs = Math.min(this.options.openMs * openings, this.options.maxOpenMs);
    this.set({ kind: "open", until: now + durationMs, openings });
  }

  private set(state: BreakerState): void {
    const changedKind = state.kind !== this.current.kind;
    this.current = state;
    if (changedKind) {
      this.options.onTransition?.(state);
    }
  }
}
