import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createContextValues } from "@connectrpc/connect";
import { clientTransport, closeClient, deadlineKey, withIncomingDeadline } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { OrdersService } from "../../gen/shop/orders/v1/orders_pb.js";
import { type Replica, startReplica } from "./helpers/replicas.js";

describe("deadline propagation", () => {
  let downstream: Replica;
  let front: http2.Http2Server;
  let downstreamClient: ReturnType<typeof createOrdersClient>;

  beforeAll(async () => {
    downstream = await startReplica();
    downstreamClient = createOrdersClient({ target: downstream.address, deadlines: { defaultTimeoutMs: 10_000 } });
    // A service in the middle: it forwards GetOrder downstream within its own caller's deadline.
    front = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(OrdersService, {
            getOrder: (req, ctx) => withIncomingDeadline(ctx, () => downstreamClient.getOrder(req)),
          }),
      }),
    );
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    await clientTransport(downstreamClient).ready();
  });
  afterAll(async () => {
    closeClient(downstreamClient);
    await new Promise((resolve) => front.close(resolve));
    await downstream.kill();
  });

  it("gives a downstream call only the time its incoming call has left", async () => {
    const edge = createOrdersClient({ target: `127.0.0.1:${(front.address() as AddressInfo).port}` });
    try {
      await clientTransport(edge).ready();
      await edge.getOrder({ orderId: "00000000-0000-4000-8000-000000000001" }, { timeoutMs: 2_000 });
    } finally {
      closeClient(edge);
    }
    // Without propagation the downstream call would carry its own 10 s default.
    const [seen] = downstream.timeouts;
    expect(seen?.ms).toBeGreaterThan(0);
    expect(seen?.ms).toBeLessThanOrEqual(2_000);
  });

  it("keeps each call's deadline to itself when callers share one ContextValues", async () => {
    const client = createOrdersClient({ target: downstream.address, deadlines: { defaultTimeoutMs: 1_000 } });
    const shared = createContextValues();
    try {
      await clientTransport(client).ready();
      await client.getOrder({ orderId: "00000000-0000-4000-8000-000000000001" }, { contextValues: shared });
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      // Had the first call's deadline leaked into the shared values, this one would start expired.
      await client.getOrder({ orderId: "00000000-0000-4000-8000-000000000001" }, { contextValues: shared });
      expect(shared.get(deadlineKey)).toBeUndefined();
    } finally {
      closeClient(client);
    }
  });
});
