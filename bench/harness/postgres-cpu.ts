// CPU time of the PostgreSQL backends that serve given databases, read from /proc/<pid>/stat
// (PostgreSQL runs on this machine, and a process's stat is readable by any user). The backends
// are found in pg_stat_activity by database name; a backend that exits between two samples takes
// its CPU time with it, so the window's figure is a lower bound (`lostBackends` says how many).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import type { Db } from "@protomesh/data";

/** CPU µs of each backend, by database name and pid. */
export type BackendCpu = Map<string, Map<number, number>>;

const ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

function cpuUsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

export async function sampleBackendCpu(db: Db, databases: readonly string[]): Promise<BackendCpu> {
  const { rows } = await db.execute<{ datname: string; pid: number }>(
    sql`select datname, pid from pg_stat_activity where datname in (${sql.join(databases.map((name) => sql`${name}`), sql`, `)})`,
  );
  const sample: BackendCpu = new Map(databases.map((name) => [name, new Map()]));
  for (const { datname, pid } of rows) {
    const us = cpuUsOf(pid);
    if (us !== undefined) sample.get(datname)?.set(pid, us);
  }
  return sample;
}

/** CPU µs the backends of `database` used between the samples; backends born in between count from 0. */
export function backendCpuBetween(before: BackendCpu, after: BackendCpu, database: string): { cpuUs: number; lostBackends: number } {
  const start = before.get(database) ?? new Map<number, number>();
  const end = after.get(database) ?? new Map<number, number>();
  let cpuUs = 0;
  for (const [pid, us] of end) cpuUs += us - (start.get(pid) ?? 0);
  let lostBackends = 0;
  for (const pid of start.keys()) if (!end.has(pid)) lostBackends++;
  return { cpuUs, lostBackends };
}
