// Stock lookups over NATS request/reply with Nest's NATS transport: three inventory replicas in
// one queue group (through the production host) on a private nats-server, answering a client
// that knows no address; then none, then one that never answers; and orders pricing through it.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { STOCK_STORE } from "../../services/inventory/inventory.tokens.js";
import type { StockStore } from "../../services/inventory/stock.js";
import { createStockLookupClient, type StockLookupClient } from "../../services/inventory/stock-lookup/stock-lookup.client.js";
import { INVENTORY_QUEUE_GROUP, STOCK_LOOKUP_SUBJECT } from "../../services/inventory/stock-lookup/stock-lookup.protocol.js";
import { createTestDatabase, startNatsServer, type NatsServer, type TestDatabase } from "../helpers/index.js";
import { cleanUp, grpcClient, startService, startTimeoutMs } from "../services/rpc-helpers.js";

const LOOKUPS = 90;
const basket = { currencyCode: "EUR", items: [{ sku: "MUG-1", quantity: 2 }] };

let nats: NatsServer;
const databases: TestDatabase[] = [];
let inventory: RunningService[] = [];
let lookup: StockLookupClient;

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("the call succeeded; it should have failed");
    },
    (error: unknown) => ConnectError.from(error),
  );
}

async function database(name: string) {
  const created = await createTestDatabase(name);
  databases.push(created);
  return created.url;
}

beforeAll(async () => {
  nats = await startNatsServer();
  const inventoryUrl = await database("rr_inventory");
  for (let i = 0; i < 3; i++) inventory.push(await startService("inventory", { NATS_URL: nats.url, DATABASE_URL: inventoryUrl }));
  await grpcClient(InventoryService, inventory[0] as RunningService).setStock({ sku: "MUG-1", name: "Mug", available: 40, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  lookup = createStockLookupClient({ servers: [nats.url], timeoutMs: 2_000 });
}, 2 * startTimeoutMs);

afterAll(async () => {
  await cleanUp([() => lookup?.close(), ...inventory.map((replica) => () => replica.stop()), () => nats?.dispose(), ...databases.map((d) => () => d.drop())]);
});

describe("stock lookups over NATS request/reply", () => {
  it("spreads lookups over the three replicas of the queue group, each answer correct", async () => {
    const answered: MockInstance[] = inventory.map((replica) => vi.spyOn(replica.app.get<StockStore>(STOCK_STORE), "quote"));
    for (let batch = 0; batch < LOOKUPS / 10; batch++) {
      const quotes = await Promise.all(Array.from({ length: 10 }, () => lookup.quoteItems(basket)));
      for (const quote of quotes) {
        expect(quote.lines).toEqual([expect.objectContaining({ sku: "MUG-1", quantity: 2, available: 40, sufficient: true, known: true })]);
        expect(quote.total).toMatchObject({ currencyCode: "EUR", amountMinor: 2500n });
      }
    }
    const perReplica = answered.map((spy) => spy.mock.calls.length);
    console.info(`stock lookups answered per replica: ${perReplica.join(", ")} (of ${LOOKUPS})`);
    expect(perReplica.reduce((a, b) => a + b, 0)).toBe(LOOKUPS);
    // NATS picks a member of the group at random per request; each gets a share (P(< 10 of 90) is about 1e-4).
    for (const count of perReplica) expect(count).toBeGreaterThanOrEqual(10);
    for (const spy of answered) spy.mockRestore();
  });

  it("refuses a request that breaks the contract's rules with InvalidArgument, like the RPC", async () => {
    const refused = await failure(lookup.quoteItems({ currencyCode: "euro", items: [] }));
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.rawMessage).toMatch(/items|currency_code/);
    const mismatch = await failure(lookup.quoteItems({ currencyCode: "USD", items: [{ sku: "MUG-1", quantity: 1 }] }));
    expect(mismatch.code).toBe(Code.InvalidArgument);
    expect(mismatch.rawMessage).toBe("SKU MUG-1 is priced in EUR, not USD");
  });

  it("prices CreateOrder through any replica when orders uses INVENTORY_TRANSPORT=nats", async () => {
    const orders = await startService("orders", { NATS_URL: nats.url, DATABASE_URL: await database("rr_orders"), INVENTORY_TRANSPORT: "nats" });
    try {
      const client: Client<typeof OrdersService> = grpcClient(OrdersService, orders);
      const { order, created } = await client.createOrder({ ...basket, userId: "nats-buyer", idempotencyKey: `rr-${randomUUID()}` });
      expect(created).toBe(true);
      expect(order?.total).toMatchObject({ amountMinor: 2500n });
    } finally {
      await orders.stop();
    }
  });

  it("fails with DeadlineExceeded when a subscriber never answers within the timeout", async () => {
    const silent = await connect({ servers: nats.url });
    const stopped = inventory;
    inventory = [];
    try {
      await Promise.all(stopped.map((replica) => replica.stop()));
      silent.subscribe(STOCK_LOOKUP_SUBJECT, { queue: INVENTORY_QUEUE_GROUP, callback: () => undefined });
      await silent.flush();
      const slow = createStockLookupClient({ servers: [nats.url], timeoutMs: 300 });
      try {
        const refused = await failure(slow.quoteItems(basket));
        expect(refused.code).toBe(Code.DeadlineExceeded);
        expect(refused.rawMessage).toBe(`no inventory replica answered ${STOCK_LOOKUP_SUBJECT} within 300 ms`);
      } finally {
        await slow.close();
      }
    } finally {
      // Drain, not close: drain returns once the server has dropped the subscription, while after
      // a close its interest may linger a moment and take the next test's request.
      await silent.drain();
    }
  });

  it("fails at once with Unavailable, saying why, when no replica is subscribed", async () => {
    const refused = await failure(lookup.quoteItems(basket));
    expect(refused.code).toBe(Code.Unavailable);
    expect(refused.rawMessage).toBe(`no inventory replica is subscribed to ${STOCK_LOOKUP_SUBJECT} (NATS: no responders); start inventory or check that it uses the same NATS`);
  });
});
