// Runs one variant: a load generator process against servers already started, sampling the
// servers' CPU when the load generator's window opens and closes.
import { loadavg } from "node:os";
import { type Child, startChild } from "./children.js";
import type { LoadReport, LoadSpec } from "./load.js";
import { round, summarize, type Result } from "./stats.js";

interface Sample {
  cpuUs: number;
  rss: number;
  calls: number;
}

export interface MeasureOptions {
  /** Called when the window opens, e.g. to schedule a fault. */
  onWindow?: () => void;
}

export async function measure(bench: string, variant: string, servers: readonly Child[], spec: LoadSpec, options: MeasureOptions = {}): Promise<Result & { served: number }> {
  const load = await startChild("harness/load.ts", [JSON.stringify(spec)]);
  try {
    const opened = load.next("measuring");
    const done = load.request<LoadReport>({ type: "run" });
    await opened;
    const before = await Promise.all(servers.map((s) => s.request<Sample>({ type: "sample" })));
    options.onWindow?.();
    const report = await done;
    const after = await Promise.all(servers.map((s) => s.request<Sample>({ type: "sample" })));
    const serverCpu = after.reduce((sum, a, i) => sum + a.cpuUs - (before[i] as Sample).cpuUs, 0);
    const served = after.reduce((sum, a, i) => sum + a.calls - (before[i] as Sample).calls, 0);
    const ok = report.calls - report.errors;
    return {
      bench,
      variant,
      callsPerS: Math.round(ok / report.seconds),
      errors: report.errors,
      ...summarize(report.latenciesMs),
      serverCpuUsPerCall: servers.length === 0 || ok === 0 ? null : round(serverCpu / ok),
      clientCpuUsPerCall: report.calls === 0 ? 0 : round(report.clientCpuUs / report.calls),
      serverRssMiB: servers.length === 0 ? null : round(after.reduce((sum, a) => sum + a.rss, 0) / servers.length / 2 ** 20),
      load1: round(loadavg()[0] ?? 0, 2),
      served,
      ...(report.errors > 0 ? { errorKinds: report.errorKinds } : {}),
    };
  } finally {
    await load.stop();
  }
}
