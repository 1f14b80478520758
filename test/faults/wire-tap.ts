// A TCP proxy that a child replica connects through instead of straight to nats-server or
// PostgreSQL. It splits the byte stream into protocol messages and asks the scenario about
// each one, so a fault lands at an exact protocol step (the broker's PubAck on its way to a
// relay, a consumer's ack, a COMMIT) without any test-only code in the service.
import { createServer, type Server, type Socket, connect as connectTcp } from "node:net";

/**
 * What to do with one message: pass it on, drop just it, or cut the connection here: neither it
 * nor anything after it is passed on, either way, and the connection is closed 100 ms later, as
 * a crashed peer's would be (a scenario that kills the peer has done so by then).
 */
export type TapVerdict = "forward" | "drop" | "cut";

export interface TapMessage {
  /** "client" = from the tapped process to the server; "server" = the other way. */
  from: "client" | "server";
  /** The whole message: control line plus payload for NATS, type byte plus body for PostgreSQL. */
  bytes: Buffer;
}

/** Splits one direction of a connection into messages; returns the complete ones and keeps the rest. */
type Framer = (buffer: Buffer) => { messages: Buffer[]; rest: Buffer };

export interface WireTap {
  readonly port: number;
  /** Messages cut or dropped so far. */
  readonly intercepted: TapMessage[];
  close(): Promise<void>;
}

const CRLF = Buffer.from("\r\n");

/**
 * NATS protocol: a control line; PUB, HPUB, MSG and HMSG carry a payload whose size is the
 * line's last number, followed by CRLF.
 */
export const natsFramer: Framer = (buffer) => {
  const messages: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = buffer.indexOf(CRLF, offset);
    if (lineEnd < 0) break;
    const line = buffer.toString("latin1", offset, lineEnd);
    const op = line.slice(0, line.indexOf(" ") < 0 ? line.length : line.indexOf(" ")).toUpperCase();
    let end = lineEnd + 2;
    if (op === "PUB" || op === "HPUB" || op === "MSG" || op === "HMSG") {
      end += Number(line.trim().split(/\s+/).at(-1)) + 2;
      if (end > buffer.length) break;
    }
    messages.push(buffer.subarray(offset, end));
    offset = end;
  }
  return { messages, rest: buffer.subarray(offset) };
};

/**
 * PostgreSQL frontend and backend protocol: a type byte and a length that counts itself; the
 * client's first message (startup) has no type byte.
 */
export function postgresFramer(from: "client" | "server"): Framer {
  let started = from === "server";
  return (buffer) => {
    const messages: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const header = started ? 5 : 4;
      if (buffer.length - offset < header) break;
      const length = started ? buffer.readInt32BE(offset + 1) + 1 : buffer.readInt32BE(offset);
      if (buffer.length - offset < length) break;
      messages.push(buffer.subarray(offset, offset + length));
      offset += length;
      started = true;
    }
    return { messages, rest: buffer.subarray(offset) };
  };
}

/** A NATS client's ack of a delivery on `stream` to `durable` (`+ACK`), as the tap sees it. */
export function isNatsAck(message: TapMessage, stream: string, durable: string, kind = "+ACK"): boolean {
  const text = message.bytes.toString("latin1");
  return message.from === "client" && text.startsWith(`PUB $JS.ACK.${stream}.${durable}.`) && text.endsWith(`\r\n${kind}\r\n`);
}

/** The broker's acknowledgement of a message stored in `stream` (a PubAck), on its way to the publisher. */
export function isPubAck(message: TapMessage, stream: string): boolean {
  if (message.from !== "server") return false;
  const text = message.bytes.toString("latin1");
  return text.startsWith("MSG ") && text.includes(`\r\n{"stream":"${stream}",`) && text.includes(`"seq":`);
}

/** A simple-protocol or parsed statement from the client that starts with `keyword` (e.g. "begin", "commit"). */
export function isStatement(message: TapMessage, keyword: string): boolean {
  if (message.from !== "client") return false;
  const type = String.fromCharCode(message.bytes[0] ?? 0);
  return (type === "Q" || type === "P") && new RegExp(`(^|\\0)\\s*${keyword}\\b`, "i").test(message.bytes.toString("latin1", 5));
}

/** The statement that commits a transaction. */
export const isCommit = (message: TapMessage): boolean => isStatement(message, "commit");

/**
 * Starts a proxy to 127.0.0.1:`targetPort` on a free loopback port. `inspect` sees every
 * message of every connection in order and returns its verdict.
 */
export async function startWireTap(targetPort: number, protocol: "nats" | "postgres", inspect: (message: TapMessage) => TapVerdict): Promise<WireTap> {
  const intercepted: TapMessage[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connectTcp(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    let cut = false;
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    const pipe = (from: "client" | "server", source: Socket, sink: Socket, framer: Framer) => {
      let pending = Buffer.alloc(0);
      source.on("data", (chunk: Buffer) => {
        if (cut) return;
        const { messages, rest } = framer(Buffer.concat([pending, chunk]));
        pending = Buffer.from(rest);
        const passed: Buffer[] = [];
        for (const bytes of messages) {
          const message = { from, bytes: Buffer.from(bytes) };
          const verdict = inspect(message);
          if (verdict !== "forward") intercepted.push(message);
          if (verdict === "cut") {
            cut = true;
            setTimeout(close, 100);
            break;
          }
          if (verdict === "forward") passed.push(bytes);
        }
        if (passed.length > 0) sink.write(Buffer.concat(passed));
      });
      source.on("close", () => {
        sockets.delete(source);
        sink.end();
      });
      source.on("error", close);
    };
    pipe("client", client, upstream, protocol === "nats" ? natsFramer : postgresFramer("client"));
    pipe("server", upstream, client, protocol === "nats" ? natsFramer : postgresFramer("server"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("wire tap has no TCP address");
  return {
    port: address.port,
    intercepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
