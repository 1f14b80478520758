// Clients that share no generated code with the server: grpc-js with proto-loader reading
// proto/, and buf curl knowing nothing but what server reflection tells it.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORDER_ID, startApp, TestAppModule, type RunningApp } from "./fixtures.js";

const run = promisify(execFile);
let app: RunningApp;

beforeAll(async () => {
  app = await startApp(TestAppModule);
});
afterAll(async () => {
  await app.close();
});

type Callback = (error: grpc.ServiceError | null, response?: Record<string, unknown>) => void;
type OrdersStub = grpc.Client & Record<string, (req: object, cb: Callback) => void> & {
  watchOrder(req: object): grpc.ClientReadableStream<Record<string, unknown>>;
};

function ordersStub(): OrdersStub {
  const definition = protoLoader.loadSync("shop/orders/v1/orders.proto", {
    includeDirs: ["proto", "proto-vendor"],
    longs: String,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    shop: { orders: { v1: { OrdersService: new (address: string, credentials: grpc.ChannelCredentials) => OrdersStub } } };
  };
  return new loaded.shop.orders.v1.OrdersService(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
}

function unary(stub: OrdersStub, method: string, req: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    stub[method]!(req, (error, response) => (error === null ? resolve(response ?? {}) : reject(error)));
  });
}

describe("@grpc/grpc-js with proto-loader", () => {
  it("calls a unary method", async () => {
    const stub = ordersStub();
    try {
      const res = await unary(stub, "getOrder", { orderId: ORDER_ID });
      expect(res.order).toMatchObject({ orderId: ORDER_ID, status: "ORDER_STATUS_PENDING" });
    } finally {
      stub.close();
    }
  });

  it("receives status codes, messages and validation details", async () => {
    const stub = ordersStub();
    try {
      const notFound = await unary(stub, "getOrder", { orderId: "00000000-0000-4000-8000-000000000000" }).catch((e: grpc.ServiceError) => e);
      expect(notFound).toMatchObject({ code: grpc.status.NOT_FOUND, details: "order 00000000-0000-4000-8000-000000000000 not found" });
      const invalid = (await unary(stub, "getOrder", { orderId: "nope" }).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(invalid.metadata.get("grpc-status-details-bin")).toHaveLength(1);
    } finally {
      stub.close();
    }
  });

  it("reads a server stream", async () => {
    const stub = ordersStub();
    try {
      const statuses: unknown[] = [];
      for await (const res of stub.watchOrder({ orderId: ORDER_ID }) as AsyncIterable<{ order: { status: string } }>) {
        statuses.push(res.order.status);
      }
      expect(statuses).toEqual(["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"]);
    } finally {
      stub.close();
    }
  });
});

describe("buf curl with server reflection only", () => {
  const buf = (...args: string[]) => run("node_modules/.bin/buf", ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args]);

  it.each(["grpc-v1", "grpc-v1alpha"])("lists services and calls a method over %s reflection", async (reflectProtocol) => {
    const list = await buf("--reflect-protocol", reflectProtocol, "--list-services", app.baseUrl);
    expect(list.stdout.split("\n")).toEqual(expect.arrayContaining(["shop.orders.v1.OrdersService", "shop.inventory.v1.InventoryService", "grpc.health.v1.Health"]));
    const res = await buf(
      "--reflect-protocol",
      reflectProtocol,
      "-d",
      JSON.stringify({ orderId: ORDER_ID }),
      `${app.baseUrl}/shop.orders.v1.OrdersService/GetOrder`,
    );
    expect(JSON.parse(res.stdout)).toMatchObject({ order: { orderId: ORDER_ID, status: "ORDER_STATUS_PENDING" } });
  });

  it("lists methods and checks health without a schema", async () => {
    const res = await buf("--list-methods", app.baseUrl);
    expect(res.stdout).toContain("shop.orders.v1.OrdersService/WatchOrder");
    const health = await buf("-d", "{}", `${app.baseUrl}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
  });
});
