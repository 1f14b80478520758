// Client CPU per unary call, side by side: protomesh's balanced client (defaults: P2C, health
// checks, retry, breaker, deadline), a plain connect-node gRPC transport, and grpc-js with
// protobuf-es serializers. Every client runs in its own process against one loopback grpc-js
// server process, warms up, then measures process CPU over a fixed window.
//
//   npx tsx bench/client-cpu.ts [--warmup 5] [--seconds 10] [--concurrency 64]
import { fork } from "node:child_process";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { GetOrderRequestSchema, GetOrderResponseSchema, OrdersService, OrderStatus, type GetOrderRequest, type GetOrderResponse } from "../gen/shop/orders/v1/orders_pb.js";
import { closeClient, createOrdersClient } from "../clients/index.js";

const kinds = ["protomesh", "connect-node", "grpc-js"] as const;
type Kind = (typeof kinds)[number];

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "main" },
    kind: { type: "string" },
    port: { type: "string" },
    warmup: { type: "string", default: "5" },
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "64" },
  },
});

const orderId = "7d0b6c1e-9a52-4c1b-8f5e-2b1f6c3a9e10";

const definition = {
  getOrder: {
    path: "/shop.orders.v1.OrdersService/GetOrder",
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: GetOrderRequest) => Buffer.from(toBinary(GetOrderRequestSchema, m)),
    requestDeserialize: (b: Buffer) => fromBinary(GetOrderRequestSchema, b),
    responseSerialize: (m: GetOrderResponse) => Buffer.from(toBinary(GetOrderResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(GetOrderResponseSchema, b),
  },
} satisfies grpc.ServiceDefinition;

async function serve(): Promise<void> {
  const server = new grpc.Server();
  const response = create(GetOrderResponseSchema, {
    order: { orderId, userId: "user-42", status: OrderStatus.PENDING, lines: [{ sku: "SKU-1", quantity: 2 }], createdAt: timestampNow() },
  });
  server.addService(definition, {
    getOrder: (_call: grpc.ServerUnaryCall<GetOrderRequest, GetOrderResponse>, callback: grpc.sendUnaryData<GetOrderResponse>) => callback(null, response),
  });
  // Health is left unimplemented: protomesh's checker then treats the server as serving.
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  process.send?.({ port });
}

function caller(kind: Kind, port: number): { call: () => Promise<unknown>; close: () => void } {
  const request = create(GetOrderRequestSchema, { orderId });
  switch (kind) {
    case "protomesh": {
      const client = createOrdersClient({ target: `127.0.0.1:${port}` });
      return { call: () => client.getOrder(request), close: () => closeClient(client) };
    }
    case "connect-node": {
      const client = createClient(OrdersService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      return { call: () => client.getOrder(request), close: () => undefined };
    }
    case "grpc-js": {
      const Client = grpc.makeGenericClientConstructor(definition, "OrdersService");
      const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const getOrder = (client as unknown as Record<string, grpc.requestCallback<GetOrderResponse> & ((req: GetOrderRequest, cb: grpc.requestCallback<GetOrderResponse>) => void)>)["getOrder"]!.bind(client);
      return {
        call: () => new Promise((resolve, reject) => getOrder(request, (e, r) => (e ? reject(e) : resolve(r)))),
        close: () => client.close(),
      };
    }
  }
}

async function measure(kind: Kind, port: number): Promise<void> {
  const { call, close } = caller(kind, port);
  const concurrency = Number(values.concurrency);
  let calls = 0;
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      await call();
      calls++;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, Number(values.warmup) * 1000));
  const startCalls = calls;
  const startCpu = process.cpuUsage();
  const startAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, Number(values.seconds) * 1000));
  const cpu = process.cpuUsage(startCpu);
  const elapsedS = (performance.now() - startAt) / 1000;
  const measured = calls - startCalls;
  running = false;
  await Promise.all(loops);
  close();
  process.send?.({ kind, calls: measured, callsPerS: Math.round(measured / elapsedS), cpuUsPerCall: Math.round((cpu.user + cpu.system) / measured) });
}

function child<T>(args: string[]): { result: Promise<T>; kill: () => void } {
  const proc = fork(new URL(import.meta.url).pathname, args, { execArgv: process.execArgv });
  return {
    result: new Promise<T>((resolve, reject) => {
      proc.once("message", (m) => resolve(m as T));
      proc.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}`)));
    }),
    kill: () => proc.kill(),
  };
}

async function main(): Promise<void> {
  const server = child<{ port: number }>(["--role", "server"]);
  try {
    const { port } = await server.result;
    const rows = [];
    for (const kind of kinds) {
      const c = child<Record<string, unknown>>(["--role", "client", "--kind", kind, "--port", String(port), "--warmup", values.warmup, "--seconds", values.seconds, "--concurrency", values.concurrency]);
      rows.push(await c.result);
      c.kill();
    }
    console.table(rows);
  } finally {
    server.kill();
  }
}

if (values.role === "server") {
  await serve();
} else if (values.role === "client") {
  await measure(values.kind as Kind, Number(values.port));
} else {
  await main();
}
