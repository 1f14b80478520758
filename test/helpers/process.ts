import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

const running = new Set<ChildProcess>();

// A test that fails before its afterAll must not leave servers behind.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** A spawned server process with its output kept for error messages. */
export interface ServerProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
}

export function spawnServer(command: string, args: string[], options: SpawnOptions = {}): ServerProcess {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      running.delete(child);
      resolve();
    });
    child.once("error", (err) => {
      output += String(err);
      running.delete(child);
      resolve();
    });
  });
  return { child, output: () => output, exited };
}

/** Sends `signal` and waits for the exit, escalating to SIGKILL after `graceMs`. */
export async function stopProcess(proc: ServerProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill(signal);
  const timedOut = await Promise.race([proc.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    proc.child.kill("SIGKILL");
    await proc.exited;
  }
}

/** Polls `probe` until it resolves true, failing with the server output after `timeoutMs`. */
export async function waitUntil(what: string, probe: () => Promise<boolean>, proc: ServerProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited early:\n${proc.output()}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(50);
  }
}
