// Representative messages whose binary encoding is frozen at each contract release
// (contracts/golden/). Later code must still decode them: that is how a consumer running an
// older version sees our messages on the wire.
import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MoneySchema } from "../gen/shop/common/v1/money_pb.js";
import {
  CancellationReason,
  CreateOrderRequestSchema,
  OrderSchema,
  OrderStatus,
} from "../gen/shop/orders/v1/orders_pb.js";
import { OrderCancelledSchema, OrderPlacedSchema } from "../gen/shop/orders/v1/events_pb.js";
import { QuoteItemsResponseSchema } from "../gen/shop/inventory/v1/inventory_pb.js";
import { StockRejectedSchema, StockReservedSchema } from "../gen/shop/inventory/v1/events_pb.js";
import { PaymentCapturedSchema } from "../gen/shop/payments/v1/events_pb.js";

export interface GoldenFixture<Desc extends DescMessage = DescMessage> {
  schema: Desc;
  message: MessageShape<Desc>;
}

function fixture<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): GoldenFixture {
  return { schema, message };
}

const placedAt = timestampFromDate(new Date("2026-11-27T10:00:00Z"));
const orderId = "0b8f6a52-4c1e-4f0e-9a53-5b7c2f1d9e10";
const eur = (amountMinor: bigint) => create(MoneySchema, { currencyCode: "EUR", amountMinor });
const lines = [
  { sku: "SKU-1001", quantity: 2, unitPrice: eur(1250n) },
  { sku: "SKU-2002", quantity: 1, unitPrice: eur(9999n) },
];

export const goldenFixtures: GoldenFixture[] = [
  fixture(
    CreateOrderRequestSchema,
    create(CreateOrderRequestSchema, {
      userId: "user-42",
      items: [
        { sku: "SKU-1001", quantity: 2 },
        { sku: "SKU-2002", quantity: 1 },
      ],
      idempotencyKey: "checkout-7f3a9c",
      currencyCode: "EUR",
    }),
  ),
  fixture(
    OrderSchema,
    create(OrderSchema, {
      orderId,
      userId: "user-42",
      status: OrderStatus.CANCELLED,
      lines,
      total: eur(12499n),
      cancellationReason: CancellationReason.PAYMENT_DECLINED,
      createdAt: placedAt,
      updatedAt: placedAt,
    }),
  ),
  fixture(
    OrderPlacedSchema,
    create(OrderPlacedSchema, {
      eventId: "7d1f3c0e-2b4a-4d6e-8f10-1a2b3c4d5e6f",
      orderId,
      occurredAt: placedAt,
      userId: "user-42",
      lines,
      total: eur(12499n),
      deadline: timestampFromDate(new Date("2026-11-27T10:00:30Z")),
    }),
  ),
  fixture(
    OrderCancelledSchema,
    create(OrderCancelledSchema, {
      eventId: "5e0d2c1b-3a49-4f8e-9d7c-6b5a4f3e2d1c",
      orderId,
      occurredAt: placedAt,
      reason: CancellationReason.DEADLINE_EXCEEDED,
    }),
  ),
  fixture(
    StockReservedSchema,
    create(StockReservedSchema, {
      eventId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
      orderId,
      occurredAt: placedAt,
      lines: [{ sku: "SKU-1001", quantity: 2 }],
      userId: "user-42",
      amount: eur(12499n),
    }),
  ),
  fixture(
    StockRejectedSchema,
    create(StockRejectedSchema, {
      eventId: "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
      orderId,
      occurredAt: placedAt,
      shortages: [{ sku: "SKU-2002", requested: 1, available: 0 }],
    }),
  ),
  fixture(
    PaymentCapturedSchema,
    create(PaymentCapturedSchema, {
      eventId: "3e4f5a6b-7c8d-4e9f-8a1b-2c3d4e5f6a7b",
      orderId,
      occurredAt: placedAt,
      paymentId: "4f5a6b7c-8d9e-4f0a-9b2c-3d4e5f6a7b8c",
      amount: eur(12499n),
    }),
  ),
  fixture(
    QuoteItemsResponseSchema,
    create(QuoteItemsResponseSchema, {
      lines: [
        { sku: "SKU-1001", quantity: 2, unitPrice: eur(1250n), available: 40, sufficient: true, known: true },
        { sku: "SKU-404", quantity: 1, available: 0, sufficient: false, known: false },
      ],
      total: eur(2500n),
      allAvailable: false,
    }),
  ),
];
