// A handler may answer with a plain init object. On the lean gRPC path it becomes a message only
// when an interceptor reads it, and the finished call is let go of before its trailers are sent;
// these calls check that interceptors still see and replace a real message there and that the
// handler's headers and trailers arrive, exactly as on connect-node's path (the gzip transport
// takes that one). An interceptor may also pass on a spread copy of the request or answer it
// got: every property must carry over.
import { create, isMessage } from "@bufbuild/protobuf";
import { createClient, type Interceptor, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { compressionGzip, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindService, createConnectServer, type ConnectServer } from "@protomesh/server";
import { GetOrderRequestSchema, GetOrderResponseSchema, OrdersService, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";

const ORDER_ID = "7d0b6c1e-9a52-4c1b-8f5e-2b1f6c3a9e10";
const REPLACED_ID = "0b7c2f1a-1d3e-4b5f-9a6c-7d8e9f0a1b2c";

// What each interceptor saw of the handler's answer, per call.
const seen: string[] = [];

// Reads the answer when the call's x-test header says "read", replaces it for "replace".
// Spreads them for "spread": the request with another order id, the answer as it is.
const inspecting: Interceptor = (next) => async (req) => {
  if (req.stream) return next(req);
  const mode = req.header.get("x-test");
  const res = await next(mode === "spread" ? { ...req, message: create(GetOrderRequestSchema, { orderId: REPLACED_ID }) } : req);
  if (res.stream) return res;
  if (mode === "spread") return { ...res };
  if (mode === "read") {
    const message = res.message as { order?: { orderId: string } };
    seen.push(`${isMessage(res.message, GetOrderResponseSchema) ? "message" : "not a message"} ${message.order?.orderId ?? "-"}`);
  }
  if (mode === "replace") {
    // Built field by field: a spread would read the handler's message first.
    const replaced: UnaryResponse = {
      stream: false,
      service: res.service,
      method: res.method,
      header: res.header,
      trailer: res.trailer,
      message: create(GetOrderResponseSchema, { order: { orderId: REPLACED_ID, status: OrderStatus.CANCELLED } }),
    };
    return replaced;
  }
  return res;
};

// Inside `inspecting`: records what a spread request carried on.
const recording: Interceptor = (next) => async (req) => {
  if (!req.stream && req.header.get("x-test") === "spread") {
    seen.push(
      [
        `header ${req.header.get("x-test")}`,
        `url ${new URL(req.url).pathname}`,
        `signal ${req.signal instanceof AbortSignal && !req.signal.aborted}`,
        `contextValues ${typeof req.contextValues.get === "function"}`,
        `method ${req.method.name}`,
        `order ${(req.message as unknown as { orderId: string }).orderId}`,
      ].join(", "),
    );
  }
  return next(req);
};

let server: ConnectServer;
let baseUrl: string;

beforeAll(async () => {
  server = createConnectServer(
    [
      bindService(OrdersService, {
        // A plain init object, nested messages plain too.
        getOrder: (req, context) => {
          context.responseHeader.set("x-served-by", "test");
          context.responseTrailer.set("x-order-count", "1");
          return { order: { orderId: req.orderId, userId: "owner", status: OrderStatus.CONFIRMED, lines: [{ sku: "SKU-1", quantity: 2 }] } };
        },
        createOrder: () => ({}),
        listOrders: () => ({}),
        cancelOrder: () => ({}),
        async *watchOrder() {},
      }),
    ],
    { host: "127.0.0.1", port: 0, interceptors: [inspecting, recording] },
  );
  const address = await server.listen();
  baseUrl = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  await server.close();
});

const transports: Record<string, () => Transport> = {
  "grpc (lean path)": () => createGrpcTransport({ baseUrl }),
  "grpc-gzip (connect-node)": () => createGrpcTransport({ baseUrl, sendCompression: compressionGzip, compressMinBytes: 0 }),
};

describe.each(Object.keys(transports))("over %s", (name) => {
  const client = () => createClient(OrdersService, transports[name]!());

  it("answers from the handler's init object when no interceptor reads it", async () => {
    const res = await client().getOrder({ orderId: ORDER_ID });
    expect(res.order?.orderId).toBe(ORDER_ID);
    expect(res.order?.userId).toBe("owner");
    expect(res.order?.status).toBe(OrderStatus.CONFIRMED);
    expect(res.order?.lines.map((l) => [l.sku, l.quantity])).toEqual([["SKU-1", 2]]);
  });

  it("sends the handler's response headers and trailers with its answer", async () => {
    const headers: Headers[] = [];
    const trailers: Headers[] = [];
    await client().getOrder({ orderId: ORDER_ID }, { onHeader: (h) => headers.push(h), onTrailer: (t) => trailers.push(t) });
    expect(headers[0]?.get("x-served-by")).toBe("test");
    expect(trailers[0]?.get("x-order-count")).toBe("1");
  });

  it("gives an interceptor that reads the answer a message of the method's output", async () => {
    seen.length = 0;
    const res = await client().getOrder({ orderId: ORDER_ID }, { headers: { "x-test": "read" } });
    expect(seen).toEqual([`message ${ORDER_ID}`]);
    expect(res.order?.userId).toBe("owner");
    expect(res.order?.lines).toHaveLength(1);
  });

  it("sends the answer an interceptor put in the handler's place", async () => {
    const res = await client().getOrder({ orderId: ORDER_ID }, { headers: { "x-test": "replace" } });
    expect(res.order?.orderId).toBe(REPLACED_ID);
    expect(res.order?.status).toBe(OrderStatus.CANCELLED);
    expect(res.order?.userId).toBe("");
  });

  it("carries every property of a spread request and answer on", async () => {
    seen.length = 0;
    const trailers: Headers[] = [];
    const res = await client().getOrder({ orderId: ORDER_ID }, { headers: { "x-test": "spread" }, onTrailer: (t) => trailers.push(t) });
    expect(seen).toEqual([`header spread, url /shop.orders.v1.OrdersService/GetOrder, signal true, contextValues true, method GetOrder, order ${REPLACED_ID}`]);
    expect(res.order?.orderId).toBe(REPLACED_ID);
    expect(res.order?.userId).toBe("owner");
    expect(trailers[0]?.get("x-order-count")).toBe("1");
  });
});
