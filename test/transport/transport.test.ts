import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OrdersService, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import { PaymentsService } from "protomesh/gen/shop/payments/v1/payments_pb";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@protomesh/clients/health";
import { ORDER_ID, startApp, TestAppModule, trace, type RunningApp } from "./fixtures.js";

/** For calls that must fail: a response where an error belongs fails the test. */
function unexpectedSuccess(value: unknown): never {
  throw new Error(`expected an error, got ${JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
}

let app: RunningApp;
// Uncompressed unary gRPC takes the server's fast path; compressed gRPC goes through
// connect-node like everything else. Both must behave the same.
const transports: Record<string, () => Transport> = {
  grpc: () => createGrpcTransport({ baseUrl: app.baseUrl }),
  "grpc-gzip": () => createGrpcTransport({ baseUrl: app.baseUrl, sendCompression: compressionGzip, compressMinBytes: 0 }),
  connect: () => createConnectTransport({ baseUrl: app.baseUrl, httpVersion: "2" }),
  "grpc-web": () => createGrpcWebTransport({ baseUrl: app.baseUrl, httpVersion: "2" }),
};
const grpc = () => createClient(OrdersService, transports.grpc!());

beforeAll(async () => {
  app = await startApp(TestAppModule);
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  trace.length = 0;
});

const validCreate = { userId: "u1", items: [{ sku: "SKU-1", quantity: 1 }], idempotencyKey: "key-12345", currencyCode: "EUR" };

describe.each(Object.keys(transports))("over %s", (protocol) => {
  const client = () => createClient(OrdersService, transports[protocol]!());

  it("answers a unary call through guard, interceptor and handler", async () => {
    const headers: Headers[] = [];
    const res = await client().getOrder({ orderId: ORDER_ID }, { onHeader: (h) => headers.push(h) });
    expect(res.order?.orderId).toBe(ORDER_ID);
    expect(headers[0]?.get("x-intercepted")).toBe("GetOrder");
    expect(trace).toEqual([
      "guard GetOrder peer=- deadline=none",
      `handler getOrder protocol=${protocol.replace("-gzip", "")}`,
      "interceptor saw a message of GetOrder",
    ]);
  });

  it("streams server messages, and maps an error thrown mid-stream", async () => {
    const statuses: OrderStatus[] = [];
    for await (const res of client().watchOrder({ orderId: ORDER_ID })) {
      statuses.push(res.order?.status ?? OrderStatus.UNSPECIFIED);
    }
    expect(statuses).toEqual([OrderStatus.PENDING, OrderStatus.CONFIRMED]);
    expect(trace.filter((t) => t.startsWith("interceptor"))).toHaveLength(2);

    const failing = client().watchOrder({ orderId: ORDER_ID }, { headers: { "x-test-stream": "fail" } });
    const received: unknown[] = [];
    const error = await (async () => {
      for await (const res of failing) received.push(res);
    })().catch((e: unknown) => e);
    expect(received).toHaveLength(2);
    expect(ConnectError.from(error).code).toBe(Code.FailedPrecondition);
  });

  it("rejects an invalid request with InvalidArgument and violations, before the handler", async () => {
    const error = await client().getOrder({ orderId: "not-a-uuid" }).then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(Code.InvalidArgument);
    const [violations] = error.findDetails(ViolationsSchema);
    expect(violations?.violations[0]?.field?.elements[0]?.fieldName).toBe("order_id");
    expect(trace).toEqual([]);
  });
});

describe.each(["grpc", "grpc-gzip"])("errors over %s", (protocol) => {
  const grpc = () => createClient(OrdersService, transports[protocol]!());
  it.each([
    ["not-found", Code.NotFound, "no such user"],
    ["already-exists", Code.AlreadyExists, "order exists"],
    ["precondition", Code.FailedPrecondition, "order is confirmed"],
    ["unavailable", Code.Unavailable, "inventory is down"],
    ["crash", Code.Internal, "internal error"],
    ["object", Code.Internal, "internal error"],
    ["rpc-exception", Code.Unknown, "plain rpc exception"],
    ["rpc-exception-code", Code.ResourceExhausted, "slow down"],
    ["http-forbidden", Code.PermissionDenied, "no"],
    ["details", Code.InvalidArgument, "with details"],
  ])("a handler throwing %s reaches the client as %s", async (userId, code, message) => {
    const error = await grpc()
      .createOrder({ ...validCreate, userId })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect(error.code).toBe(code);
    expect(error.rawMessage).toBe(message);
    expect(error.rawMessage).not.toContain("[object Object]");
    expect(error.rawMessage).not.toContain("postgres");
  });

  it("keeps rich details of a ConnectError", async () => {
    const error = await grpc()
      .createOrder({ ...validCreate, userId: "details" })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.findDetails(ViolationsSchema)[0]?.violations[0]?.message).toBe("custom violation");
  });

  it.each([
    ["false", Code.PermissionDenied],
    ["forbidden", Code.PermissionDenied],
    ["unauthorized", Code.Unauthenticated],
  ])("a guard answering %s refuses with %s before the handler", async (deny, code) => {
    const error = await grpc()
      .getOrder({ orderId: ORDER_ID }, { headers: { "x-test-deny": deny } })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(code);
    expect(trace.some((t) => t.startsWith("handler"))).toBe(false);
  });
});

describe("the pipeline", () => {
  it("runs a pipe on the request", async () => {
    const res = await grpc().listOrders({ userId: "alice" });
    expect(res.orders[0]?.userId).toBe("ALICE");
    expect(trace).toContain("pipe");
  });

  it("does not serve handlers declared for other transports", async () => {
    const payments = createClient(PaymentsService, transports.grpc!());
    for (const call of [() => payments.getPayment({ paymentId: ORDER_ID }), () => payments.listPaymentsForOrder({ orderId: ORDER_ID })]) {
      const error = await call().then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
      expect(error.code).toBe(Code.Unimplemented);
    }
    expect(trace.filter((t) => t.startsWith("rogue"))).toEqual([]);
  });
});

describe.each(["grpc", "grpc-gzip", "connect"])("deadlines over %s", (protocol) => {
  const grpc = () => createClient(OrdersService, transports[protocol]!());
  it("gives the handler its remaining budget", async () => {
    const res = await grpc().listOrders({}, { timeoutMs: 5000 });
    expect(res.nextPageToken).toBe("true");
    expect(trace[0]).toContain("deadline=set");
  });

  it("ends a call past its deadline with DeadlineExceeded even if the handler ignores it", async () => {
    const started = Date.now();
    const error = await grpc()
      .cancelOrder({ orderId: ORDER_ID }, { timeoutMs: 300, headers: { "x-test-slow": "1" } })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe("limits", () => {
  it("refuses a request over readMaxBytes with ResourceExhausted", async () => {
    const small = await startApp(TestAppModule, { readMaxBytes: 1024 });
    try {
      const client = createClient(OrdersService, createGrpcTransport({ baseUrl: small.baseUrl }));
      const error = await client.listOrders({ pageToken: "x".repeat(2000) }).then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
      expect(error.code).toBe(Code.ResourceExhausted);
    } finally {
      await small.close();
    }
  });
});

describe("health", () => {
  it("follows the app's readiness probes", async () => {
    let databaseUp = true;
    app.transport.health.addProbe("database", () => databaseUp);
    const health = createClient(Health, transports.grpc!());
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: "shop.orders.v1.OrdersService" })).status).toBe(ServingStatus.SERVING);
    databaseUp = false;
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    const list = await health.list({});
    expect(Object.keys(list.statuses).sort()).toEqual(["", "shop.inventory.v1.InventoryService", "shop.orders.v1.OrdersService"]);
    const unknown = await health.check({ service: "nope.Service" }).then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(unknown.code).toBe(Code.NotFound);
    databaseUp = true;
  });
});

describe("shutdown", () => {
  it("ends calls still running at the shutdown bound with Unavailable, then refuses connections", async () => {
    const own = await startApp(TestAppModule, { shutdownTimeoutMs: 300 });
    const client = createClient(OrdersService, createGrpcTransport({ baseUrl: own.baseUrl }));
    const stream = client.watchOrder({ orderId: ORDER_ID }, { headers: { "x-test-stream": "forever" } });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const started = Date.now();
    const closed = own.close();
    const rest = (async () => {
      for (let r = await it.next(); r.done !== true; r = await it.next());
    })().then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
    const error = await rest;
    expect(error instanceof ConnectError ? error.code : "ok").toBe(Code.Unavailable);
    const after = await createClient(OrdersService, createGrpcTransport({ baseUrl: own.baseUrl }))
      .getOrder({ orderId: ORDER_ID })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(after.code).toBe(Code.Unavailable);
  });
});
