import type { ServiceImpl } from "@connectrpc/connect";
import { Inject } from "@nestjs/common";
import { ConnectService } from "@protomesh/server/nest";
import { PaymentsService, type GetPaymentRequest, type ListPaymentsForOrderRequest } from "protomesh/gen/shop/payments/v1/payments_pb";
import type { createPaymentReads } from "./charges.js";
import { PAYMENT_READS } from "./payments.tokens.js";

@ConnectService(PaymentsService)
export class PaymentsController implements ServiceImpl<typeof PaymentsService> {
  constructor(@Inject(PAYMENT_READS) private readonly payments: ReturnType<typeof createPaymentReads>) {}

  async getPayment(request: GetPaymentRequest) {
    return { payment: await this.payments.getPayment(request.paymentId) };
  }

  async listPaymentsForOrder(request: ListPaymentsForOrderRequest) {
    return { payments: await this.payments.listPaymentsForOrder(request.orderId) };
  }
}
