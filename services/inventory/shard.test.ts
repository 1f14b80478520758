import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { shardOf } from "@protomesh/clients";
import { SetStockRequestSchema, StockItemSchema } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { loadInventoryConfig } from "./config.js";
import { ownsSku, shardStockStore } from "./shard.js";
import type { StockStore } from "./stock.js";

const shards = ["inventory-0", "inventory-1"];
const skus = Array.from({ length: 20 }, (_, i) => `SKU-${i}`);
const foreign = skus.find((sku) => shardOf(sku, shards) === "inventory-0") as string;
const own = skus.find((sku) => shardOf(sku, shards) === "inventory-1") as string;

describe("an inventory shard", () => {
  it("owns exactly the SKUs shardOf gives it; an unsharded inventory owns every SKU", () => {
    for (const sku of skus) expect(ownsSku({ name: "inventory-1", shards }, sku)).toBe(shardOf(sku, shards) === "inventory-1");
    expect(skus.every((sku) => ownsSku(undefined, sku))).toBe(true);
  });

  it("refuses another shard's SKU with FailedPrecondition naming the owner, without touching the store", async () => {
    const touched: string[] = [];
    const item = create(StockItemSchema);
    const record = async (sku: string) => {
      touched.push(sku);
      return item;
    };
    const store = { getStock: record, setStock: (request: { sku: string }) => record(request.sku) } as unknown as StockStore;
    const shard = shardStockStore(store, { name: "inventory-1", shards });
    const refused = await shard.getStock(foreign).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: Code.FailedPrecondition });
    expect(String(refused)).toContain(`${foreign} belongs to shard inventory-0; this is shard inventory-1`);
    await expect(shard.setStock(create(SetStockRequestSchema, { sku: foreign }))).rejects.toThrow("belongs to shard inventory-0");
    await shard.getStock(own);
    expect(touched).toEqual([own]);
  });

  it("is configured by INVENTORY_SHARD and INVENTORY_SHARDS together", () => {
    expect(loadInventoryConfig({ INVENTORY_SHARD: "inventory-1", INVENTORY_SHARDS: "inventory-0,inventory-1" }).shard).toEqual({ name: "inventory-1", shards });
    expect(loadInventoryConfig({}).shard).toBeUndefined();
    expect(() => loadInventoryConfig({ INVENTORY_SHARD: "inventory-1" })).toThrow("set INVENTORY_SHARD and INVENTORY_SHARDS together");
    expect(() => loadInventoryConfig({ INVENTORY_SHARD: "inventory-2", INVENTORY_SHARDS: "inventory-0,inventory-1" })).toThrow("is not one of INVENTORY_SHARDS");
    expect(() => loadInventoryConfig({ INVENTORY_SHARD: "a", INVENTORY_SHARDS: "a,B.1" })).toThrow("is not a shard name");
  });
});
