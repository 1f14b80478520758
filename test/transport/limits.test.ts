// The server's bounds (ServerLimits), each hit on purpose with small values: what the caller at the
// bound gets, and that callers within their share keep being served. Health's unary Check takes
// the lean path and its server-streaming Watch goes through connect-node, so both are covered.
import http2 from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@protomesh/clients/health";
import { createConnectServer, type ConnectServer, type ServerLimits } from "@protomesh/server";
import { afterEach, describe, expect, it } from "vitest";
import { openFloodConnection, openIdleConnection } from "../faults/http2-attacker.js";

let server: ConnectServer | undefined;
let baseUrl = "";

async function serve(limits: ServerLimits): Promise<void> {
  server = createConnectServer([], { host: "127.0.0.1", port: 0, limits });
  const { port } = await server.listen();
  baseUrl = `http://127.0.0.1:${port}`;
}

afterEach(async () => {
  await server?.close();
  server = undefined;
});

const port = () => Number(new URL(baseUrl).port);
const health = () => createClient(Health, createGrpcTransport({ baseUrl }));

/** Starts a gRPC call on a raw stream and sends its headers only; resolves with its status. */
function unfinishedCall(session: http2.ClientHttp2Session, path: string, contentType = "application/grpc"): Promise<{ status: string | undefined; message: string | undefined }> {
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" }, { endStream: false });
  return new Promise((resolve, reject) => {
    let status: string | undefined;
    let message: string | undefined;
    const read = (headers: http2.IncomingHttpHeaders) => {
      status ??= headers["grpc-status"] as string | undefined;
      message ??= headers["grpc-message"] as string | undefined;
    };
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("error", reject);
    stream.resume();
    stream.on("close", () => resolve({ status, message: message === undefined ? undefined : decodeURIComponent(message) }));
  });
}

function connect(): http2.ClientHttp2Session {
  const session = http2.connect(baseUrl);
  session.on("error", () => {});
  return session;
}

describe("server limits", () => {
  it("answers a call whose request never arrives with DeadlineExceeded after requestTimeoutMs, on both paths", async () => {
    await serve({ requestTimeoutMs: 300 });
    const session = connect();
    const started = Date.now();
    const [unary, streaming] = await Promise.all([unfinishedCall(session, "/grpc.health.v1.Health/Check"), unfinishedCall(session, "/grpc.health.v1.Health/Watch")]);
    expect(unary).toEqual({ status: String(Code.DeadlineExceeded), message: "the request did not arrive within 300 ms (limits.requestTimeoutMs)" });
    expect(streaming.status).toBe(String(Code.DeadlineExceeded));
    expect(Date.now() - started).toBeLessThan(3000);
    session.close();
  });

  it("at maxConcurrentCalls, closes the connection holding unfinished requests so that complete calls are served", async () => {
    await serve({ maxConcurrentCalls: 20, requestTimeoutMs: 60_000 });
    const holder = await openFloodConnection(port());
    await holder.openStreams(20, "/grpc.health.v1.Health/Check");
    await sleep(200);
    const answers = await Promise.all(Array.from({ length: 5 }, () => health().check({})));
    expect(answers).toHaveLength(5);
    await sleep(100);
    expect(holder.closed).toBe(true);
    holder.destroy();
  });

  it("at maxConcurrentCalls with every call's request complete, answers Unavailable", async () => {
    await serve({ maxConcurrentCalls: 3 });
    const controller = new AbortController();
    const client = health();
    const watches = Array.from({ length: 3 }, () => client.watch({ service: "" }, { signal: controller.signal })[Symbol.asyncIterator]().next());
    await Promise.all(watches);
    const error = await client.check({}).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/limits\.maxConcurrentCalls/);
    controller.abort();
  });

  it("bounds streaming calls per connection and per caller with ResourceExhausted", async () => {
    await serve({ maxStreamingCallsPerConnection: 2, maxStreamingCallsPerCaller: 3 });
    const controller = new AbortController();
    const open = (client: ReturnType<typeof health>) =>
      client
        .watch({ service: "" }, { signal: controller.signal })
        [Symbol.asyncIterator]()
        .next()
        .then(
          () => "open",
          (e: unknown) => ConnectError.from(e).rawMessage,
        );
    const first = health();
    expect(await Promise.all([open(first), open(first), open(first)])).toEqual(["open", "open", "this connection has 2 streaming calls open (limits.maxStreamingCallsPerConnection)"]);
    const second = health();
    expect(await Promise.all([open(second), open(second)])).toEqual(["open", "this caller has 3 streaming calls open (limits.maxStreamingCallsPerCaller)"]);
    // Unary calls are not streaming calls: they still pass.
    await expect(first.check({})).resolves.toBeDefined();
    controller.abort();
  });

  it("at maxConnections, closes an idle connection to let a new one in", async () => {
    await serve({ maxConnections: 3, maxConcurrentCalls: 100 });
    const idle = await Promise.all(Array.from({ length: 3 }, () => openIdleConnection(port())));
    await expect(health().check({})).resolves.toBeDefined();
    await sleep(100);
    expect(idle.filter((socket) => socket.destroyed || socket.readableEnded).length).toBeGreaterThanOrEqual(1);
    idle.forEach((socket) => socket.destroy());
  });

  it("closes a connection that does not send the HTTP/2 preface within handshakeTimeoutMs", async () => {
    await serve({ handshakeTimeoutMs: 200 });
    const socket = await openIdleConnection(port());
    const closedAfter = await new Promise<number>((resolve) => {
      const started = Date.now();
      socket.once("close", () => resolve(Date.now() - started));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(150);
    expect(closedAfter).toBeLessThan(2000);
  });

  it("closes a connection idle for idleTimeoutMs with GOAWAY, but not one with a call in flight", async () => {
    await serve({ idleTimeoutMs: 300 });
    const idle = connect();
    const busy = connect();
    const goaway = new Promise<void>((resolve) => idle.once("goaway", () => resolve()));
    const watch = busy.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Watch", "content-type": "application/grpc", te: "trailers" });
    watch.end(Buffer.from([0, 0, 0, 0, 0]));
    watch.resume();
    idle.ping(() => {});
    await goaway;
    await sleep(700);
    expect(busy.closed || busy.destroyed).toBe(false);
    watch.close();
    idle.destroy();
    busy.close();
  });

  it("answers Unavailable when requests still arriving would pass maxBufferedRequestBytes", async () => {
    await serve({ maxBufferedRequestBytes: 1024, requestTimeoutMs: 60_000 });
    const session = connect();
    // One call holds 1,000 bytes of an unfinished request; the next call's 100 bytes do not fit.
    const holding = session.request({ ":method": "POST", ":path": "/grpc.health.v1.Health/Check", "content-type": "application/grpc", te: "trailers" }, { endStream: false });
    holding.on("error", () => {});
    holding.write(Buffer.concat([Buffer.from([0, 0, 0, 0x10, 0]), Buffer.alloc(995)]));
    await sleep(100);
    const error = await createClient(Health, createGrpcTransport({ baseUrl }))
      .check({ service: "x".repeat(100) })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/limits\.maxBufferedRequestBytes/);
    holding.close();
    // Once the held call is gone, the budget is free again.
    await sleep(100);
    await expect(health().check({ service: "x".repeat(100) })).rejects.toThrow(/NotFound|not_found|unknown service/i);
    session.close();
  });

  it.each([
    ["grpc", "application/grpc"],
    ["grpc-web", "application/grpc-web+proto"],
  ])("answers a method nobody serves with Unimplemented over %s", async (_protocol, contentType) => {
    await serve({});
    const session = connect();
    const outcome = await new Promise<{ status: unknown; grpcStatus: unknown }>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": "/nowhere.v1.Nothing/Call", "content-type": contentType, te: "trailers" });
      stream.on("response", (headers) => resolve({ status: headers[":status"], grpcStatus: headers["grpc-status"] }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    // Trailers-only, as gRPC clients expect; Connect keeps its HTTP 404, which its clients read as Unimplemented.
    expect(outcome).toEqual({ status: 200, grpcStatus: String(Code.Unimplemented) });
    session.close();
  });

  it("refuses a new connection when every connection has a call in flight", async () => {
    await serve({ maxConnections: 2 });
    const controller = new AbortController();
    try {
      const busy = [health(), health()];
      await Promise.all(busy.map((client) => client.watch({ service: "" }, { signal: controller.signal })[Symbol.asyncIterator]().next()));
      const error = await health().check({}).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code).toBe(Code.Unavailable);
      expect(error?.rawMessage).toMatch(/limits\.maxConnections/);
      // The busy connections were not the ones closed.
      await expect(busy[0]!.check({})).resolves.toBeDefined();
    } finally {
      controller.abort();
    }
  });

  it("refuses limits that are not positive integers, naming the limit", () => {
    expect(() => createConnectServer([], { limits: { maxConcurrentCalls: 0 } })).toThrow("limits.maxConcurrentCalls must be an integer in 1..2^31-1, got 0");
    expect(() => createConnectServer([], { limits: { requestTimeoutMs: 1.5 } })).toThrow(/limits\.requestTimeoutMs/);
  });
});
