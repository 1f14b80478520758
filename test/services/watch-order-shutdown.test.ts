// A replica that stops ends its open WatchOrder streams with Unavailable at once, so their
// clients watch again on another replica, instead of holding the shutdown for its grace period.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { OrderStatus, OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { startNatsServer, type NatsServer } from "../helpers/index.js";
import { cleanUp, grpcClient, serviceStorage, startService, startTimeoutMs, type ServiceStorage } from "./rpc-helpers.js";

// Far longer than the test may take: a stop that waited for the grace would time the test out.
const SHUTDOWN_GRACE_MS = 120_000;

let nats: NatsServer;
const storage: ServiceStorage[] = [];
let inventory: RunningService | undefined;
let orders: RunningService | undefined;

beforeAll(async () => {
  nats = await startNatsServer();
  const inventoryStore = await serviceStorage("postgres", "inventory");
  storage.push(inventoryStore);
  inventory = await startService("inventory", { ...inventoryStore.env, NATS_URL: nats.url });
  const ordersStore = await serviceStorage("postgres", "orders");
  storage.push(ordersStore);
  // Payments never runs, so the order stays PENDING and its watch stays open.
  orders = await startService("orders", { ...ordersStore.env, NATS_URL: nats.url, INVENTORY_TARGET: inventory.address, SHUTDOWN_GRACE_MS: String(SHUTDOWN_GRACE_MS), SAGA_DEADLINE_MS: "600000" });
}, 2 * startTimeoutMs);

afterAll(async () => {
  await cleanUp([() => orders?.stop(), () => inventory?.stop(), ...storage.map((store) => () => store.drop()), () => nats.dispose()]);
});

it("ends an open WatchOrder stream with Unavailable when the replica stops", async () => {
  if (inventory === undefined || orders === undefined) throw new Error("the services did not start");
  await grpcClient(InventoryService, inventory).setStock({ sku: "MUG-1", name: "Mug", available: 10, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
  const client = grpcClient(OrdersService, orders);
  const created = await client.createOrder({ userId: "watcher", idempotencyKey: "watch-shutdown-1", items: [{ sku: "MUG-1", quantity: 1 }], currencyCode: "EUR" });
  const stream = client.watchOrder({ orderId: created.order?.orderId ?? "" })[Symbol.asyncIterator]();
  const first = await stream.next();
  expect(first.value?.order?.status).toBe(OrderStatus.PENDING);

  const ended = stream.next().then(
    (result) => ({ result }),
    (err: unknown) => ({ error: ConnectError.from(err) }),
  );
  await orders.stop();
  const outcome = await ended;
  expect("error" in outcome ? { code: outcome.error.code, message: outcome.error.rawMessage } : outcome).toEqual({
    code: Code.Unavailable,
    message: "this replica has stopped watching orders; watch again",
  });
}, 60_000);
