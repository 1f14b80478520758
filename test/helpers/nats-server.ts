import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";
import { type ServerProcess, spawnServer, stopProcess, waitUntil } from "./process.js";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "nats-server";

/** A private nats-server with JetStream on loopback; its store lives in a temp dir. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Graceful stop; the store is kept, so `start()` brings the same streams back. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, with whatever was not yet synced to disk lost. */
  kill(): Promise<void>;
  /** SIGSTOP: it hangs with its connections open, like a deadlocked or stalled server. */
  pause(): void;
  resume(): void;
  /** Starts the server again on the same port and store. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its store. */
  dispose(): Promise<void>;
}

interface NodeSpec {
  name: string;
  port: number;
  httpPort: number;
  clusterPort?: number;
  routes?: number[];
  dir: string;
}

function configFor(spec: NodeSpec): string {
  const lines = [
    `server_name: ${spec.name}`,
    `listen: 127.0.0.1:${spec.port}`,
    `http: 127.0.0.1:${spec.httpPort}`,
    `jetstream { store_dir: ${JSON.stringify(join(spec.dir, "store"))} }`,
  ];
  if (spec.clusterPort !== undefined) {
    const routes = (spec.routes ?? []).map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
    lines.push(`cluster { name: protomesh; listen: 127.0.0.1:${spec.clusterPort}; routes: [${routes}] }`);
  }
  return lines.join("\n") + "\n";
}

async function createNode(spec: NodeSpec): Promise<NatsServer> {
  const configFile = join(spec.dir, "nats.conf");
  await writeFile(configFile, configFor(spec));
  let proc: ServerProcess | undefined;
  const start = async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return;
    const started = spawnServer(NATS_SERVER, ["-c", configFile]);
    proc = started;
    await waitUntil(
      `nats-server ${spec.name}`,
      async () => (await fetch(`http://127.0.0.1:${spec.httpPort}/healthz`)).ok,
      started,
    );
  };
  // A paused server is resumed first, or it could not act on SIGTERM.
  const stop = async () => {
    if (proc) {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGTERM");
    }
  };
  const kill = async () => {
    if (proc) {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGKILL");
    }
  };
  return {
    url: `nats://127.0.0.1:${spec.port}`,
    port: spec.port,
    storeDir: join(spec.dir, "store"),
    start,
    stop,
    kill,
    pause: () => proc?.child.kill("SIGSTOP"),
    resume: () => proc?.child.kill("SIGCONT"),
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await kill();
      await rm(spec.dir, { recursive: true, force: true });
    },
  };
}

/** Starts one private nats-server with JetStream on a free loopback port. */
export async function startNatsServer(): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), "protomesh-nats-"));
  const node = await createNode({ name: "n1", port: await freePort(), httpPort: await freePort(), dir });
  try {
    await node.start();
  } catch (err) {
    await node.dispose();
    throw err;
  }
  return node;
}

/** A private three-node (by default) JetStream cluster on loopback, for replicated streams. */
export interface NatsCluster {
  readonly nodes: readonly NatsServer[];
  /** All client URLs, for a connection that fails over. */
  readonly servers: string[];
  dispose(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const specs: NodeSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `n${i + 1}`,
      port: await freePort(),
      httpPort: await freePort(),
      clusterPort: await freePort(),
      dir: await mkdtemp(join(tmpdir(), "protomesh-nats-")),
    });
  }
  for (const spec of specs) spec.routes = specs.filter((s) => s !== spec).map((s) => s.clusterPort ?? 0);
  const nodes = await Promise.all(specs.map(createNode));
  const dispose = async () => {
    await Promise.all(nodes.map((n) => n.dispose()));
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    await dispose();
    throw err;
  }
  return { nodes, servers: nodes.map((n) => n.url), dispose };
}
