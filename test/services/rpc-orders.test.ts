// OrdersService and PaymentsService through real gRPC clients over HTTP/2, against the services
// as the host runs them, on in-memory PGlite and on PostgreSQL, with a private nats-server.
// Payments starts only for the last part: until then every saga stops after the stock
// reservation, so orders stay PENDING for as long as the tests need them to.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { CancellationReason, OrderStatus, OrdersService, type Order } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentStatus, PaymentsService } from "protomesh/gen/shop/payments/v1/payments_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { startNatsServer, type NatsServer } from "../helpers/index.js";
import { backends } from "./backends.js";
import { grpcClient, serviceStorage, startTimeoutMs, startService, cleanUp, type ServiceName, type ServiceStorage } from "./rpc-helpers.js";

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("the call succeeded; it should have failed");
    },
    (err: unknown) => ConnectError.from(err),
  );
}

const timestampMs = (order: Order) => (order.createdAt === undefined ? 0n : order.createdAt.seconds * 1000n + BigInt(Math.floor(order.createdAt.nanos / 1e6)));

const basket = [{ sku: "MUG-1", quantity: 2 }];
const order = (userId: string, idempotencyKey: string, items = basket) => ({ userId, idempotencyKey, items, currencyCode: "EUR" });

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats.dispose();
});

describe.each(backends)("OrdersService and PaymentsService over gRPC on %s", (backend) => {
  const storage = new Map<ServiceName, ServiceStorage>();
  const running = new Map<ServiceName, RunningService>();
  let inventory: Client<typeof InventoryService>;
  let orders: Client<typeof OrdersService>;

  const start = async (service: ServiceName, env: Record<string, string> = {}) => {
    const store = await serviceStorage(backend, service);
    storage.set(service, store);
    // A saga deadline far beyond any test: the tracker must not cancel orders left pending on purpose.
    const started = await startService(service, { ...store.env, NATS_URL: nats.url, SAGA_DEADLINE_MS: "600000", ...env });
    running.set(service, started);
    return started;
  };

  beforeAll(async () => {
    const inventoryService = await start("inventory");
    inventory = grpcClient(InventoryService, inventoryService);
    orders = grpcClient(OrdersService, await start("orders", { INVENTORY_TARGET: inventoryService.address }));
    await inventory.setStock({ sku: "MUG-1", name: "Mug", available: 1000, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } });
    await inventory.setStock({ sku: "TEE-1", name: "Tee", available: 1000, unitPrice: { currencyCode: "EUR", amountMinor: 2000n } });
  }, 2 * startTimeoutMs);
  afterAll(async () => {
    await cleanUp([
      ...(["orders", "payments", "inventory"] as const).map((name) => () => running.get(name)?.stop()),
      ...[...storage.values()].map((s) => () => s.drop()),
    ]);
  });

  it("creates a PENDING order priced by inventory; a retry with the same key returns it", async () => {
    const first = await orders.createOrder(order("alice", "create-alice-1"));
    expect(first.created).toBe(true);
    expect(first.order).toMatchObject({ userId: "alice", status: OrderStatus.PENDING, total: { currencyCode: "EUR", amountMinor: 2500n } });
    expect(first.order?.lines).toEqual([expect.objectContaining({ sku: "MUG-1", quantity: 2, unitPrice: expect.objectContaining({ amountMinor: 1250n }) })]);

    const retry = await orders.createOrder(order("alice", "create-alice-1"));
    expect(retry.created).toBe(false);
    expect(retry.order?.orderId).toBe(first.order?.orderId);

    const got = await orders.getOrder({ orderId: first.order?.orderId ?? "" });
    expect(got.order).toMatchObject({ orderId: first.order?.orderId, userId: "alice", total: { amountMinor: 2500n } });
  });

  it("creates exactly one order for 50 concurrent calls with the same key", async () => {
    // Orders answers Unavailable when inventory cannot quote within its deadline (a loaded machine):
    // each caller then retries with the same key, which is what the key is for.
    const createWithRetry = async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await orders.createOrder(order("bob", "create-bob-concurrent"));
        } catch (err) {
          if (ConnectError.from(err).code !== Code.Unavailable || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    };
    const results = await Promise.all(Array.from({ length: 50 }, createWithRetry));
    expect(new Set(results.map((r) => r.order?.orderId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const listed = await orders.listOrders({ userId: "bob" });
    expect(listed.orders.map((o) => o.orderId)).toEqual([results[0]?.order?.orderId]);
  });

  it("refuses a key reused with a different basket (AlreadyExists) and an unknown SKU (FailedPrecondition)", async () => {
    await orders.createOrder(order("carol", "create-carol-1"));
    const reused = await failure(orders.createOrder(order("carol", "create-carol-1", [{ sku: "TEE-1", quantity: 1 }])));
    expect(reused.code).toBe(Code.AlreadyExists);

    const unknown = await failure(orders.createOrder(order("carol", "create-carol-2", [{ sku: "GHOST-1", quantity: 1 }])));
    expect(unknown.code).toBe(Code.FailedPrecondition);
    expect(unknown.rawMessage).toContain("GHOST-1");
    expect((await orders.listOrders({ userId: "carol" })).orders).toHaveLength(1);
  });

  it("answers NotFound for an unknown order and InvalidArgument with violations for a malformed one", async () => {
    const missing = await failure(orders.getOrder({ orderId: randomUUID() }));
    expect(missing.code).toBe(Code.NotFound);

    const malformed = await failure(orders.getOrder({ orderId: "not-a-uuid" }));
    expect(malformed.code).toBe(Code.InvalidArgument);
    const [violations] = malformed.findDetails(ViolationsSchema);
    expect(violations?.violations[0]?.field?.elements[0]?.fieldName).toBe("order_id");

    const badCreate = await failure(orders.createOrder({ userId: "alice", idempotencyKey: "create-bad-1", items: [], currencyCode: "EUR" }));
    expect(badCreate.code).toBe(Code.InvalidArgument);
    expect(badCreate.findDetails(ViolationsSchema)[0]?.violations.map((v) => v.field?.elements[0]?.fieldName)).toContain("items");
  });

  it("lists newest first in stable pages while orders arrive; a bad page token is InvalidArgument", async () => {
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await orders.createOrder(order("paula", `list-paula-${i}`))).order?.orderId ?? "");
    const seen: Order[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await orders.listOrders({ userId: "paula", pageSize: 3, pageToken });
      // Newer than every cursor: it must not shift or repeat anything on later pages.
      if (pages === 0) await orders.createOrder(order("paula", "list-paula-late"));
      expect(page.orders.length).toBeLessThanOrEqual(3);
      seen.push(...page.orders);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(pages).toBe(3);
    expect(seen.map((o) => o.orderId).sort()).toEqual([...created].sort());
    // Newest first, ties on the creation time broken by id: the order the cursor relies on.
    const newestFirst = [...seen].sort((x, y) => Number(timestampMs(y) - timestampMs(x)) || (x.orderId < y.orderId ? 1 : -1));
    expect(seen.map((o) => o.orderId)).toEqual(newestFirst.map((o) => o.orderId));

    const bad = await failure(orders.listOrders({ pageSize: 2, pageToken: "not-a-token" }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toContain("page_token");
  });

  it("cancels a pending order; cancelling it again is FailedPrecondition", async () => {
    const placed = await orders.createOrder(order("dave", "cancel-dave-1"));
    const cancelled = await orders.cancelOrder({ orderId: placed.order?.orderId ?? "" });
    expect(cancelled.order).toMatchObject({ status: OrderStatus.CANCELLED, cancellationReason: CancellationReason.CUSTOMER_REQUESTED });

    const again = await failure(orders.cancelOrder({ orderId: placed.order?.orderId ?? "" }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect((await failure(orders.cancelOrder({ orderId: randomUUID() }))).code).toBe(Code.NotFound);
  });

  describe("with payments running", () => {
    let payments: Client<typeof PaymentsService>;
    let pendingOrderId: string;

    beforeAll(async () => {
      // Placed while payments is down: its saga waits at the charge.
      pendingOrderId = (await orders.createOrder(order("erin", "watch-erin-1"))).order?.orderId ?? "";
      expect((await orders.getOrder({ orderId: pendingOrderId })).order?.status).toBe(OrderStatus.PENDING);
    });

    it("WatchOrder streams the order, then each status change, and ends at a terminal status", async () => {
      const stream = orders.watchOrder({ orderId: pendingOrderId });
      const seen: Order[] = [];
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done !== true && first.value.order !== undefined) seen.push(first.value.order);
      expect(seen.map((o) => o.status)).toEqual([OrderStatus.PENDING]);

      payments = grpcClient(PaymentsService, await start("payments"));
      for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
        if (next.value.order !== undefined) seen.push(next.value.order);
      }
      expect(seen.map((o) => o.status)).toEqual([OrderStatus.PENDING, OrderStatus.CONFIRMED]);
      expect(seen[1]?.paymentId).not.toBe("");
    }, startTimeoutMs);

    it("WatchOrder of a terminal order yields it once and ends; of an unknown order, NotFound", async () => {
      const seen: Order[] = [];
      for await (const message of orders.watchOrder({ orderId: pendingOrderId })) if (message.order) seen.push(message.order);
      expect(seen.map((o) => o.status)).toEqual([OrderStatus.CONFIRMED]);

      const unknown = await (async () => {
        for await (const _ of orders.watchOrder({ orderId: randomUUID() })) throw new Error("an unknown order streamed a message");
      })().then(
        () => new Error("the stream ended without an error"),
        (err: unknown) => ConnectError.from(err),
      );
      expect(unknown).toBeInstanceOf(ConnectError);
      expect((unknown as ConnectError).code).toBe(Code.NotFound);
    });

    it("a confirmed order cannot be cancelled", async () => {
      const error = await failure(orders.cancelOrder({ orderId: pendingOrderId }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toContain("confirmed");
    });

    it("GetPayment and ListPaymentsForOrder report the captured charge; unknown ids are NotFound or empty", async () => {
      const confirmed = (await orders.getOrder({ orderId: pendingOrderId })).order;
      const paymentId = confirmed?.paymentId ?? "";
      const { payment } = await payments.getPayment({ paymentId });
      expect(payment).toMatchObject({ paymentId, orderId: pendingOrderId, userId: "erin", status: PaymentStatus.CAPTURED, amount: { currencyCode: "EUR", amountMinor: 2500n } });

      const listed = await payments.listPaymentsForOrder({ orderId: pendingOrderId });
      expect(listed.payments.map((p) => [p.paymentId, p.status])).toEqual([[paymentId, PaymentStatus.CAPTURED]]);

      expect((await failure(payments.getPayment({ paymentId: randomUUID() }))).code).toBe(Code.NotFound);
      expect((await payments.listPaymentsForOrder({ orderId: randomUUID() })).payments).toEqual([]);
      expect((await failure(payments.getPayment({ paymentId: "nope" }))).code).toBe(Code.InvalidArgument);
    });
  });
});
