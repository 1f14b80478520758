// Drives a client with a few concurrent callers and records every outcome.
import { ConnectError } from "@connectrpc/connect";

export interface LoadResult {
  calls: number;
  failures: ConnectError[];
  /** Longest call, in ms. */
  maxMs: number;
}

/** Makes one call and adds its outcome and duration to `result`. */
async function record(result: LoadResult, call: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  try {
    await call();
  } catch (error) {
    result.failures.push(ConnectError.from(error));
  }
  result.calls++;
  result.maxMs = Math.max(result.maxMs, performance.now() - started);
}

/** Runs `call` from `concurrency` loops until `durationMs` has passed. */
export async function runLoad(call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<LoadResult> {
  const result: LoadResult = { calls: 0, failures: [], maxMs: 0 };
  const end = Date.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) await record(result, call);
    }),
  );
  return result;
}

/** Makes `total` calls from `concurrency` loops, each starting when the previous call of its loop ends. */
export async function runCalls(call: () => Promise<unknown>, concurrency: number, total: number): Promise<LoadResult> {
  const result: LoadResult = { calls: 0, failures: [], maxMs: 0 };
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        await record(result, call);
      }
    }),
  );
  return result;
}

/** Polls until `check` holds, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
