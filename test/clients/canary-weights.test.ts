// A canary replica weighted against the stable ones, over real connect-node servers on loopback:
// it receives its configured share of the calls, promotion and rollback shift that share at run
// time, and a canary that stops serving hands its share back without failing calls.
import { describe, expect, it } from "vitest";
import { type Client } from "@connectrpc/connect";
import { clientTransport, closeClient, StaticResolver, WeightedResolver } from "@protomesh/clients";
import { createOrdersClient } from "../../services/clients.js";
import { HealthCheckResponse_ServingStatus } from "../../clients/gen/grpc/health/v1/health_pb.js";
import type { OrdersService } from "../../gen/shop/orders/v1/orders_pb.js";
import { useCleanup } from "./helpers/cleanup.js";
import { eventually, runCalls, runLoad } from "./helpers/load.js";
import { type Replica, startReplicas } from "./helpers/replicas.js";

const ORDER_ID = "00000000-0000-4000-8000-000000000001";
const defer = useCleanup();

interface Canary {
  client: Client<typeof OrdersService>;
  resolver: WeightedResolver;
  stable: Replica[];
  canary: Replica;
}

async function canaryRelease(canaryWeight: number): Promise<Canary> {
  const set = await startReplicas(4);
  defer(() => set.close());
  const [canary, ...stable] = set.replicas as [Replica, ...Replica[]];
  const resolver = new WeightedResolver([
    { name: "stable", weight: 100 - canaryWeight, resolver: new StaticResolver(stable.map((r) => ({ host: "127.0.0.1", port: r.port }))) },
    { name: "canary", weight: canaryWeight, resolver: new StaticResolver([{ host: "127.0.0.1", port: canary.port }]) },
  ]);
  const client = createOrdersClient({ target: resolver, authority: "orders.shop:443", healthCheck: { intervalMs: 100 } });
  defer(() => closeClient(client));
  await eventually(() => clientTransport(client).snapshot().filter((e) => e.admitted).length === 4, 5_000, "4 admitted endpoints");
  return { client, resolver, stable, canary };
}

/** Runs `calls` GetOrder calls, 8 at a time, and returns the canary's share of them and the failures. */
async function canaryShare({ client, stable, canary }: Canary, calls: number): Promise<{ share: number; failures: number }> {
  const before = { canary: canary.calls, all: canary.calls + stable.reduce((n, r) => n + r.calls, 0) };
  const { failures } = await runCalls(() => client.getOrder({ orderId: ORDER_ID }), 8, calls);
  const all = canary.calls + stable.reduce((n, r) => n + r.calls, 0) - before.all;
  expect(all).toBe(calls);
  return { share: (canary.calls - before.canary) / all, failures: failures.length };
}

describe("canary weights over real replicas", () => {
  it("a canary weighted at 10 % receives 10 % ± 2 % of 3,000 calls, however many stable replicas there are", async () => {
    const release = await canaryRelease(10);
    const { share, failures } = await canaryShare(release, 3_000);
    expect(failures).toBe(0);
    expect(share).toBeGreaterThanOrEqual(0.08);
    expect(share).toBeLessThanOrEqual(0.12);
    // The three stable replicas split the other 90 % between them (P2C within the subset).
    for (const replica of release.stable) {
      expect(replica.calls).toBeGreaterThan(3_000 * 0.9 * 0.2);
    }
    expect(clientTransport(release.client).snapshot().map((e) => e.subset).sort()).toEqual(["canary", "stable", "stable", "stable"]);
    // 3,000 calls take about 20 s on a loaded two-core host; the default 60 s leaves too little room.
  }, 120_000);

  it("promotion and rollback shift the canary's share at run time, without failing a call", async () => {
    const release = await canaryRelease(10);
    release.resolver.setWeights({ stable: 50, canary: 50 });
    const promoted = await canaryShare(release, 500);
    expect(promoted.share).toBeGreaterThanOrEqual(0.48);
    expect(promoted.share).toBeLessThanOrEqual(0.52);

    release.resolver.setWeights({ canary: 0 });
    const rolledBack = await canaryShare(release, 300);
    expect(rolledBack.share).toBe(0);
    expect(promoted.failures + rolledBack.failures).toBe(0);
  });

  it("a canary that stops serving hands its share to the stable replicas and gets it back when it recovers", async () => {
    const release = await canaryRelease(10);
    release.canary.health = HealthCheckResponse_ServingStatus.NOT_SERVING;
    await eventually(() => clientTransport(release.client).snapshot().some((e) => e.subset === "canary" && !e.admitted), 3_000, "the canary ejected");
    const ejected = await runLoad(() => release.client.getOrder({ orderId: ORDER_ID }), 4, 300);
    expect(ejected.failures).toEqual([]);
    const callsWhileEjected = release.canary.calls;

    release.canary.health = HealthCheckResponse_ServingStatus.SERVING;
    await eventually(() => clientTransport(release.client).snapshot().every((e) => e.admitted), 3_000, "the canary readmitted");
    expect(callsWhileEjected).toBe(0);
    const recovered = await canaryShare(release, 500);
    expect(recovered.share).toBeGreaterThanOrEqual(0.08);
    expect(recovered.share).toBeLessThanOrEqual(0.12);
  });
});
