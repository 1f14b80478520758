import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { OrdersService, GetOrderRequestSchema, GetOrderResponseSchema } from "protomesh/gen/shop/orders/v1/orders_pb";
import { createAllowListInterceptor, peerIdentityKey, unknownAllowListKeys } from "protomesh/kit/tls";

const getOrder = OrdersService.method.getOrder;
const cancelOrder = OrdersService.method.cancelOrder;

function request(method: typeof getOrder | typeof cancelOrder, peer?: string): UnaryRequest {
  const contextValues = createContextValues();
  if (peer !== undefined) {
    contextValues.set(peerIdentityKey, { id: peer, uris: [peer], commonName: undefined, fingerprint256: "" });
  }
  return {
    stream: false,
    service: OrdersService,
    method,
    requestMethod: "POST",
    url: "",
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues,
    message: create(GetOrderRequestSchema),
  };
}

const ok = async (): Promise<UnaryResponse> =>
  ({ stream: false, service: OrdersService, method: getOrder, header: new Headers(), trailer: new Headers(), message: create(GetOrderResponseSchema) });

const guarded = createAllowListInterceptor({
  "shop.orders.v1.OrdersService": ["spiffe://shop/gateway"],
  "shop.orders.v1.OrdersService/CancelOrder": ["spiffe://shop/admin"],
})(ok);

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  return call.then(
    () => "ok" as const,
    (e: unknown) => ConnectError.from(e).code,
  );
}

describe("createAllowListInterceptor", () => {
  it.each([
    ["a listed peer", getOrder, "spiffe://shop/gateway", "ok"],
    ["an unlisted peer", getOrder, "spiffe://shop/intruder", Code.PermissionDenied],
    ["no verified peer", getOrder, undefined, Code.Unauthenticated],
    ["the service's peer on a method with its own list", cancelOrder, "spiffe://shop/gateway", Code.PermissionDenied],
    ["the method's peer", cancelOrder, "spiffe://shop/admin", "ok"],
  ] as const)("answers %s with %s", async (_name, method, peer, expected) => {
    expect(await codeOf(guarded(request(method, peer)))).toBe(expected);
  });

  it("reports list entries that name nothing served", () => {
    const served = new Set(["shop.orders.v1.OrdersService", "shop.orders.v1.OrdersService/GetOrder"]);
    expect(unknownAllowListKeys({ "shop.orders.v1.OrderService": [], "shop.orders.v1.OrdersService/GetOrder": [] }, served)).toEqual([
      "shop.orders.v1.OrderService",
    ]);
  });
});
