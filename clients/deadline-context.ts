import { AsyncLocalStorage } from "node:async_hooks";
import { createContextKey } from "@connectrpc/connect";

/**
 * Absolute deadline of a call, in epoch milliseconds. Set it in a call's `contextValues` to
 * give that call (and its retries) a deadline explicitly; the deadline interceptor sets it on
 * every call it bounds, so inner interceptors see the effective deadline.
 */
export const deadlineKey = createContextKey<number | undefined>(undefined, { description: "protomesh deadline (epoch ms)" });

const ambient = new AsyncLocalStorage<number>();

/** The deadline outgoing calls made now inherit, if any. */
export function currentDeadline(): number | undefined {
  return ambient.getStore();
}

/** Runs `fn` so that every call it makes ends by `deadline` (epoch ms or Date); an enclosing earlier deadline wins. */
export function withDeadline<T>(deadline: number | Date, fn: () => T): T {
  const at = typeof deadline === "number" ? deadline : deadline.getTime();
  const outer = ambient.getStore();
  return ambient.run(outer === undefined ? at : Math.min(outer, at), fn);
}

/**
 * Runs `fn` under the deadline of an incoming call, so calls it makes downstream get only the
 * time the caller has left. Takes Connect's HandlerContext (or anything with `timeoutMs()`).
 */
export function withIncomingDeadline<T>(context: { timeoutMs(): number | undefined }, fn: () => T): T {
  const timeoutMs = context.timeoutMs();
  return timeoutMs === undefined ? fn() : withDeadline(Date.now() + timeoutMs, fn);
}
