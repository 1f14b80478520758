import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ItemService, type GetItemRequest } from "../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { shardOf } from "./shard-hash.js";
import { SHARD_HEADER, shardKeyInterceptor } from "./shard-key.js";

const shards = ["items-0", "items-1"];

// An in-memory server that answers with the shard header it received (no balancer in between to remove it).
function client() {
  const transport = createRouterTransport(
    ({ service }) => {
      service(ItemService, {
        getItem: (req, ctx) => ({ item: { itemId: req.itemId, ownerId: ctx.requestHeader.get(SHARD_HEADER) ?? "" } }),
      });
    },
    { transport: { interceptors: [shardKeyInterceptor({ shards, keys: { GetItem: (r: GetItemRequest) => r.itemId } })] } },
  );
  return createClient(ItemService, transport);
}

describe("shardKeyInterceptor", () => {
  it("names the shard that owns the request's key", async () => {
    for (const itemId of ["item-0001", "item-0002", "item-0003", "item-0004"]) {
      const { item } = await client().getItem({ itemId });
      expect(item?.ownerId).toBe(shardOf(itemId, shards));
    }
  });

  it("refuses an empty key with InvalidArgument and a method without a key with Unimplemented", async () => {
    const empty = await client().getItem({ itemId: "" }).catch((e: unknown) => ConnectError.from(e));
    expect(empty).toMatchObject({ code: Code.InvalidArgument, rawMessage: "GetItem: the shard key is empty" });
    const unkeyed = await client().deleteItem({ itemId: "item-0001" }).catch((e: unknown) => ConnectError.from(e));
    expect(unkeyed).toMatchObject({ code: Code.Unimplemented });
  });

  it("needs a non-empty list of unique shard names", () => {
    expect(() => shardKeyInterceptor({ shards: [], keys: {} })).toThrow(/non-empty list of unique names/);
    expect(() => shardKeyInterceptor({ shards: ["a", "a"], keys: {} })).toThrow(/non-empty list of unique names/);
  });
});
