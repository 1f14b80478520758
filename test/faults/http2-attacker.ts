// What a hostile HTTP/2 client does to a server, written as raw frames over TCP so nothing in a
// client library (stream limits it honours, requests it completes) softens it: connections that
// open thousands of streams and never send a request body, and connections that send nothing.
import { connect as connectTcp, type Socket } from "node:net";

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const frameType = { data: 0x0, headers: 0x1, rstStream: 0x3, settings: 0x4, ping: 0x6, goaway: 0x7 } as const;
const flag = { ack: 0x1, endHeaders: 0x4 } as const;

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

// HPACK "literal without indexing": a static-table name index (4-bit prefix) or a new name (0).
function literal(nameIndex: number, value: string, name?: string): Buffer {
  const str = (s: string) => {
    const bytes = Buffer.from(s, "latin1");
    if (bytes.length > 126) throw new Error("header value too long for this encoder");
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  };
  const prefix = nameIndex < 15 ? Buffer.from([nameIndex]) : Buffer.from([0x0f, nameIndex - 15]);
  return Buffer.concat(name === undefined ? [prefix, str(value)] : [Buffer.from([0]), str(name), str(value)]);
}

/** A gRPC request's HEADERS block, without END_STREAM: the server waits for a body that never comes. */
function grpcRequestHeaders(path: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table 3 and 6)
    literal(4, path), // :path
    literal(1, "localhost"), // :authority
    literal(31, "application/grpc"), // content-type
    literal(0, "trailers", "te"),
  ]);
}

export interface FloodConnection {
  /** Frames of each type the server sent back, by HTTP/2 frame type. */
  readonly received: Map<number, number>;
  /** Whether the server closed (or reset) the connection. */
  readonly closed: boolean;
  /** Opens `count` streams (HEADERS only, no END_STREAM), in writes of at most 1,000 frames. */
  openStreams(count: number, path: string): Promise<void>;
  destroy(): void;
}

/** Connects, sends the preface and SETTINGS, and acknowledges the server's SETTINGS. */
export async function openFloodConnection(port: number, host = "127.0.0.1"): Promise<FloodConnection> {
  const socket: Socket = connectTcp({ port, host });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const received = new Map<number, number>();
  let closed = false;
  let pending = Buffer.alloc(0);
  let nextStreamId = 1;
  socket.on("error", () => {});
  socket.on("close", () => (closed = true));
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      const type = pending.readUInt8(3);
      const flags = pending.readUInt8(4);
      received.set(type, (received.get(type) ?? 0) + 1);
      if (type === frameType.settings && (flags & flag.ack) === 0 && !socket.destroyed) socket.write(frame(frameType.settings, flag.ack, 0));
      pending = pending.subarray(9 + length);
    }
  });
  socket.write(Buffer.concat([preface, frame(frameType.settings, 0, 0)]));
  return {
    received,
    get closed() {
      return closed;
    },
    async openStreams(count, path) {
      const block = grpcRequestHeaders(path);
      for (let sent = 0; sent < count && !closed; ) {
        const batch: Buffer[] = [];
        for (; batch.length < 1000 && sent < count; sent++) {
          batch.push(frame(frameType.headers, flag.endHeaders, nextStreamId, block));
          nextStreamId += 2;
        }
        const flushed = socket.write(Buffer.concat(batch));
        if (!flushed) await new Promise<void>((resolve) => socket.once("drain", resolve).once("close", resolve));
      }
    },
    destroy: () => socket.destroy(),
  };
}

/** Opens a TCP connection and sends nothing. */
export async function openIdleConnection(port: number, host = "127.0.0.1"): Promise<Socket> {
  const socket = connectTcp({ port, host });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  // Read (and drop) what the server sends, so that its closing the connection is seen.
  socket.resume();
  return socket;
}
