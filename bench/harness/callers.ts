// The clients a load generator can drive, each built from a plain, serializable spec.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { closeClient, type ClientOptions } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { CreateOrderRequestSchema, GetOrderRequestSchema, OrdersService } from "protomesh/gen/shop/orders/v1/orders_pb";
import { ordersGrpcJs } from "./orders-grpc-js.js";

export type CallerSpec =
  | { kind: "grpc-js"; targets: string[]; roundRobin?: boolean; certDir?: string }
  | { kind: "connect-node"; target: string }
  | {
      kind: "protomesh";
      targets: string[];
      loadBalancing?: "p2c" | "round-robin";
      retry?: false;
      /** Retries are not bounded by a budget (ratio and floor set out of reach). */
      unlimitedBudget?: boolean;
      circuitBreaker?: false;
    };

/** A CreateOrder-sized request: two lines, an idempotency key, a currency (about 90 bytes). */
export const createOrderRequest = create(CreateOrderRequestSchema, {
  userId: "user-42",
  items: [
    { sku: "SKU-12345", quantity: 2 },
    { sku: "SKU-67890", quantity: 1 },
  ],
  idempotencyKey: "bench-0b5c2a7e-4f1d-4a8e-9a3b-6d2f1e0c9b87",
  currencyCode: "EUR",
});
const getOrderRequest = create(GetOrderRequestSchema, { orderId: "7d0b6c1e-9a52-4c1b-8f5e-2b1f6c3a9e10" });

export interface Caller {
  call(): Promise<unknown>;
  close(): void;
}

/** `method` "create" calls CreateOrder; "get" calls GetOrder, which is safe to retry. */
export function createCaller(spec: CallerSpec, method: "create" | "get" = "create"): Caller {
  switch (spec.kind) {
    case "grpc-js": {
      const credentials =
        spec.certDir === undefined
          ? grpc.credentials.createInsecure()
          : grpc.credentials.createSsl(
              readFileSync(join(spec.certDir, "ca.crt")),
              readFileSync(join(spec.certDir, "bench-client.key")),
              readFileSync(join(spec.certDir, "bench-client.crt")),
            );
      const target = spec.targets.length === 1 ? (spec.targets[0] as string) : `ipv4:${spec.targets.join(",")}`;
      const options: grpc.ChannelOptions = {
        ...(spec.certDir === undefined ? {} : { "grpc.ssl_target_name_override": "orders", "grpc.default_authority": "orders" }),
        ...(spec.roundRobin === true ? { "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) } : {}),
      };
      const client = new grpc.Client(target, credentials, options);
      const definition = method === "create" ? ordersGrpcJs.createOrder : ordersGrpcJs.getOrder;
      const request = method === "create" ? createOrderRequest : getOrderRequest;
      const metadata = new grpc.Metadata();
      return {
        call: () =>
          new Promise((resolve, reject) => {
            client.makeUnaryRequest(definition.path, definition.requestSerialize as (m: unknown) => Buffer, definition.responseDeserialize as (b: Buffer) => unknown, request, metadata, {}, (e, r) =>
              e ? reject(e) : resolve(r),
            );
          }),
        close: () => client.close(),
      };
    }
    case "connect-node": {
      const client = createConnectClient(OrdersService, createGrpcTransport({ baseUrl: `http://${spec.target}` }));
      return { call: () => (method === "create" ? client.createOrder(createOrderRequest) : client.getOrder(getOrderRequest)), close: () => undefined };
    }
    case "protomesh": {
      const options: ClientOptions = {
        target: spec.targets,
        loadBalancing: spec.loadBalancing ?? "p2c",
        ...(spec.retry === false ? { retry: false } : {}),
        ...(spec.unlimitedBudget === true ? { retryBudget: { ratio: 1_000, minRetriesPerSecond: 1_000_000 } } : {}),
        ...(spec.circuitBreaker === false ? { circuitBreaker: false } : {}),
      };
      const client = createOrdersClient(options);
      return { call: () => (method === "create" ? client.createOrder(createOrderRequest) : client.getOrder(getOrderRequest)), close: () => closeClient(client) };
    }
  }
}
