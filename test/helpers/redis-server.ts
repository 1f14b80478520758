import { connect } from "node:net";
import { freePort } from "./free-port.js";
import { type ServerProcess, spawnServer, stopProcess, waitUntil } from "./process.js";

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "redis-server";

/** A private redis-server on a free loopback port, in memory only: tests may kill it freely. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: a crash; every key is lost (nothing is persisted). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
  /** SIGSTOP: it hangs with its connections open, like a stalled host. */
  pause(): void;
  resume(): void;
  dispose(): Promise<void>;
}

/** True once the server answers PING with PONG on a plain socket. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString();
      if (reply.includes("\r\n")) socket.end();
    });
    socket.on("error", () => resolve(false));
    socket.on("close", () => resolve(reply.startsWith("+PONG")));
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let proc: ServerProcess | undefined;
  const start = async () => {
    if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return;
    const args = ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--protected-mode", "no"];
    const started = spawnServer(REDIS_SERVER, args);
    proc = started;
    await waitUntil("redis-server", () => answersPing(port), started);
  };
  const kill = async () => {
    if (proc) {
      proc.child.kill("SIGCONT");
      await stopProcess(proc, "SIGKILL");
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    pause: () => proc?.child.kill("SIGSTOP"),
    resume: () => proc?.child.kill("SIGCONT"),
    dispose: kill,
  };
}
