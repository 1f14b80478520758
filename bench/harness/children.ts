// Child processes of a benchmark: each is a Node process with IPC that answers requests by id.
// Every child is killed when the benchmark process exits, on Ctrl-C and on SIGTERM.
import { type ChildProcess, fork } from "node:child_process";

const live = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of live) child.kill("SIGKILL");
};
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * Node flags a child gets: the repo's sources through tsx, plus BENCH_NODE_ARGS (e.g. --cpu-prof).
 * BENCH_DIST=1 makes the children import protomesh's built code (`npm run build` first), as a
 * deployed service does; only the benchmark's own files then go through tsx.
 */
const dist = process.env["BENCH_DIST"] === "1";
const execArgv = [...(dist ? [] : ["--conditions=source"]), "--import", "tsx", ...(process.env["BENCH_NODE_ARGS"] ?? "").split(" ").filter(Boolean)];
// tsx applies tsconfig.json's `paths`, which map the toolkit's package names to their sources;
// bench/tsconfig.dist.json has none, so the names resolve through node_modules to each package's dist/.
const childEnv = dist ? { ...process.env, TSX_TSCONFIG_PATH: new URL("../tsconfig.dist.json", import.meta.url).pathname } : process.env;

export interface Child {
  readonly process: ChildProcess;
  /** Sends a request and resolves with the child's reply to it. */
  request<T>(message: Record<string, unknown>): Promise<T>;
  /** Resolves with the next message of the given `type` the child sends on its own. */
  next<T>(type: string): Promise<T>;
  /** Asks the child to exit and waits; kills it after 5 s. */
  stop(): Promise<void>;
}

interface Envelope {
  id?: number;
  type?: string;
  error?: string;
}

/**
 * Forks `script` (a path relative to bench/) with `args` and waits for its first "ready" message.
 * `nodeArgs` are extra Node flags for this child only (the gc benchmark's heap settings).
 */
export async function startChild(script: string, args: readonly string[], nodeArgs: readonly string[] = []): Promise<Child> {
  return startProcess(new URL(`../${script}`, import.meta.url).pathname, args, [...execArgv, ...nodeArgs], childEnv);
}

/**
 * Forks the JavaScript file at `path` on plain `node` with exactly `nodeArgs` (no TypeScript
 * loader), e.g. a compiled child whose own memory is measured; otherwise as startChild.
 */
export async function startProcess(path: string, args: readonly string[], nodeArgs: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Child> {
  const proc = fork(path, args, { execArgv: [...nodeArgs], env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  live.add(proc);
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<string, (v: unknown) => void>();
  const exited = new Promise<never>((_, reject) => {
    proc.once("exit", (code, signal) => {
      live.delete(proc);
      const error = new Error(`${path} ${args.join(" ")} exited (${code ?? signal})`);
      for (const w of waiting.values()) w.reject(error);
      reject(error);
    });
  });
  exited.catch(() => undefined);
  proc.on("message", (raw) => {
    const message = raw as Envelope;
    if (message.id !== undefined) {
      const w = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error !== undefined) w?.reject(new Error(message.error));
      else w?.resolve(message);
    } else if (message.type !== undefined) {
      const listener = listeners.get(message.type);
      listeners.delete(message.type);
      listener?.(message);
    }
  });
  const child: Child = {
    process: proc,
    request: <T>(message: Record<string, unknown>) =>
      Promise.race([
        new Promise<T>((resolve, reject) => {
          const id = nextId++;
          waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
          proc.send({ ...message, id });
        }),
        exited,
      ]),
    next: <T>(type: string) => Promise.race([new Promise<T>((resolve) => listeners.set(type, resolve as (v: unknown) => void)), exited]),
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      proc.kill("SIGTERM");
      await exited.catch(() => undefined);
      clearTimeout(timer);
    },
  };
  await child.next("ready");
  return child;
}

/** In a child: answers parent requests with `handle`, and exits on SIGTERM or when the parent goes. */
export function serveParent(handle: (message: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>): void {
  process.on("message", (raw) => {
    const message = raw as Record<string, unknown> & { id: number };
    Promise.resolve()
      .then(() => handle(message))
      .then(
        (reply) => process.send?.({ ...reply, id: message.id }),
        (error: unknown) => process.send?.({ id: message.id, error: String(error) }),
      );
  });
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}
