// Inventory split by SKU over three shards of two replicas each (real HTTP/2 servers on
// loopback; the replicas of a shard share one stock table, as they would share one database):
// the client routes every call by its SKU to the shard that owns it and never elsewhere.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { clientTransport, closeClient, shardKeyInterceptor, shardOf, StaticResolver, WeightedResolver } from "@protomesh/clients";
import { createInventoryClient } from "../../services/clients.js";
import { InventoryService, type GetStockRequest, type SetStockRequest } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { useCleanup } from "./helpers/cleanup.js";
import { eventually } from "./helpers/load.js";

const defer = useCleanup();
const shardNames = ["inventory-0", "inventory-1", "inventory-2"];

interface ShardReplica {
  port: number;
  calls: number;
  close(): Promise<void>;
}

interface Shard {
  name: string;
  /** The shard's database: SKU -> units available. */
  stock: Map<string, number>;
  replicas: ShardReplica[];
}

async function startShardReplica(stock: Map<string, number>): Promise<ShardReplica> {
  const replica = { port: 0, calls: 0, close: async () => undefined as void };
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(InventoryService, {
        getStock(req) {
          replica.calls++;
          const available = stock.get(req.sku);
          if (available === undefined) throw new ConnectError(`no stock item ${req.sku} in this shard`, Code.NotFound);
          return { item: { sku: req.sku, available } };
        },
        setStock(req) {
          replica.calls++;
          stock.set(req.sku, req.available);
          return { item: { sku: req.sku, available: req.available } };
        },
      });
    },
  });
  const server = http2.createServer(handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  replica.port = (server.address() as AddressInfo).port;
  replica.close = () =>
    new Promise<void>((resolve) => {
      sessions.forEach((s) => s.destroy());
      server.close(() => resolve());
    });
  return replica;
}

async function startShards(): Promise<{ shards: Shard[]; client: Client<typeof InventoryService> }> {
  const shards: Shard[] = [];
  for (const name of shardNames) {
    const stock = new Map<string, number>();
    const replicas = [await startShardReplica(stock), await startShardReplica(stock)];
    defer(() => Promise.all(replicas.map((r) => r.close())));
    shards.push({ name, stock, replicas });
  }
  const resolver = new WeightedResolver(
    shards.map((s) => ({ name: s.name, weight: 1, resolver: new StaticResolver(s.replicas.map((r) => ({ host: "127.0.0.1", port: r.port }))) })),
  );
  const client = createInventoryClient({
    target: resolver,
    authority: "inventory:50052",
    healthCheck: false,
    reconnect: { initialBackoffMs: 50, maxBackoffMs: 200 },
    interceptors: [
      shardKeyInterceptor({
        shards: shardNames,
        keys: { GetStock: (r: GetStockRequest) => r.sku, SetStock: (r: SetStockRequest) => r.sku },
      }),
    ],
  });
  defer(() => closeClient(client));
  await eventually(() => clientTransport(client).snapshot().filter((e) => e.admitted).length === 6, 5_000, "6 admitted endpoints");
  return { shards, client };
}

const skus = Array.from({ length: 150 }, (_, i) => `SKU-${String(i).padStart(4, "0")}`);
const setStock = (client: Client<typeof InventoryService>, sku: string, available: number) =>
  client.setStock({ sku, name: sku, available, unitPrice: { currencyCode: "EUR", amountMinor: 100n } });

describe("sharded inventory behind one client", () => {
  it("stores every SKU's stock in exactly one shard, the one shardOf names, and reads it back from there", async () => {
    const { shards, client } = await startShards();
    for (const [i, sku] of skus.entries()) {
      await setStock(client, sku, i);
    }
    for (const sku of skus) {
      const holders = shards.filter((s) => s.stock.has(sku)).map((s) => s.name);
      expect(holders).toEqual([shardOf(sku, shardNames)]);
    }
    for (const [i, sku] of skus.entries()) {
      expect((await client.getStock({ sku })).item?.available).toBe(i);
    }
    // Every shard owns a part of the SKUs, and both replicas of each shard serve its calls.
    for (const shard of shards) {
      expect(shard.stock.size).toBeGreaterThan(skus.length / 6);
      for (const replica of shard.replicas) expect(replica.calls).toBeGreaterThan(0);
    }
  });

  it("fails the calls of a shard that is down with Unavailable, never sending them to another shard", async () => {
    const { shards, client } = await startShards();
    for (const sku of skus) await setStock(client, sku, 1);
    const [down] = shards as [Shard];
    await Promise.all(down.replicas.map((r) => r.close()));
    await eventually(() => clientTransport(client).snapshot().filter((e) => !e.admitted).length === 2, 5_000, "the shard's endpoints out");
    for (const sku of skus) {
      const result = await client.getStock({ sku }).then(
        (r) => r.item?.available,
        (e: unknown) => ConnectError.from(e),
      );
      if (shardOf(sku, shardNames) === down.name) {
        expect(result).toBeInstanceOf(ConnectError);
        expect((result as ConnectError).code).toBe(Code.Unavailable);
        // Either nothing of the shard was left to try, or the call tried one of its endpoints.
        const owners = [`in shard ${down.name}`, ...down.replicas.map((r) => `127.0.0.1:${r.port}`)];
        expect(owners.some((owner) => (result as ConnectError).rawMessage.includes(owner)), (result as ConnectError).rawMessage).toBe(true);
      } else {
        expect(result).toBe(1);
      }
    }
  });

  it("refuses a method without a shard key instead of sending it to an arbitrary shard", async () => {
    const { client } = await startShards();
    const error = await client.quoteItems({ items: [{ sku: "SKU-0001", quantity: 1 }], currencyCode: "EUR" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unimplemented);
    expect((error as ConnectError).rawMessage).toContain("QuoteItems has no shard key");
  });
});
