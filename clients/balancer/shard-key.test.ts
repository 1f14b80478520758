import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { InventoryService, type GetStockRequest } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { shardOf } from "./shard-hash.js";
import { SHARD_HEADER, shardKeyInterceptor } from "./shard-key.js";

const shards = ["inventory-0", "inventory-1"];

// An in-memory server that answers with the shard header it received (no balancer in between to remove it).
function client() {
  const transport = createRouterTransport(
    ({ service }) => {
      service(InventoryService, {
        getStock: (req, ctx) => ({ item: { sku: req.sku, name: ctx.requestHeader.get(SHARD_HEADER) ?? "" } }),
      });
    },
    { transport: { interceptors: [shardKeyInterceptor({ shards, keys: { GetStock: (r: GetStockRequest) => r.sku } })] } },
  );
  return createClient(InventoryService, transport);
}

describe("shardKeyInterceptor", () => {
  it("names the shard that owns the request's key", async () => {
    for (const sku of ["SKU-0001", "SKU-0002", "SKU-0003", "SKU-0004"]) {
      const { item } = await client().getStock({ sku });
      expect(item?.name).toBe(shardOf(sku, shards));
    }
  });

  it("refuses an empty key with InvalidArgument and a method without a key with Unimplemented", async () => {
    const empty = await client().getStock({ sku: "" }).catch((e: unknown) => ConnectError.from(e));
    expect(empty).toMatchObject({ code: Code.InvalidArgument, rawMessage: "GetStock: the shard key is empty" });
    const unkeyed = await client().setStock({ sku: "SKU-0001" }).catch((e: unknown) => ConnectError.from(e));
    expect(unkeyed).toMatchObject({ code: Code.Unimplemented });
  });

  it("needs a non-empty list of unique shard names", () => {
    expect(() => shardKeyInterceptor({ shards: [], keys: {} })).toThrow(/non-empty list of unique names/);
    expect(() => shardKeyInterceptor({ shards: ["a", "a"], keys: {} })).toThrow(/non-empty list of unique names/);
  });
});
