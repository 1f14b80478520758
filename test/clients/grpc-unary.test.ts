import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { closeClient } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { GetOrderRequestSchema, OrdersService } from "../../gen/shop/orders/v1/orders_pb.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";

describe("unary calls on the balanced transport", () => {
  let server: http2.Http2Server;
  let client: ReturnType<typeof createOrdersClient>;

  beforeAll(async () => {
    server = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(OrdersService, {
            getOrder(req, ctx) {
              if (req.orderId !== ORDER_ID) {
                throw new ConnectError("no such order", Code.NotFound, { "x-reason": "unknown id" }, [{ desc: GetOrderRequestSchema, value: { orderId: req.orderId } }]);
              }
              ctx.responseHeader.set("x-served-by", "test");
              ctx.responseTrailer.set("x-cost", "1");
              return { order: { orderId: req.orderId } };
            },
          }),
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    client = createOrdersClient({ target: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    closeClient(client);
    await new Promise((resolve) => server.close(resolve));
  });

  it("hands response headers and trailers to the caller", async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await client.getOrder({ orderId: ORDER_ID }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
    expect(res.order?.orderId).toBe(ORDER_ID);
    expect(header?.get("x-served-by")).toBe("test");
    expect(trailer?.get("x-cost")).toBe("1");
  });

  it("surfaces the server's code, message, metadata and details", async () => {
    const error = await client.getOrder({ orderId: "00000000-0000-4000-8000-00000000dead" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.NotFound);
    expect(error?.rawMessage).toBe("no such order");
    expect(error?.metadata.get("x-reason")).toBe("unknown id");
    expect(error?.findDetails(GetOrderRequestSchema)[0]?.orderId).toBe("00000000-0000-4000-8000-00000000dead");
  });
});
