import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { OrderSchema, OrderStatus } from "protomesh/gen/shop/orders/v1/orders_pb";
import { cachedOrders } from "./doc-example.js";

const SHARED_REDIS_URL = process.env.PROTOMESH_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

describe("docs/caching.md", () => {
  it("shows the example that this test runs, verbatim", async () => {
    const doc = await readFile("docs/caching.md", "utf8");
    const example = await readFile("test/cache/doc-example.ts", "utf8");
    expect(/```ts example\n([\s\S]*?)```/.exec(doc)?.[1]).toBe(example);
  });

  it("reads the database once per change", async () => {
    const orderId = randomUUID();
    let status = OrderStatus.PENDING;
    let loads = 0;
    const orders = cachedOrders(SHARED_REDIS_URL, async (id) => {
      loads += 1;
      return create(OrderSchema, { orderId: id, status });
    });
    try {
      // Until the connection is up, reads go to the database; then they are hits.
      await expect.poll(async () => {
        const before = loads;
        await orders.getOrder(orderId);
        return loads - before;
      }).toBe(0);
      status = OrderStatus.CONFIRMED;
      await orders.changed(orderId);
      const before = loads;
      expect((await orders.getOrder(orderId)).status).toBe(OrderStatus.CONFIRMED);
      expect((await orders.getOrder(orderId)).status).toBe(OrderStatus.CONFIRMED);
      expect(loads - before).toBe(1);
    } finally {
      await orders.close();
    }
  });
});
