// Finds a NATS server with JetStream for the demo: NATS_URL when set, else one on
// 127.0.0.1:4222, else a nats-server from the PATH started on a free port with its store in a
// temporary directory. Without any, the demo stops with one line saying how to get one.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, listening } from "./network.js";

export interface DemoNats {
  url: string;
  /** Where it came from, for the summary. */
  origin: "NATS_URL" | "local" | "started";
  /** Copies of each stream the replicas keep (NATS_STREAM_REPLICAS); unset, they read it from the environment. */
  streamReplicas?: number;
  stop(): Promise<void>;
}

export class NoNatsError extends Error {
  override readonly name = "NoNatsError";
}

export interface FindNatsOptions {
  /** Port probed for a NATS already running on 127.0.0.1. Default 4222. */
  localPort?: number;
  /** nats-server binary to start when none runs. Default: NATS_SERVER_BIN, else "nats-server" from the PATH. */
  binary?: string;
}

export async function findNats(env: Record<string, string | undefined> = process.env, options: FindNatsOptions = {}): Promise<DemoNats> {
  const localPort = options.localPort ?? 4222;
  const configured = env.NATS_URL;
  if (configured !== undefined && configured !== "") {
    const url = new URL(configured.split(",")[0] ?? configured);
    if (!(await listening(url.hostname, Number(url.port || 4222)))) {
      throw new NoNatsError(`NATS_URL is ${configured}, but nothing answers there; start that server or unset NATS_URL`);
    }
    return { url: configured, origin: "NATS_URL", stop: async () => {} };
  }
  if (await listening("127.0.0.1", localPort)) return { url: `nats://127.0.0.1:${localPort}`, origin: "local", stop: async () => {} };
  return startNatsServer(options.binary ?? env.NATS_SERVER_BIN ?? "nats-server");
}

async function startNatsServer(binary: string): Promise<DemoNats> {
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), "protomesh-demo-nats-"));
  const child: ChildProcess = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], { stdio: "ignore" });
  const spawnFailed = new Promise<Error>((resolve) => child.once("error", resolve));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const failure = await Promise.race([spawnFailed, sleep(100).then(() => undefined)]);
    if (failure !== undefined) {
      await rm(storeDir, { recursive: true, force: true });
      throw new NoNatsError(
        "no NATS server: set NATS_URL, run nats-server -js on 127.0.0.1:4222, or install nats-server (https://docs.nats.io/running-a-nats-service/introduction/installation) so the demo can start one",
      );
    }
    if (await listening("127.0.0.1", port)) {
      return {
        url: `nats://127.0.0.1:${port}`,
        origin: "started",
        stop: async () => {
          if (child.exitCode === null) {
            const exited = new Promise((resolve) => child.once("exit", resolve));
            child.kill("SIGTERM");
            await exited;
          }
          await rm(storeDir, { recursive: true, force: true });
        },
      };
    }
  }
  child.kill("SIGKILL");
  await rm(storeDir, { recursive: true, force: true });
  throw new NoNatsError(`nats-server started but did not listen on 127.0.0.1:${port} within 10 s`);
}
