// Loopback helpers the demo and the tests need: a free port for each server, and whether
// something listens.
import { readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { createServer, Socket } from "node:net";

/** Below this, ports are left to well-known services. */
const LOWEST_PICKED_PORT = 10_000;

/**
 * The range the OS draws local ports of outgoing connections from (Linux; the usual default
 * elsewhere). A port picked inside it can be taken by any process's connect() between the pick
 * and the bind, which is what made servers started side by side fail with EADDRINUSE.
 */
function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low: low!, high: high! };
  } catch {
    // Not Linux: fall through to the IANA dynamic range.
  }
  return { low: 49_152, high: 65_535 };
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** The ports freePort picks from: from LOWEST_PICKED_PORT to just below the ephemeral range. */
function pickRange(): { low: number; high: number } {
  const ephemeral = ephemeralRange();
  return { low: LOWEST_PICKED_PORT, high: ephemeral.low > LOWEST_PICKED_PORT ? ephemeral.low - 1 : 65_535 };
}

// Read once per process. Each process walks the range from its own random start, so two
// processes picking at the same moment rarely land on the same port, and one process never hands
// out a port twice in a row.
let range: { low: number; high: number } | undefined;
let cursor: number | undefined;

/**
 * A loopback TCP port that nothing listens on, chosen below the OS's ephemeral range so that no
 * outgoing connection can take it before the caller's server binds it.
 */
export async function freePort(): Promise<number> {
  range ??= pickRange();
  const { low, high } = range;
  const span = high - low + 1;
  cursor ??= low + randomInt(span);
  for (let tried = 0; tried < span; tried++) {
    const port = cursor;
    cursor = cursor >= high ? low : cursor + 1;
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port between ${low} and ${high}`);
}

export function listening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}
