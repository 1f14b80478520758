import { type ContextKey, type ContextValues, createContextValues } from "@connectrpc/connect";

/**
 * Context values private to one call: reads fall through to the caller's values, writes stay
 * here. Our interceptors record per-call state (the deadline, the call's timer) in context
 * values, and a caller may pass one ContextValues object to many calls.
 */
export function callContextValues(parent: ContextValues | undefined): ContextValues {
  if (parent === undefined) {
    return createContextValues();
  }
  const own = new Map<symbol, unknown>();
  const values: ContextValues = {
    get<T>(key: ContextKey<T>): T {
      return own.has(key.id) ? (own.get(key.id) as T) : parent.get(key);
    },
    set<T>(key: ContextKey<T>, value: T) {
      own.set(key.id, value);
      return values;
    },
    delete(key: ContextKey<unknown>) {
      own.delete(key.id);
      return values;
    },
  };
  return values;
}
