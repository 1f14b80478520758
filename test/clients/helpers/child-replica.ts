// Starts helpers/replica-process.ts as a child process and waits until it listens.
import { join } from "node:path";
import { spawnServer, stopProcess, type ServerProcess } from "../../helpers/process.js";
import { eventually } from "./load.js";

export interface ChildReplica {
  readonly address: string;
  readonly process: ServerProcess;
  signal(signal: NodeJS.Signals): void;
  /** SIGCONT (in case it is frozen), then SIGTERM and wait. */
  stop(): Promise<void>;
}

export async function startChildReplica(): Promise<ChildReplica> {
  const proc = spawnServer(process.execPath, ["--conditions=source", "--import", "tsx", join(import.meta.dirname, "replica-process.ts")]);
  try {
    await eventually(() => /listening \d+/.test(proc.output()) || proc.child.exitCode !== null, 30_000, "the child replica to listen");
  } catch (error) {
    await stopProcess(proc, "SIGKILL");
    throw error;
  }
  const port = /listening (\d+)/.exec(proc.output())?.[1];
  if (port === undefined) {
    throw new Error(`the child replica exited:\n${proc.output()}`);
  }
  return {
    address: `127.0.0.1:${port}`,
    process: proc,
    signal: (signal) => proc.child.kill(signal),
    stop: async () => {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGTERM");
    },
  };
}
