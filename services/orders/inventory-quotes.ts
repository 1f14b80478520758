// How orders prices a basket: inventory's answer (over gRPC or NATS), remembered per SKU; while
// inventory cannot answer, the remembered answers within QUOTE_FALLBACK_MAX_AGE_MS (ADR 0053).
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ReadThroughCache } from "@protomesh/cache";
import { UnavailableError } from "@protomesh/server";
import { QuoteItemsResponseSchema, type QuotedLine, type QuotedLineSchema, type QuoteItemsRequestSchema, type QuoteItemsResponse } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { orderTotal, type PricedLine } from "../money/money.js";
import type { QuoteItems, StaleQuote } from "./orders.js";

/** Codes that mean "inventory cannot answer now", as opposed to "inventory said no". */
const INVENTORY_DOWN = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted]);

/** Inventory's last answer per SKU and currency; entries expire at the fallback's age bound. */
export type LastQuotes = ReadThroughCache<QuotedLine>;

/** Where last answers are kept; the key is "<currency>:<SKU>". */
export const LAST_QUOTES_NAMESPACE = "orders:last-quote";

const lineKey = (currencyCode: string, sku: string) => `${currencyCode}:${sku}`;

/** Inventory's QuoteItems, however orders reaches it (a client, the shards, NATS request/reply). */
export type FetchQuote = (request: MessageInitShape<typeof QuoteItemsRequestSchema>) => Promise<QuoteItemsResponse>;

/**
 * Asks inventory through `fetchQuote`; remembers the priced lines in `lastQuotes`. When inventory
 * cannot answer (its circuit is open, it is unavailable or too slow), answers from `lastQuotes`
 * if every SKU of the basket has a remembered price, marked stale with the oldest price's age;
 * otherwise fails with Unavailable as before. Without `lastQuotes` there is no fallback.
 */
export function quoteWithFallback(fetchQuote: FetchQuote, lastQuotes: LastQuotes | undefined): QuoteItems {
  return async (request) => {
    try {
      const quote = await fetchQuote(request);
      const currencyCode = request.currencyCode ?? "";
      await lastQuotes?.put(new Map(quote.lines.filter((line) => line.known).map((line) => [lineKey(currencyCode, line.sku), line])));
      return quote;
    } catch (error) {
      const connectError = ConnectError.from(error);
      if (!INVENTORY_DOWN.has(connectError.code)) throw error;
      const stale = lastQuotes === undefined ? undefined : await fromLastQuotes(request, lastQuotes);
      if (stale !== undefined) return stale;
      throw new UnavailableError(`inventory is unavailable (${connectError.rawMessage}); the order was not placed, retry later`, { cause: error });
    }
  };
}

async function fromLastQuotes(request: MessageInitShape<typeof QuoteItemsRequestSchema>, lastQuotes: LastQuotes): Promise<StaleQuote | undefined> {
  const currencyCode = request.currencyCode ?? "";
  const items = (request.items ?? []).map((item) => ({ sku: item.sku ?? "", quantity: item.quantity ?? 0 }));
  const remembered = await lastQuotes.peekMany(items.map((item) => lineKey(currencyCode, item.sku)));
  let ageMs = 0;
  const lines: MessageInitShape<typeof QuotedLineSchema>[] = [];
  const priced: PricedLine[] = [];
  for (const { sku, quantity } of items) {
    const entry = remembered.get(lineKey(currencyCode, sku));
    if (entry === undefined) return undefined;
    const amountMinor = entry.value.unitPrice?.amountMinor ?? 0n;
    ageMs = Math.max(ageMs, entry.ageMs);
    priced.push({ sku, quantity, unitPriceMinor: amountMinor });
    // Availability is as inventory last reported it; the reservation decides when OrderPlaced arrives.
    lines.push({ sku, quantity, unitPrice: { currencyCode, amountMinor }, available: entry.value.available, sufficient: entry.value.available >= quantity, known: true });
  }
  return {
    kind: "stale",
    ageMs,
    quote: create(QuoteItemsResponseSchema, { lines, total: { currencyCode, amountMinor: orderTotal(priced) }, allAvailable: lines.every((line) => line.sufficient === true) }),
  };
}
