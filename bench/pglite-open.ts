// pglite-open: how long a new embedded database takes to open in a new process, as a service's
// start pays it: the toolkit's openDatabase (template cache, 16 MB buffer cache), the same with
// initdb's 128 MB buffer cache (ADR 0153), and plain PGlite with drizzle's migrator (initdb and
// every migration). The variants alternate, `max(--rounds, 5)` opens each; medians are printed.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startChild } from "./harness/children.js";
import { median, round } from "./harness/stats.js";
import type { BenchSettings } from "./settings.js";

const variants = ["toolkit", "toolkit-128mb", "pglite"] as const;

interface Opened {
  openMs: number;
  cpuMs: number;
  rssMiB: number;
}

export async function pgliteOpen(settings: BenchSettings): Promise<void> {
  const rounds = Math.max(settings.rounds, 5);
  const scratch = await mkdtemp(join(tmpdir(), "protomesh-bench-open-"));
  const cacheDir = join(scratch, "cache");
  const samples = new Map<string, Opened[]>(variants.map((variant) => [variant, []]));
  try {
    // Fills the template cache, as the first start on a machine does.
    await openOnce("toolkit", join(scratch, "warm"), cacheDir);
    for (let round = 0; round < rounds; round++) {
      for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const opened = await openOnce(variant, join(scratch, `${variant}-${round}`), cacheDir);
        samples.get(variant)?.push(opened);
        console.error(`pglite-open ${variant}: ${opened.openMs.toFixed(0)} ms, CPU ${opened.cpuMs.toFixed(0)} ms, RSS ${opened.rssMiB.toFixed(0)} MiB`);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  for (const [variant, opened] of samples) {
    console.log(
      JSON.stringify({
        bench: "pglite-open",
        variant,
        opens: opened.length,
        openMsMedian: round(median(opened.map((o) => o.openMs))),
        openMsMin: round(Math.min(...opened.map((o) => o.openMs))),
        openMsMax: round(Math.max(...opened.map((o) => o.openMs))),
        cpuMsMedian: round(median(opened.map((o) => o.cpuMs))),
        rssMiBMedian: round(median(opened.map((o) => o.rssMiB))),
        load1: round(loadavg()[0] ?? 0, 2),
      }),
    );
  }
}

async function openOnce(variant: string, dataDir: string, cacheDir: string): Promise<Opened> {
  const child = await startChild("servers/pglite-open.ts", []);
  try {
    return await child.request<Opened>({ type: "open", variant, dataDir, cacheDir });
  } finally {
    await child.stop();
  }
}
