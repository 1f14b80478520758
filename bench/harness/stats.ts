// Percentiles and the one JSON line each variant prints.
import { performance } from "node:perf_hooks";

export const monotonicNow = (): number => performance.now();

/** The q-quantile (0..1) of `sorted`, nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The middle value (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Result {
  bench: string;
  variant: string;
  callsPerS: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  serverCpuUsPerCall: number | null;
  clientCpuUsPerCall: number;
  serverRssMiB: number | null;
  load1: number;
  [extra: string]: unknown;
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

export function summarize(latenciesMs: readonly number[]): { p50Ms: number; p99Ms: number; p999Ms: number } {
  const sorted = Float64Array.from(latenciesMs).sort();
  return { p50Ms: round(quantile(sorted, 0.5), 3), p99Ms: round(quantile(sorted, 0.99), 3), p999Ms: round(quantile(sorted, 0.999), 3) };
}

/** Adds `vs<anchor>` ratios of the named fields to each row and prints one JSON line per row. */
export function printWithRatios(rows: Result[], anchor: string, fields: readonly (keyof Result)[]): void {
  const base = rows.find((r) => r.variant === anchor);
  for (const row of rows) {
    const ratios: Record<string, number | null> = {};
    for (const field of fields) {
      const a = row[field];
      const b = base?.[field];
      ratios[field as string] = typeof a === "number" && typeof b === "number" && b !== 0 ? round(a / b, 3) : null;
    }
    console.log(JSON.stringify({ ...row, anchor, ratio: ratios }));
  }
}

export { round };
