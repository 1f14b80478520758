// The one handler behind every server kind, and the fault switch the benchmarks flip.
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OrderStatus, type CreateOrderResponseSchema } from "protomesh/gen/shop/orders/v1/orders_pb";

export interface LineInput {
  sku: string;
  quantity: number;
}

export const state = { calls: 0, delayMs: 0, fail: false };

/** CreateOrder's answer: an order priced from its lines. */
export function placeOrder(userId: string, items: readonly LineInput[]): MessageInitShape<typeof CreateOrderResponseSchema> {
  state.calls++;
  const lines = items.map((i) => ({ sku: i.sku, quantity: i.quantity, unitPrice: { currencyCode: "EUR", amountMinor: 1250n } }));
  const total = lines.reduce((sum, l) => sum + BigInt(l.quantity) * 1250n, 0n);
  return {
    order: {
      orderId: "7d0b6c1e-9a52-4c1b-8f5e-2b1f6c3a9e10",
      userId,
      status: OrderStatus.PENDING,
      lines,
      total: { currencyCode: "EUR", amountMinor: total },
      createdAt: { seconds: 1_790_000_000n, nanos: 0 },
    },
    created: true,
  };
}

/** True when a fault is set: callers then await `fault()` before answering. */
export const faulty = (): boolean => state.delayMs > 0 || state.fail;

/** Waits the configured delay, then fails with Unavailable if told to (a failed call counts as served). */
export async function fault(): Promise<void> {
  if (state.delayMs > 0) await sleep(state.delayMs);
  if (state.fail) {
    state.calls++;
    throw new ConnectError("bench: failing on purpose", Code.Unavailable);
  }
}
