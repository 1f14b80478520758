import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeClient } from "@protomesh/clients";
import { createInventoryClient, createOrdersClient, createPaymentsClient } from "../../services/clients.js";
import { type ReplicaSet, startReplicas } from "./helpers/replicas.js";

describe("protomesh/clients", () => {
  let set: ReplicaSet;
  beforeAll(async () => {
    set = await startReplicas(1);
  });
  afterAll(() => set.close());

  it("exports a ready factory per shop service", () => {
    expect(typeof createOrdersClient).toBe("function");
    expect(typeof createInventoryClient).toBe("function");
    expect(typeof createPaymentsClient).toBe("function");
  });

  it("calls a service through the typed client", async () => {
    const replica = set.replicas[0]!;
    const orders = createOrdersClient({ target: replica.address });
    try {
      const res = await orders.getOrder({ orderId: "00000000-0000-4000-8000-000000000001" });
      expect(res.order?.userId).toBe(replica.name);
      const updates = [];
      for await (const update of orders.watchOrder({ orderId: "00000000-0000-4000-8000-000000000002" })) {
        updates.push(update.order?.orderId);
      }
      expect(updates).toEqual(["00000000-0000-4000-8000-000000000002"]);
    } finally {
      closeClient(orders);
    }
  });
});
