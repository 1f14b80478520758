// The pglite-open benchmark's process: one embedded database opened in a new process, as a service
// opens it at start. Answers {type: "open", variant, dataDir, cacheDir} with the open's wall time,
// the process's CPU during it and its RSS after; the process is then stopped, so each open pays
// for PGlite's WebAssembly and file-system bundle as a start does.
//   variant "toolkit": openDatabase on a new directory from the template cache (its defaults);
//   "toolkit-128mb": the same with initdb's 128 MB buffer cache; "pglite": what an app would write
//   without the toolkit, `new PGlite({ dataDir })` (initdb) and drizzle's migrator.
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { openDatabase } from "@protomesh/data";
import { serveParent } from "../harness/children.js";
import { monotonicNow } from "../harness/stats.js";

const migrationsFolder = fileURLToPath(new URL("../../services/orders/migrations", import.meta.url));

async function open(variant: string, dataDir: string, cacheDir: string): Promise<() => Promise<void>> {
  switch (variant) {
    case "toolkit":
    case "toolkit-128mb": {
      const database = await openDatabase({ dataDir, pgliteCacheDir: cacheDir, migrationsFolder, ...(variant === "toolkit-128mb" ? { pgliteSharedBuffersMb: 128 } : {}) });
      return () => database.close();
    }
    case "pglite": {
      const client = new PGlite({ dataDir });
      await migrate(drizzle({ client }), { migrationsFolder });
      return () => client.close();
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

serveParent(async (message) => {
  const { variant, dataDir, cacheDir } = message as { variant: string; dataDir: string; cacheDir: string };
  const cpuBefore = process.cpuUsage();
  const started = monotonicNow();
  const close = await open(variant, dataDir, cacheDir);
  const openMs = monotonicNow() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const rssMiB = process.memoryUsage.rss() / 2 ** 20;
  await close();
  return { openMs, cpuMs: (cpu.user + cpu.system) / 1000, rssMiB };
});
process.send?.({ type: "ready" });
