/**
 * Whether a part of the event path can do its work now, as a health check reads it: a look at
 * what the part last saw, never a call of its own, so a check answers at once and costs nothing.
 */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export const READY: Readiness = { ready: true };

/**
 * How long a failure must last before a part reports it, ms: three JetStream heartbeat intervals
 * (one per 5 s while a pull waits), so one slow call or one missed heartbeat never flips health.
 */
export const DEFAULT_NOT_READY_AFTER_MS = 15_000;

/** Ready when every part is; otherwise why each part that is not. */
export function combineReadiness(parts: Iterable<Readiness>): Readiness {
  const reasons: string[] = [];
  for (const part of parts) if (!part.ready) reasons.push(part.reason);
  return reasons.length === 0 ? READY : { ready: false, reason: reasons.join("; ") };
}

export function validateNotReadyAfter(owner: string, notReadyAfterMs: number, atLeastMs: number, because: string): void {
  if (!Number.isInteger(notReadyAfterMs) || notReadyAfterMs <= atLeastMs) {
    throw new TypeError(`${owner} notReadyAfterMs must be an integer above ${atLeastMs} (${because}), got ${notReadyAfterMs}`);
  }
}
