import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
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
  // The grace timer is cleared on exit: left pending, it kept a program that stopped its servers
  // (the rehearsal) alive for the whole grace period.
  let graceTimer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((resolve) => (graceTimer = setTimeout(() => resolve(true), graceMs)))]);
  clearTimeout(graceTimer);
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

/**
 * Processes whose command line or environment names one of `marks` (Linux /proc), as
 * "pid: command line". A run marked by something only it uses (its store directories, its
 * database names, a unique environment variable its children inherit) finds its own leftovers
 * and never those of a test running beside it.
 */
export async function processesMarkedBy(marks: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry))) {
    const [commandLine = "", environment = ""] = await Promise.all(["cmdline", "environ"].map((file) => readFile(`/proc/${pid}/${file}`, "utf8").catch(() => "")));
    if (marks.some((mark) => commandLine.includes(mark) || environment.includes(mark))) found.push(`${pid}: ${commandLine.replaceAll("\0", " ")}`);
  }
  return found;
}

/** A unique variable for a child's environment, which every process it starts inherits; `mark` finds them with `processesMarkedBy`. */
export function runMark(label: string): { env: Record<string, string>; mark: string } {
  const value = `${label}-${randomUUID()}`;
  return { env: { PROTOMESH_TEST_RUN: value }, mark: `PROTOMESH_TEST_RUN=${value}` };
}

/** A built program of this repository run as a user would, marked (see runMark) and watched. */
export interface MarkedRun {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with its exit code. */
  readonly exited: Promise<number | null>;
  /** In the environment of every process the run starts: `processesMarkedBy([mark])` finds them. */
  readonly mark: string;
}

const repositoryRoot = resolve(import.meta.dirname, "../..");
const markedRuns = new Set<ChildProcess>();

/**
 * Runs `node <script> <args>` from the repository root with exactly `env` plus a run mark of
 * `label`. `stopMarkedRuns` ends the runs still going (an afterEach for a test that timed out).
 */
export function spawnMarkedRun(label: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv): MarkedRun {
  const { env: markEnv, mark } = runMark(label);
  const child = spawn(process.execPath, [script, ...args], { cwd: repositoryRoot, env: { ...env, ...markEnv }, stdio: ["ignore", "pipe", "pipe"] });
  markedRuns.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolveExit) =>
    child.once("exit", (code) => {
      markedRuns.delete(child);
      resolveExit(code);
    }),
  );
  return { child, output: () => output, exited, mark };
}

/** Sends SIGTERM to every marked run still going and waits for each to exit. */
export async function stopMarkedRuns(): Promise<void> {
  await Promise.all(
    [...markedRuns].map((child) => {
      const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
      child.kill("SIGTERM");
      return exited;
    }),
  );
}
