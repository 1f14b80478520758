import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ItemService, GetItemRequestSchema, GetItemResponseSchema } from "../../../test/contract/gen/protomesh/test/v1/item_pb.js";
import { createAllowListInterceptor, peerIdentityKey, unknownAllowListKeys } from "@protomesh/server";

const getItem = ItemService.method.getItem;
const deleteItem = ItemService.method.deleteItem;

function request(method: typeof getItem | typeof deleteItem, peer?: string): UnaryRequest {
  const contextValues = createContextValues();
  if (peer !== undefined) {
    contextValues.set(peerIdentityKey, { id: peer, uris: [peer], commonName: undefined, fingerprint256: "" });
  }
  return {
    stream: false,
    service: ItemService,
    method,
    requestMethod: "POST",
    url: "",
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues,
    message: create(GetItemRequestSchema),
  };
}

const ok = async (): Promise<UnaryResponse> =>
  ({ stream: false, service: ItemService, method: getItem, header: new Headers(), trailer: new Headers(), message: create(GetItemResponseSchema) });

const guarded = createAllowListInterceptor({
  "protomesh.test.v1.ItemService": ["spiffe://example.test/gateway"],
  "protomesh.test.v1.ItemService/DeleteItem": ["spiffe://example.test/admin"],
})(ok);

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  return call.then(
    () => "ok" as const,
    (e: unknown) => ConnectError.from(e).code,
  );
}

describe("createAllowListInterceptor", () => {
  it.each([
    ["a listed peer", getItem, "spiffe://example.test/gateway", "ok"],
    ["an unlisted peer", getItem, "spiffe://example.test/intruder", Code.PermissionDenied],
    ["no verified peer", getItem, undefined, Code.Unauthenticated],
    ["the service's peer on a method with its own list", deleteItem, "spiffe://example.test/gateway", Code.PermissionDenied],
    ["the method's peer", deleteItem, "spiffe://example.test/admin", "ok"],
  ] as const)("answers %s with %s", async (_name, method, peer, expected) => {
    expect(await codeOf(guarded(request(method, peer)))).toBe(expected);
  });

  it("reports list entries that name nothing served", () => {
    const served = new Set(["protomesh.test.v1.ItemService", "protomesh.test.v1.ItemService/GetItem"]);
    expect(unknownAllowListKeys({ "protomesh.test.v1.ItemsService": [], "protomesh.test.v1.ItemService/GetItem": [] }, served)).toEqual([
      "protomesh.test.v1.ItemsService",
    ]);
  });
});
