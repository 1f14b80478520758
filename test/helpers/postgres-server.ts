import { execFile } from "node:child_process";
import { chown, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./free-port.js";
import { type ServerProcess, spawnServer, stopProcess, waitUntil } from "./process.js";

const run = promisify(execFile);

/** A private PostgreSQL cluster (initdb in a temp dir) on a free loopback port, trust auth. */
export interface PostgresServer {
  /** Connection URL of the `postgres` database as user `postgres`. */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown (SIGINT): clients are disconnected, data kept. */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster: a crash; recovery runs on the next start. */
  kill(): Promise<void>;
  /**
   * SIGSTOP of the postmaster and its backends: the whole server hangs with its connections open,
   * and new ones are accepted by the kernel and never answered.
   */
  pause(): Promise<void>;
  resume(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes the data directory. */
  dispose(): Promise<void>;
}

async function binDir(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const versions = (await readdir("/usr/lib/postgresql")).sort((a, b) => Number(b) - Number(a));
  if (versions[0] === undefined) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  return join("/usr/lib/postgresql", versions[0], "bin");
}

// initdb and postgres refuse to run as root: drop to the postgres user when we are root.
async function runAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  return { uid, gid };
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = await binDir();
  const user = await runAs();
  const dir = await mkdtemp(join(tmpdir(), "protomesh-pg-"));
  const data = join(dir, "data");
  if (user) await chown(dir, user.uid, user.gid);
  await run(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"], {
    ...(user ?? {}),
  });
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let proc: ServerProcess | undefined;

  const start = async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return;
    const args = ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-k", dir, "-c", "fsync=off"];
    const started = spawnServer(join(bin, "postgres"), args, { ...(user ?? {}) });
    proc = started;
    await waitUntil(
      "postgres",
      async () => {
        const client = new pg.Client({ connectionString: url });
        try {
          await client.connect();
          await client.query("select 1");
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      started,
    );
  };
  // A paused postmaster is resumed first, or it could not act on SIGINT.
  const stop = async () => {
    if (proc) {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGINT");
    }
  };
  const kill = async () => {
    if (proc) {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGKILL");
    }
  };
  // The postmaster first, so it forks no backend while they are being stopped.
  const signalServer = async (signal: NodeJS.Signals) => {
    const postmaster = proc?.child.pid;
    if (postmaster === undefined) return;
    process.kill(postmaster, signal);
    for (const pid of await childrenOf(postmaster)) signalIfAlive(pid, signal);
  };
  const server: PostgresServer = {
    url,
    port,
    start,
    stop,
    kill,
    pause: () => signalServer("SIGSTOP"),
    resume: () => signalServer("SIGCONT"),
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await start();
  } catch (err) {
    await server.dispose();
    throw err;
  }
  return server;
}

/** Processes whose parent is `pid` (Linux /proc). */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // Fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (parent === pid) children.push(Number(entry));
  }
  return children;
}

/** A backend listed a moment ago may have exited since (a connection closed): that one needs no signal. */
function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
