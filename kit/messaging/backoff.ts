/** Exponential backoff with jitter. */
export interface BackoffOptions {
  /** Delay after the first failure, ms. */
  initialDelayMs: number;
  /** Cap on any delay, ms. */
  maxDelayMs: number;
  /** Growth per failure. */
  multiplier: number;
  /** Random spread as a fraction of the delay (0.2 = ±20 %), so retries do not march in step. */
  jitter: number;
}

/** Delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(options: BackoffOptions, failures: number, random: () => number = Math.random): number {
  const base = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.max(0, failures - 1));
  const spread = base * options.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(options.maxDelayMs, base + spread)));
}

export function validateBackoff(name: string, options: BackoffOptions): void {
  if (!(options.initialDelayMs >= 0)) throw new TypeError(`${name}.initialDelayMs must be >= 0`);
  if (!(options.maxDelayMs >= options.initialDelayMs)) throw new TypeError(`${name}.maxDelayMs must be >= initialDelayMs`);
  if (!(options.multiplier >= 1)) throw new TypeError(`${name}.multiplier must be >= 1`);
  if (!(options.jitter >= 0 && options.jitter <= 1)) throw new TypeError(`${name}.jitter must be within [0, 1]`);
}
