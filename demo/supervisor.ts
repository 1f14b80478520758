// Starts service replicas as child processes, restarts them for chaos, and stops every one
// it started: on success, on failure and on Ctrl-C. Once stopping, it starts nothing more, so a
// start-up still under way cannot leave a replica behind the stop.
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceName } from "../services/saga/topology.js";
import { listening } from "./network.js";

export interface ReplicaSpec {
  service: ServiceName;
  /** What the replica belongs to when the service is split, e.g. the inventory shard "inventory-1"; names it. Default: the service. */
  unit?: string | undefined;
  index: number;
  port: number;
  /** Where it serves Prometheus metrics (METRICS_PORT); the same port again after a restart. */
  metricsPort: number;
  env: Record<string, string>;
}

export interface Replica extends ReplicaSpec {
  readonly name: string;
  child: ChildProcess | undefined;
  restarts: number;
  /** The last lines it printed, for error messages. */
  output: string[];
}

export class Supervisor {
  readonly replicas: Replica[] = [];
  private stopping = false;

  constructor(
    /** The command that runs one service: [executable, ...args]; the service name is appended. */
    private readonly command: readonly [string, ...string[]],
    private readonly startTimeoutMs = 60_000,
  ) {}

  /** Starts a replica and resolves once it listens; refused once `stopAll` was called. */
  async start(spec: ReplicaSpec): Promise<Replica> {
    const name = `${spec.unit ?? spec.service}-${spec.index}`;
    if (this.stopping) throw new Error(`not starting ${name}: the replicas are being stopped`);
    const replica: Replica = { ...spec, name, child: undefined, restarts: 0, output: [] };
    this.replicas.push(replica);
    await this.launch(replica);
    if (this.stopping) throw new Error(`${replica.name} was stopped while starting`);
    return replica;
  }

  private async launch(replica: Replica): Promise<void> {
    // Checked right before the spawn, with no await between: stopAll sees every child spawned.
    if (this.stopping) return;
    const [executable, ...args] = this.command;
    const child = spawn(executable, [...args, replica.service], {
      env: { ...process.env, ...replica.env, PORT: String(replica.port), METRICS_PORT: String(replica.metricsPort) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    replica.child = child;
    const keep = (chunk: Buffer) => {
      replica.output.push(...chunk.toString().split("\n").filter((line) => line.length > 0));
      replica.output.splice(0, Math.max(0, replica.output.length - 40));
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const deadline = Date.now() + this.startTimeoutMs;
    while (!(await listening("127.0.0.1", replica.port, 300))) {
      if (child.exitCode !== null || child.signalCode !== null) {
        // Stopped on purpose (Ctrl-C while chaos was restarting it): not a failure to start.
        if (this.stopping) return;
        throw new Error(`${replica.name} exited during start-up (${child.exitCode ?? child.signalCode}):\n  ${replica.output.slice(-15).join("\n  ")}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${replica.name} did not listen on port ${replica.port} within ${this.startTimeoutMs} ms; its last lines:\n  ${replica.output.slice(-15).join("\n  ")}`);
      }
      await sleep(100);
    }
  }

  /** SIGKILL, as a crash: no graceful shutdown, nothing flushed. */
  async kill(replica: Replica): Promise<void> {
    const child = replica.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async restart(replica: Replica): Promise<void> {
    if (this.stopping) return;
    await this.kill(replica);
    replica.restarts += 1;
    await this.launch(replica);
  }

  /** SIGTERM every replica, then SIGKILL any still running after the grace period. */
  async stopAll(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.replicas.map(async (replica) => {
        const child = replica.child;
        if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
