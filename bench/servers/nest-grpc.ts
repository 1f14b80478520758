// Nest's built-in gRPC transport (grpc-js + proto-loader), as a Nest user would set it up.
import "reflect-metadata";
import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { GrpcMethod, Transport } from "@nestjs/microservices";
import { placeOrder, type LineInput } from "./orders-handler.js";

@Controller()
class OrdersController {
  @GrpcMethod("OrdersService", "CreateOrder")
  createOrder(req: { userId: string; items?: LineInput[] }) {
    const { order, created } = placeOrder(req.userId, req.items ?? []);
    // proto-loader takes int64 as a number or a string, not a bigint.
    const money = (m: { currencyCode?: string; amountMinor?: bigint } | undefined) => ({ currencyCode: m?.currencyCode, amountMinor: Number(m?.amountMinor) });
    return {
      created,
      order: {
        ...order,
        lines: order?.lines?.map((l) => ({ ...l, unitPrice: money(l.unitPrice) })),
        total: money(order?.total),
        createdAt: { seconds: Number(order?.createdAt?.seconds), nanos: 0 },
      },
    };
  }
}

@Module({ controllers: [OrdersController] })
class OrdersModule {}

export async function start(port: number): Promise<void> {
  const options = {
    url: `127.0.0.1:${port}`,
    package: "shop.orders.v1",
    protoPath: "shop/orders/v1/orders.proto",
    loader: { keepCase: false, includeDirs: ["proto", "proto-vendor"] },
  };
  await (await NestFactory.createMicroservice(OrdersModule, { transport: Transport.GRPC, options, logger: false })).listen();
}
