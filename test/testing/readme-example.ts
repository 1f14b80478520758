import { createGrpcTransport } from "@connectrpc/connect-node";
import { expectContract } from "@protomesh/testing";
import { ItemService } from "../contract/gen/protomesh/test/v1/item_pb.js";

/** Checks the ItemService listening at `baseUrl` against its contract and the released one. */
export function checkItemService(baseUrl: string, baseline: Uint8Array) {
  return expectContract({
    service: ItemService,
    transport: createGrpcTransport({ baseUrl }),
    // The released contract, as `buf build proto -o contracts/baseline.binpb` wrote it.
    baseline,
    // Requests that need existing data, so GetItem answers OK and its response is decoded.
    fixtures: { GetItem: [{ itemId: "item-1" }] },
  });
}
