// Order status pushed to a real browser (Debian's headless Chromium driven by playwright-core):
// two orders replicas share a database, a private nats-server and the shared Redis (a channel
// prefix of their own); the browser is connected to one replica, the status changes are made
// through the other. Payments is not running, so orders stay pending until cancelled.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SignJWT } from "jose";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { signAccessToken } from "../../services/orders/gateway/access-token.js";
import { ORDER_STATUS_SERVER } from "../../services/orders/gateway/order-status-push.js";
import type { OrderStatusServer } from "../../services/orders/gateway/order-status-server.js";
import { startShop, type Shop } from "../saga/shop.js";
import { connectAs, type NodeClient, type PushedOrder } from "./socket-client.js";

const CHROMIUM = "/usr/bin/chromium";
/** Flags that keep Chromium off the network on a closed machine. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const REDIS_URL = process.env.PROTOMESH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const SECRET = `test-secret-${randomUUID()}`;
const PENDING = "ORDER_STATUS_PENDING";
const CANCELLED = "ORDER_STATUS_CANCELLED";

/** Serves the page and the Socket.IO client bundle from the npm package, on loopback. */
async function startPageServer(): Promise<{ url: string; close(): Promise<void> }> {
  const page = await readFile(join(import.meta.dirname, "order-status.html"));
  const client = await readFile(join(import.meta.dirname, "../../node_modules/socket.io-client/dist/socket.io.min.js"));
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path === "/") response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page);
    else if (path === "/socket.io.min.js") response.writeHead(200, { "content-type": "text/javascript" }).end(client);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function gatewayOf(replica: RunningService | undefined): string {
  if (replica === undefined) throw new Error("the shop has fewer orders replicas than the test needs");
  return `http://${replica.app.get<OrderStatusServer>(ORDER_STATUS_SERVER).address()}`;
}

describe("order status pushed to browsers", () => {
  let shop: Shop;
  let pages: Awaited<ReturnType<typeof startPageServer>>;
  let browser: BrowserContext;
  let userDataDir: string;
  const nodeClients: NodeClient[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    shop = await startShop({
      name: "browser",
      replicas: { orders: 2, inventory: 1, payments: 0 },
      sagaDeadlineMs: 120_000,
      env: { orders: { WS_PORT: "0", WS_TOKEN_SECRET: SECRET, REDIS_URL, WS_REDIS_CHANNEL: `pmt-orders-status-${randomUUID()}` } },
    });
    await shop.inventory.setStock({ sku: "MUG-1", name: "Mug", available: 100, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    pages = await startPageServer();
    userDataDir = await mkdtemp(join(tmpdir(), "pmt-chromium-"));
    browser = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    for (const client of nodeClients) client.socket.close();
    await browser?.close();
    if (userDataDir !== undefined) await rm(userDataDir, { recursive: true, force: true });
    await pages?.close();
    await shop?.stop();
  }, 60_000);

  async function openPage(gateway: string, token: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${pages.url}/?gateway=${encodeURIComponent(gateway)}&token=${encodeURIComponent(token)}`);
    await page.waitForFunction("window.connected || window.connectError !== null", undefined, { timeout: 30_000 });
    return page;
  }

  async function placeOrder(orders: Client<typeof OrdersService>, userId: string): Promise<string> {
    const { order } = await orders.createOrder({ userId, items: [{ sku: "MUG-1", quantity: 1 }], idempotencyKey: randomUUID(), currencyCode: "EUR" });
    if (order === undefined) throw new Error("CreateOrder answered without an order");
    return order.orderId;
  }

  it("shows a browser on one replica the status changes made through another, and never another user's order", async () => {
    const gatewayA = gatewayOf(shop.replicas.orders[0]);
    const gatewayB = gatewayOf(shop.replicas.orders[1]);
    const ordersB = createClient(OrdersService, createGrpcTransport({ baseUrl: `http://${shop.replicas.orders[1]?.address}` }));
    const latestOf = (client: NodeClient, orderId: string) => client.pushes.filter((o) => o.orderId === orderId).at(-1)?.status;

    // Alice also has a socket on B and Bob one on A: whichever replica handles a status event,
    // one of Alice's two sockets is on the other replica, so her pushes cross Redis.
    const aliceOnB = await connectAs(gatewayB, await signAccessToken(SECRET, "alice", 300));
    const bobOnA = await connectAs(gatewayA, await signAccessToken(SECRET, "bob", 300));
    nodeClients.push(aliceOnB, bobOnA);
    // An order whose push is over before the page connects: the page learns of it from the
    // snapshot a socket gets on connecting.
    const earlierOrder = await placeOrder(ordersB, "alice");
    await vi.waitFor(() => expect(latestOf(aliceOnB, earlierOrder)).toBe(PENDING), { timeout: 30_000, interval: 50 });

    const page = await openPage(gatewayA, await signAccessToken(SECRET, "alice", 300));
    expect(await page.evaluate("window.connectError")).toBeNull();
    await page.waitForFunction(`window.latest[${JSON.stringify(earlierOrder)}]?.status === ${JSON.stringify(PENDING)}`, undefined, { timeout: 30_000 });

    const aliceOrder = await placeOrder(ordersB, "alice");
    const bobOrder = await placeOrder(ordersB, "bob");
    await ordersB.cancelOrder({ orderId: aliceOrder });
    await ordersB.cancelOrder({ orderId: bobOrder });

    await page.waitForFunction(`window.latest[${JSON.stringify(aliceOrder)}]?.status === ${JSON.stringify(CANCELLED)}`, undefined, { timeout: 30_000 });
    expect(await page.locator(`[data-order="${aliceOrder}"]`).textContent()).toBe(CANCELLED);
    await vi.waitFor(() => expect(latestOf(aliceOnB, aliceOrder)).toBe(CANCELLED), { timeout: 30_000, interval: 50 });
    // Bob's socket shares replica A with the browser: once his push has arrived there, a
    // misrouted copy for the browser would have arrived too.
    await vi.waitFor(() => expect(latestOf(bobOnA, bobOrder)).toBe(CANCELLED), { timeout: 30_000, interval: 50 });

    const inBrowser = await page.evaluate<PushedOrder[]>("window.pushes");
    expect(inBrowser.length).toBeGreaterThan(0);
    expect(new Set(inBrowser.map((o) => o.userId))).toEqual(new Set(["alice"]));
    expect(inBrowser.map((o) => o.orderId)).not.toContain(bobOrder);
    expect(aliceOnB.pushes.map((o) => o.orderId)).not.toContain(bobOrder);
    expect(bobOnA.pushes.map((o) => o.orderId)).not.toContain(aliceOrder);
    await page.close();
  }, 120_000);

  it("turns away a browser whose token is not signed with the gateway's secret", async () => {
    const page = await openPage(gatewayOf(shop.replicas.orders[0]), await signAccessToken(`another-secret-${randomUUID()}`, "alice", 300));
    expect(await page.evaluate("window.connectError")).toBe("unauthorized: the token is not a JWT signed for this service");
    expect(await page.evaluate("window.connected")).toBe(false);
    await page.close();
  }, 60_000);

  it("turns away connections without a token or with an expired one, naming what to fix", async () => {
    const gateway = gatewayOf(shop.replicas.orders[1]);
    await expect(connectAs(gateway, undefined)).rejects.toThrow("unauthorized: no token; connect with io(url, { auth: { token } })");
    const expired = await new SignJWT()
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("alice")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    await expect(connectAs(gateway, expired)).rejects.toThrow("unauthorized: the token has expired; get a new one");
    const noUser = await new SignJWT().setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(SECRET));
    await expect(connectAs(gateway, noUser)).rejects.toThrow("unauthorized: the token names no user (no sub claim)");
  }, 60_000);
});
