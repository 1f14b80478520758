// The event the relay benchmark writes and publishes: an OrderPlaced with two lines, as the
// orders service writes it, on a stream of its own in the benchmark's private nats-server.
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { OrderPlacedSchema } from "protomesh/gen/shop/orders/v1/events_pb";
import type { StreamSpec } from "@protomesh/messaging";

export const benchStream: StreamSpec = { name: "BENCH_RELAY", subjects: ["bench.relay.>"] };
export const benchSubject = "bench.relay.OrderPlaced";

/** An OrderPlaced event for order `orderId` (about 150 bytes encoded). */
export function orderPlaced(eventId: string, orderId: string) {
  return create(OrderPlacedSchema, {
    eventId,
    orderId,
    occurredAt: timestampNow(),
    userId: "user-42",
    lines: [
      { sku: "SKU-12345", quantity: 2, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } },
      { sku: "SKU-67890", quantity: 1, unitPrice: { currencyCode: "EUR", amountMinor: 9900n } },
    ],
    total: { currencyCode: "EUR", amountMinor: 12400n },
    deadline: timestampNow(),
  });
}

/** Milliseconds on a clock every process on the machine shares (sub-ms resolution). */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();
