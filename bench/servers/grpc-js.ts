// A bare grpc-js server with protobuf-es serializers; also the replicas of the client benchmarks.
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { CreateOrderResponseSchema, GetOrderResponseSchema, type CreateOrderRequest, type GetOrderRequest } from "protomesh/gen/shop/orders/v1/orders_pb";
import { ordersGrpcJs } from "../harness/orders-grpc-js.js";
import { fault, faulty, placeOrder } from "./orders-handler.js";

const unavailable = (e: unknown): grpc.ServiceError =>
  Object.assign(new Error(String(e)), { code: grpc.status.UNAVAILABLE, details: String(e), metadata: new grpc.Metadata() });

function unary<Req>(answer: (req: Req) => unknown) {
  return (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    if (!faulty()) {
      callback(null, answer(call.request));
      return;
    }
    fault().then(
      () => callback(null, answer(call.request)),
      (e: unknown) => callback(unavailable(e)),
    );
  };
}

export async function start(port: number): Promise<void> {
  const server = new grpc.Server();
  server.addService(ordersGrpcJs, {
    createOrder: unary((req: CreateOrderRequest) => create(CreateOrderResponseSchema, placeOrder(req.userId, req.items))),
    getOrder: unary((req: GetOrderRequest) => create(GetOrderResponseSchema, { order: placeOrder(req.orderId, []).order })),
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
}
