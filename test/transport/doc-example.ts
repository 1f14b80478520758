import "reflect-metadata";
import { Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { ConnectService, ConnectTransport, type ConnectTransportOptions } from "@protomesh/server/nest";
import { NotFoundError } from "@protomesh/server";
import {
  PaymentStatus,
  PaymentsService,
  type GetPaymentRequest,
  type ListPaymentsForOrderRequest,
} from "protomesh/gen/shop/payments/v1/payments_pb";

const payments = [{ paymentId: "7d0f4f0e-5f5e-4c1a-9a57-1f1d6a0b2c3d", orderId: "0b6f1c2e-3d4a-4b5c-8d9e-0f1a2b3c4d5e", status: PaymentStatus.CAPTURED }];

// The descriptor types the class: a missing or mistyped method does not compile.
@ConnectService(PaymentsService)
export class PaymentsController implements ServiceImpl<typeof PaymentsService> {
  getPayment(req: GetPaymentRequest) {
    const payment = payments.find((p) => p.paymentId === req.paymentId);
    if (payment === undefined) {
      throw new NotFoundError(`payment ${req.paymentId} not found`);
    }
    return { payment };
  }

  listPaymentsForOrder(req: ListPaymentsForOrderRequest, ctx: HandlerContext) {
    ctx.signal.throwIfAborted();
    return { payments: payments.filter((p) => p.orderId === req.orderId) };
  }
}

@Module({ controllers: [PaymentsController] })
export class PaymentsModule {}

export async function main(options: ConnectTransportOptions = { port: 50051 }) {
  const transport = new ConnectTransport(options);
  const app = await NestFactory.createMicroservice(PaymentsModule, { strategy: transport, logger: false });
  transport.health.addProbe("database", () => true);
  app.enableShutdownHooks();
  await app.listen();
  return { app, transport };
}
