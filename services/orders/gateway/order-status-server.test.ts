import { connect, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { startOrderStatusServer } from "./order-status-server.js";

const connectTo = (address: string) =>
  new Promise<Socket>((resolve, reject) => {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    const socket = connect({ host, port }, () => resolve(socket));
    socket.on("error", reject);
  });

const closed = (socket: Socket, withinMs: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), withinMs);
    socket.resume();
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

describe("the order status gateway's HTTP server", () => {
  it("closes connections past maxConnections and connections that send no request within headersTimeoutMs", async () => {
    const server = await startOrderStatusServer({ host: "127.0.0.1", port: 0, channelPrefix: "test", maxConnections: 2, headersTimeoutMs: 1_000, onRedisError: () => {} });
    const sockets = [await connectTo(server.address()), await connectTo(server.address())];
    const third = await connectTo(server.address());
    expect(await closed(third, 1_000)).toBe(true);
    expect(await Promise.all(sockets.map((socket) => closed(socket, 3_000)))).toEqual([true, true]);
    await server.close();
  });
});
