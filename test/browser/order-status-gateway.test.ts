// The order status gateway's handshake, with Node Socket.IO clients (no browser) against the
// orders service as the host runs it (PostgreSQL, a private nats-server, no Redis): which tokens
// name a user, and how many sockets one user may hold open on a replica.
import { randomUUID } from "node:crypto";
import { type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RunningService } from "../../services/host/run-service.js";
import { signAccessToken } from "../../services/orders/gateway/access-token.js";
import { ORDER_STATUS_SERVER } from "../../services/orders/gateway/order-status-push.js";
import type { OrderStatusServer } from "../../services/orders/gateway/order-status-server.js";
import { startNatsServer, type NatsServer } from "../helpers/index.js";
import { cleanUp, serviceStorage, startService, startTimeoutMs, type ServiceStorage } from "../services/rpc-helpers.js";
import { connectAs, type NodeClient } from "./socket-client.js";

const SECRET = `test-secret-${randomUUID()}`;
const MAX_SOCKETS_PER_USER = 3;

describe("order status gateway handshake", () => {
  let nats: NatsServer;
  let storage: ServiceStorage;
  let orders: RunningService;
  let gateway: string;
  const clients: NodeClient[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    storage = await serviceStorage("postgres", "orders");
    orders = await startService("orders", { ...storage.env, NATS_URL: nats.url, WS_PORT: "0", WS_TOKEN_SECRET: SECRET, WS_MAX_SOCKETS_PER_USER: String(MAX_SOCKETS_PER_USER) });
    gateway = `http://${orders.app.get<OrderStatusServer>(ORDER_STATUS_SERVER).address()}`;
  }, startTimeoutMs);

  afterAll(async () => {
    for (const client of clients) client.socket.close();
    await cleanUp([() => orders?.stop(), () => storage?.drop(), () => nats?.dispose()]);
  });

  const connect = async (userId: string) => {
    const client = await connectAs(gateway, await signAccessToken(SECRET, userId, 300));
    clients.push(client);
    return client;
  };

  it("turns away a signed token whose sub is a number, a list or empty, as it turns away other bad tokens", async () => {
    const withSub = (sub: unknown) => new SignJWT({ sub } as unknown as JWTPayload).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
    await expect(connectAs(gateway, await withSub(42))).rejects.toThrow("unauthorized: the token names no user (its sub claim must be the user id as a string)");
    await expect(connectAs(gateway, await withSub(["wsvictim"]))).rejects.toThrow("unauthorized: the token names no user (its sub claim must be the user id as a string)");
    await expect(connectAs(gateway, await withSub(""))).rejects.toThrow("unauthorized: the token names no user (no sub claim)");
    // The same user as a string is who the list tried to be.
    expect((await connect("wsvictim")).socket.connected).toBe(true);
  });

  it("holds at most WS_MAX_SOCKETS_PER_USER sockets of one user, even when they connect at once; one that closes makes room", async () => {
    const userId = `many-${randomUUID()}`;
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, () => connect(userId)));
    const admitted = attempts.flatMap((attempt) => (attempt.status === "fulfilled" ? [attempt.value] : []));
    expect(admitted).toHaveLength(MAX_SOCKETS_PER_USER);
    for (const attempt of attempts) {
      if (attempt.status === "rejected") expect(String(attempt.reason)).toContain(`too many connections: this user has ${MAX_SOCKETS_PER_USER} open on this server; close one first`);
    }
    // Another user is not affected.
    expect((await connect(`other-${randomUUID()}`)).socket.connected).toBe(true);

    admitted[0]?.socket.close();
    const replacement = await vi.waitFor(() => connect(userId), { timeout: 10_000, interval: 50 });
    expect(replacement.socket.connected).toBe(true);
    await expect(connect(userId)).rejects.toThrow("too many connections");
  });
});
