import type { Address } from "../address.js";

/** What a resolver reports to. Calls arrive on the event loop, never re-entrantly from `start`. */
export interface ResolverListener {
  /** The complete current set of addresses; endpoints absent from it are drained and removed. */
  onUpdate(addresses: readonly Address[]): void;
  /** Resolution failed; the previous set stays in use. */
  onError(error: unknown): void;
}

/**
 * Turns a logical target into addresses. Contract: after `start`, report the full set at least
 * once (or an error) and again whenever it changes; `resolveNow` is a hint sent after a
 * connection failure and may be rate-limited; after `close` no callback fires.
 */
export interface Resolver {
  start(listener: ResolverListener): void;
  resolveNow(): void;
  close(): void;
}
