// Stock lookups over NATS request/reply (Nest's NATS transport): QuoteItems answered by whichever
// inventory replica the queue group picks, no address or balancer needed (ADR 0052). Payloads
// are the contract's messages in protobuf JSON, so int64 prices survive Nest's JSON framing.
import type { Code } from "@connectrpc/connect";

/**
 * The subject inventory answers QuoteItems on, named after the RPC it mirrors. It must stay
 * outside every JetStream stream's subjects (SHOP_INVENTORY takes "shop.inventory.v1.>"): a
 * stream would store each request and answer it with a publish acknowledgement.
 */
export const STOCK_LOOKUP_SUBJECT = "rpc.shop.inventory.v1.InventoryService.QuoteItems";

/** Every inventory replica subscribes in this queue group: one of them answers each request. */
export const INVENTORY_QUEUE_GROUP = "inventory";

/** What a replica sends back instead of a response when the lookup fails. */
export interface StockLookupFailure {
  code: Code;
  message: string;
}

export function isStockLookupFailure(value: unknown): value is StockLookupFailure {
  return typeof value === "object" && value !== null && typeof (value as StockLookupFailure).code === "number" && typeof (value as StockLookupFailure).message === "string";
}
