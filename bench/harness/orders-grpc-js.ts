// OrdersService for grpc-js with protobuf-es serializers: the cheapest gRPC client and server
// on Node here, so the one load generator for every server, and the replicas behind the
// client benchmarks.
import type * as grpc from "@grpc/grpc-js";
import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  CreateOrderRequestSchema,
  CreateOrderResponseSchema,
  GetOrderRequestSchema,
  GetOrderResponseSchema,
} from "protomesh/gen/shop/orders/v1/orders_pb";

function method<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O) {
  return {
    path: `/shop.orders.v1.OrdersService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: MessageShape<O>) => Buffer.from(toBinary(output, m)),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  } as const;
}

export const ordersGrpcJs = {
  createOrder: method("CreateOrder", CreateOrderRequestSchema, CreateOrderResponseSchema),
  getOrder: method("GetOrder", GetOrderRequestSchema, GetOrderResponseSchema),
} satisfies grpc.ServiceDefinition;
