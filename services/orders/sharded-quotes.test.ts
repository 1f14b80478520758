import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { shardOf } from "@protomesh/clients";
import { QuoteItemsResponseSchema, type QuoteItemsResponse } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { isAmountOutOfRange } from "../money/money.js";
import { quoteAcrossShards } from "./sharded-quotes.js";

const shards = ["inventory-0", "inventory-1"];
const skus = Array.from({ length: 8 }, (_, i) => `SKU-${i}`);
const price = (sku: string) => BigInt(100 + Number(sku.slice(4)));

/** A shard that prices its own SKUs (1 unit available each) and records what it was asked. */
function fakeShard(name: string, asked: string[][]) {
  return async (request: { items?: { sku?: string; quantity?: number }[] }): Promise<QuoteItemsResponse> => {
    const items = (request.items ?? []).map((item) => ({ sku: item.sku ?? "", quantity: item.quantity ?? 0 }));
    asked.push(items.map((item) => item.sku));
    for (const item of items) if (shardOf(item.sku, shards) !== name) throw new ConnectError(`${item.sku} is not mine`, Code.FailedPrecondition);
    const lines = items.map((item) => ({ ...item, unitPrice: { currencyCode: "EUR", amountMinor: price(item.sku) }, available: 1, sufficient: item.quantity <= 1, known: true }));
    const total = lines.reduce((sum, line) => sum + line.unitPrice.amountMinor * BigInt(line.quantity), 0n);
    return create(QuoteItemsResponseSchema, { lines, total: { currencyCode: "EUR", amountMinor: total }, allAvailable: lines.every((line) => line.sufficient) });
  };
}

describe("quotes over inventory shards", () => {
  it("asks each shard for its own SKUs only and merges the answers in the basket's order", async () => {
    const asked = new Map(shards.map((name) => [name, [] as string[][]]));
    const quote = quoteAcrossShards(new Map(shards.map((name) => [name, fakeShard(name, asked.get(name) ?? [])])));
    const items = skus.map((sku, i) => ({ sku, quantity: 1 + (i % 2) }));
    const answer = await quote({ items, currencyCode: "EUR" });
    expect(answer.lines.map((line) => line.sku)).toEqual(skus);
    expect(answer.total?.amountMinor).toBe(items.reduce((sum, item) => sum + price(item.sku) * BigInt(item.quantity), 0n));
    expect(answer.allAvailable).toBe(false);
    for (const name of shards) {
      expect(asked.get(name)).toEqual([skus.filter((sku) => shardOf(sku, shards) === name)]);
    }
  });

  it("totals the merged lines itself, refusing a shard's price outside the contract's bounds", async () => {
    const rogue = async (request: { items?: { sku?: string; quantity?: number }[] }): Promise<QuoteItemsResponse> => {
      const lines = (request.items ?? []).map(({ sku = "", quantity = 0 }) => ({ sku, quantity, unitPrice: { currencyCode: "EUR", amountMinor: -5000n }, available: 9, sufficient: true, known: true }));
      return create(QuoteItemsResponseSchema, { lines, total: { currencyCode: "EUR", amountMinor: 0n }, allAvailable: true });
    };
    const quote = quoteAcrossShards(new Map([["inventory-0", fakeShard("inventory-0", [])], ["inventory-1", rogue]]));
    const sku = skus.find((candidate) => shardOf(candidate, shards) === "inventory-1") ?? "";
    const error: unknown = await quote({ items: [{ sku, quantity: 3 }], currencyCode: "EUR" }).catch((e: unknown) => e);
    expect(isAmountOutOfRange(error) ? error.field : error).toBe(`unit_price of SKU ${sku}`);
  });

  it("fails with the failing shard's code and name", async () => {
    const down = async (): Promise<QuoteItemsResponse> => {
      throw new ConnectError("connection refused", Code.Unavailable);
    };
    const quote = quoteAcrossShards(new Map([["inventory-0", fakeShard("inventory-0", [])], ["inventory-1", down]]));
    const error = await quote({ items: skus.map((sku) => ({ sku, quantity: 1 })), currencyCode: "EUR" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toMatchObject({ code: Code.Unavailable, rawMessage: "inventory shard inventory-1: connection refused" });
  });
});
