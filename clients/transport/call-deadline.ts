import { type ConnectError, createContextKey } from "@connectrpc/connect";

/**
 * The one timer of a call made through the balanced transport. The deadline interceptor arms
 * it instead of adding an AbortController and a timer of its own per call.
 */
export interface CallDeadline {
  /** Aborts the call with `error()` after `ms`, replacing any earlier timer (the deadline only ever shrinks). */
  arm(ms: number, error: () => ConnectError): void;
}

export const callDeadlineKey = createContextKey<CallDeadline | undefined>(undefined, { description: "protomesh call deadline timer" });
