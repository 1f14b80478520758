import { describe, expect, it } from "vitest";
import { type Client } from "@connectrpc/connect";
import { clientTransport, closeClient, StaticResolver, type ClientOptions } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import type { OrdersService } from "../../gen/shop/orders/v1/orders_pb.js";
import { useCleanup } from "./helpers/cleanup.js";
import { eventually, runLoad } from "./helpers/load.js";
import { type Replica, type ReplicaSet, startReplica, startReplicas } from "./helpers/replicas.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";
const defer = useCleanup();

async function replicas(count: number): Promise<ReplicaSet> {
  const set = await startReplicas(count);
  defer(() => set.close());
  return set;
}

async function client(options: ClientOptions): Promise<Client<typeof OrdersService>> {
  const c = createOrdersClient({ healthCheck: { intervalMs: 100 }, reconnect: { initialBackoffMs: 50, maxBackoffMs: 200 }, ...options });
  defer(() => closeClient(c));
  await clientTransport(c).ready();
  return c;
}

async function allAdmitted(c: object, count: number): Promise<void> {
  await eventually(() => clientTransport(c).snapshot().filter((e) => e.admitted).length === count, 3_000, `${count} admitted endpoints`);
}

const getOrder = (c: Client<typeof OrdersService>) => () => c.getOrder({ orderId: ORDER_ID });

describe("balancing across real replicas", () => {
  it("round-robin spreads calls evenly", async () => {
    const { replicas: rs } = await replicas(3);
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "round-robin" });
    await allAdmitted(c, 3);
    for (let i = 0; i < 150; i++) {
      await c.getOrder({ orderId: ORDER_ID });
    }
    for (const r of rs) {
      expect(r.calls).toBeGreaterThanOrEqual(45);
      expect(r.calls).toBeLessThanOrEqual(55);
    }
  });

  it("pick-first sticks to one endpoint and fails over when it dies", async () => {
    const { replicas: rs } = await replicas(3);
    const [first, second, third] = rs as [Replica, Replica, Replica];
    const c = await client({ target: rs.map((r) => r.address), loadBalancing: "pick-first" });
    await allAdmitted(c, 3);
    for (let i = 0; i < 20; i++) {
      await c.getOrder({ orderId: ORDER_ID });
    }
    expect([first.calls, second.calls, third.calls]).toEqual([20, 0, 0]);

    await first.kill();
    for (let i = 0; i < 20; i++) {
      await c.getOrder({ orderId: ORDER_ID });
    }
    expect([first.calls, second.calls, third.calls]).toEqual([20, 20, 0]);
  });

  it("moves calls off an endpoint removed from the static list and onto a new one, failing none", async () => {
    const { replicas: rs } = await replicas(3);
    const [a, b, c3] = rs as [Replica, Replica, Replica];
    const resolver = new StaticResolver([a, b].map((r) => ({ host: "127.0.0.1", port: r.port })));
    const c = await client({ target: resolver, authority: "orders.shop:443", loadBalancing: "round-robin" });
    await allAdmitted(c, 2);

    const load = runLoad(getOrder(c), 8, 1_500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    resolver.set([b, c3].map((r) => ({ host: "127.0.0.1", port: r.port })));
    // The client closes its connection to a removed endpoint once the calls on it have finished.
    await eventually(() => a.connections() === 0, 3_000, "the removed endpoint drained");
    const aCallsAfterSwitch = a.calls;
    const result = await load;

    expect(result.failures).toEqual([]);
    expect(a.calls).toBe(aCallsAfterSwitch);
    expect(c3.calls).toBeGreaterThan(0);
  });

  it("follows DNS: a removed address stops getting calls and a new one starts, failing none", async () => {
    const a = await startReplica({ host: "127.0.0.1" });
    defer(() => a.kill());
    const b = await startReplica({ host: "127.0.0.2", port: a.port });
    defer(() => b.kill());
    let records = ["127.0.0.1"];
    const c = await client({
      target: `orders.shop.internal:${a.port}`,
      dns: { refreshIntervalMs: 50, lookup: (host) => Promise.resolve(host === "orders.shop.internal" ? records : []) },
    });

    const load = runLoad(getOrder(c), 8, 1_500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    records = ["127.0.0.2"];
    await eventually(() => b.calls > 0, 2_000, "calls on the new address");
    await eventually(() => a.connections() === 0, 3_000, "the removed address drained");
    const aCallsAfterSwitch = a.calls;
    const result = await load;

    expect(result.failures).toEqual([]);
    expect(a.calls).toBe(aCallsAfterSwitch);
    expect(b.calls).toBeGreaterThan(0);
  });
});
