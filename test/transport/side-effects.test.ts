// A server is a guest in its user's process: creating, serving and closing one changes nothing it
// did not create. protobuf-es's text encoding (a process-wide setting) stays as it was, and
// node:http2 sessions of the application's own servers and clients keep Node's own state; only
// the toolkit server's sessions get its stream registry.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { types } from "node:util";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@protomesh/clients/health";
import { createConnectServer } from "@protomesh/server";
import { describe, expect, it } from "vitest";
import { sessionStreams } from "../../kit/server/server/id-registry.js";

// Node keeps a session's streams in a Map of its own class: ask for the internal slot.
const isNodeMap = (value: unknown) => types.isMap(value);

describe("a toolkit server in someone else's process", () => {
  it("leaves protobuf-es's text encoding and other HTTP/2 sessions as they were", async () => {
    const encodingBefore = getTextEncoding();

    // The application's own HTTP/2 server and a client session to it, opened before and used during.
    const ownServer = http2.createServer((_req, res) => res.end("own"));
    await new Promise<void>((resolve) => ownServer.listen(0, "127.0.0.1", resolve));
    const ownServerSessions: http2.ServerHttp2Session[] = [];
    ownServer.on("session", (session) => ownServerSessions.push(session));
    const ownClient = http2.connect(`http://127.0.0.1:${(ownServer.address() as AddressInfo).port}`);

    const toolkitSessions: http2.ServerHttp2Session[] = [];
    const server = createConnectServer([], { host: "127.0.0.1", port: 0 });
    server.httpServer.on("session", (session: http2.ServerHttp2Session) => toolkitSessions.push(session));
    const { port } = await server.listen();
    await createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` })).check({});
    await new Promise<void>((resolve, reject) => {
      const request = ownClient.request({ ":path": "/" });
      request.on("error", reject);
      request.resume();
      request.on("end", resolve);
    });

    expect(getTextEncoding()).toBe(encodingBefore);
    expect(ownServerSessions).toHaveLength(1);
    expect(isNodeMap(sessionStreams(ownServerSessions[0]!))).toBe(true);
    expect(isNodeMap(sessionStreams(ownClient))).toBe(true);
    // The toolkit's own session did get the registry (on this Node's internal shape).
    expect(toolkitSessions).toHaveLength(1);
    expect(isNodeMap(sessionStreams(toolkitSessions[0]!))).toBe(false);

    await server.close();
    expect(getTextEncoding()).toBe(encodingBefore);
    ownClient.close();
    await new Promise<void>((resolve) => ownServer.close(() => resolve()));
  });

  it("can be told to leave its own sessions' internals alone", async () => {
    const sessions: http2.ServerHttp2Session[] = [];
    const server = createConnectServer([], { host: "127.0.0.1", port: 0, http2StreamRegistry: false });
    server.httpServer.on("session", (session: http2.ServerHttp2Session) => sessions.push(session));
    const { port } = await server.listen();
    await createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` })).check({});
    expect(isNodeMap(sessionStreams(sessions[0]!))).toBe(true);
    await server.close();
  });
});
