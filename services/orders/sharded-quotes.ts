// QuoteItems over sharded inventory (ADR 0105): a basket is split by `shardOf` of its SKUs, each
// part priced by its own shard at once, and the answers merged back in the basket's order, so
// CreateOrder sees one quote as from unsharded inventory.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { shardOf } from "@protomesh/clients";
import { QuoteItemsResponseSchema, type QuotedLine, type QuoteItemsRequestSchema, type QuoteItemsResponse } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { orderTotal } from "../money/money.js";

type QuoteRequest = MessageInitShape<typeof QuoteItemsRequestSchema>;

/** One shard's QuoteItems, by shard name. */
export type ShardQuoters = ReadonlyMap<string, (request: QuoteRequest) => Promise<QuoteItemsResponse>>;

/**
 * Prices a basket over every shard it touches. A shard that fails fails the quote with its code
 * (so an unavailable shard makes the basket unavailable, and the quote fallback applies) and a
 * message naming the shard.
 */
export function quoteAcrossShards(shards: ShardQuoters): (request: QuoteRequest) => Promise<QuoteItemsResponse> {
  const names = [...shards.keys()];
  return async (request) => {
    const items = request.items ?? [];
    const parts = new Map<string, number[]>();
    items.forEach((item, index) => {
      const shard = shardOf(item.sku ?? "", names) as string;
      parts.set(shard, [...(parts.get(shard) ?? []), index]);
    });
    const lines: QuotedLine[] = new Array<QuotedLine>(items.length);
    await Promise.all(
      [...parts].map(async ([shard, indexes]) => {
        const quote = shards.get(shard) as (request: QuoteRequest) => Promise<QuoteItemsResponse>;
        let answer: QuoteItemsResponse;
        try {
          answer = await quote({ currencyCode: request.currencyCode ?? "", items: indexes.map((index) => ({ sku: items[index]?.sku ?? "", quantity: items[index]?.quantity ?? 0 })) });
        } catch (error) {
          const cause = ConnectError.from(error);
          throw new ConnectError(`inventory shard ${shard}: ${cause.rawMessage}`, cause.code, cause.metadata, undefined, error);
        }
        indexes.forEach((index, position) => {
          const line = answer.lines[position];
          if (line === undefined) throw new ConnectError(`inventory shard ${shard} priced ${answer.lines.length} lines of ${indexes.length}`);
          lines[index] = line;
        });
      }),
    );
    const currencyCode = request.currencyCode ?? "";
    // Totalled from the merged lines, checked, rather than by adding the shards' own totals.
    const totalMinor = orderTotal(lines.filter((line) => line.known).map(({ sku, quantity, unitPrice }) => ({ sku, quantity, unitPriceMinor: unitPrice?.amountMinor ?? 0n })));
    return create(QuoteItemsResponseSchema, { lines, total: { currencyCode, amountMinor: totalMinor }, allAvailable: lines.every((line) => line.sufficient) });
  };
}
