// InventoryService through a real gRPC client over HTTP/2, against the service as the host runs
// it, on in-memory PGlite and on PostgreSQL, with a private nats-server.
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import type { RunningService } from "../../services/host/run-service.js";
import { startNatsServer, type NatsServer } from "../helpers/index.js";
import { backends } from "./backends.js";
import { databaseOf, grpcClient, serviceStorage, startTimeoutMs, startService, cleanUp, type ServiceStorage } from "./rpc-helpers.js";

const eur = (amountMinor: bigint) => ({ currencyCode: "EUR", amountMinor });

async function failure(call: Promise<unknown>): Promise<ConnectError> {
  return call.then(
    () => {
      throw new Error("the call succeeded; it should have failed");
    },
    (err: unknown) => ConnectError.from(err),
  );
}

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats.dispose();
});

describe.each(backends)("InventoryService over gRPC on %s", (backend) => {
  let storage: ServiceStorage | undefined;
  let inventory: RunningService | undefined;
  let client: Client<typeof InventoryService>;

  beforeAll(async () => {
    storage = await serviceStorage(backend, "inventory");
    inventory = await startService("inventory", { ...storage.env, NATS_URL: nats.url });
    client = grpcClient(InventoryService, inventory);
  }, startTimeoutMs);
  afterAll(() => cleanUp([() => inventory?.stop(), () => storage?.drop()]));

  it("sets stock and reads it back; an unknown SKU is NotFound", async () => {
    const set = await client.setStock({ sku: "MUG-1", name: "Mug", available: 10, unitPrice: eur(1250n) });
    expect(set.item).toMatchObject({ sku: "MUG-1", name: "Mug", available: 10, reserved: 0, sold: 0, unitPrice: eur(1250n) });

    const updated = await client.setStock({ sku: "MUG-1", name: "Blue mug", available: 7, unitPrice: eur(1300n) });
    expect(updated.item).toMatchObject({ name: "Blue mug", available: 7, unitPrice: eur(1300n) });

    const got = await client.getStock({ sku: "MUG-1" });
    expect(got.item).toMatchObject({ sku: "MUG-1", name: "Blue mug", available: 7, unitPrice: eur(1300n) });
    expect(got.item?.updatedAt).toBeDefined();

    const missing = await failure(client.getStock({ sku: "NOPE-1" }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).toContain("NOPE-1");
  });

  it("quotes a basket: prices and availability per line, an unknown SKU reported rather than thrown", async () => {
    await client.setStock({ sku: "TEE-1", name: "Tee", available: 3, unitPrice: eur(2000n) });
    await client.setStock({ sku: "CAP-1", name: "Cap", available: 1, unitPrice: eur(900n) });

    const quote = await client.quoteItems({
      currencyCode: "EUR",
      items: [
        { sku: "TEE-1", quantity: 2 },
        { sku: "CAP-1", quantity: 2 },
        { sku: "GHOST-1", quantity: 1 },
      ],
    });
    expect(quote.lines).toEqual([
      expect.objectContaining({ sku: "TEE-1", quantity: 2, unitPrice: expect.objectContaining(eur(2000n)), available: 3, sufficient: true, known: true }),
      expect.objectContaining({ sku: "CAP-1", quantity: 2, unitPrice: expect.objectContaining(eur(900n)), available: 1, sufficient: false, known: true }),
      expect.objectContaining({ sku: "GHOST-1", quantity: 1, available: 0, sufficient: false, known: false }),
    ]);
    expect(quote.total).toMatchObject(eur(2n * 2000n + 2n * 900n));
    expect(quote.allAvailable).toBe(false);

    const enough = await client.quoteItems({ currencyCode: "EUR", items: [{ sku: "TEE-1", quantity: 3 }] });
    expect(enough.allAvailable).toBe(true);
    expect(enough.total).toMatchObject(eur(6000n));
  });

  it("applies an adjustment once per idempotency key, and refuses to go below zero", async () => {
    await client.setStock({ sku: "PEN-1", name: "Pen", available: 5, unitPrice: eur(150n) });

    const first = await client.adjustStock({ sku: "PEN-1", delta: 4, reason: "restock", idempotencyKey: "adjust-pen-restock-1" });
    expect(first.item?.available).toBe(9);
    const retried = await client.adjustStock({ sku: "PEN-1", delta: 4, reason: "restock", idempotencyKey: "adjust-pen-restock-1" });
    expect(retried.item?.available).toBe(9);

    const reused = await failure(client.adjustStock({ sku: "PEN-1", delta: -1, idempotencyKey: "adjust-pen-restock-1" }));
    expect(reused.code).toBe(Code.FailedPrecondition);

    const below = await failure(client.adjustStock({ sku: "PEN-1", delta: -10, reason: "shrinkage", idempotencyKey: "adjust-pen-shrink-1" }));
    expect(below.code).toBe(Code.FailedPrecondition);
    expect(below.rawMessage).toContain("below zero");
    expect((await client.getStock({ sku: "PEN-1" })).item?.available).toBe(9);

    const unknown = await failure(client.adjustStock({ sku: "NOPE-2", delta: 1, idempotencyKey: "adjust-nope-1" }));
    expect(unknown.code).toBe(Code.NotFound);
  });

  it("never goes negative under concurrent adjustments, and loses none", async () => {
    await client.setStock({ sku: "BOX-1", name: "Box", available: 20, unitPrice: eur(500n) });
    // 40 takes of 1 against 20 in stock, mixed with 10 additions of 1: each take succeeds only
    // while stock remains, so the final count is exactly start + additions - successful takes.
    const calls = [
      ...Array.from({ length: 40 }, (_, i) => ({ delta: -1, idempotencyKey: `box-take-${i}` })),
      ...Array.from({ length: 10 }, (_, i) => ({ delta: 1, idempotencyKey: `box-add-${i}` })),
    ];
    const results = await Promise.allSettled(calls.map((call) => client.adjustStock({ sku: "BOX-1", ...call })));

    const failures = results.flatMap((r) => (r.status === "rejected" ? [ConnectError.from(r.reason)] : []));
    expect(failures.map((e) => e.code)).toEqual(failures.map(() => Code.FailedPrecondition));
    const seen = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.item?.available ?? -1] : []));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);

    const takes = results.filter((r, i) => r.status === "fulfilled" && (calls[i]?.delta ?? 0) < 0).length;
    const adds = results.filter((r, i) => r.status === "fulfilled" && (calls[i]?.delta ?? 0) > 0).length;
    expect(adds).toBe(10);
    expect(takes).toBe(40 - failures.length);
    expect(takes).toBeGreaterThanOrEqual(20);
    const final = (await client.getStock({ sku: "BOX-1" })).item?.available;
    expect(final).toBe(20 + adds - takes);
    expect(final).toBeGreaterThanOrEqual(0);
  });

  it("rejects invalid requests with InvalidArgument and buf.validate violations naming the field", async () => {
    const cases: Array<[Promise<unknown>, string]> = [
      [client.getStock({ sku: "lower case" }), "sku"],
      [client.quoteItems({ currencyCode: "EUR", items: [] }), "items"],
      [client.setStock({ sku: "MUG-1", name: "Mug", available: -1, unitPrice: eur(1n) }), "available"],
      [client.setStock({ sku: "MUG-1", name: "Mug", available: 1 }), "unit_price"],
      [client.setStock({ sku: "MUG-1", name: "Mug", available: 1, unitPrice: eur(-5000n) }), "unit_price"],
      [client.setStock({ sku: "MUG-1", name: "Mug", available: 1, unitPrice: eur(9_223_372_036_854_775_807n) }), "unit_price"],
      [client.adjustStock({ sku: "MUG-1", delta: 0, idempotencyKey: "adjust-zero-1" }), "delta"],
      [client.adjustStock({ sku: "MUG-1", delta: 1, idempotencyKey: "short" }), "idempotency_key"],
    ];
    for (const [call, field] of cases) {
      const error = await failure(call);
      expect(error.code).toBe(Code.InvalidArgument);
      const [details] = error.findDetails(ViolationsSchema);
      expect(details?.violations.map((v) => v.field?.elements[0]?.fieldName)).toContain(field);
    }
    expect((await client.getStock({ sku: "MUG-1" })).item).toMatchObject({ available: 7, unitPrice: eur(1300n) });
  });

  it("says which bound a price breaks, naming unit_price and its amount_minor", async () => {
    for (const [amountMinor, bound] of [
      [-1n, "must not be negative"],
      [100_000_000_001n, "must be at most 100000000000"],
    ] as const) {
      const error = await failure(client.setStock({ sku: "MUG-1", name: "Mug", available: 1, unitPrice: eur(amountMinor) }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(new RegExp(`^unit_price: amount_minor ${bound}`));
    }
    const highest = await client.setStock({ sku: "GOLD-1", name: "Gold bar", available: 1, unitPrice: eur(100_000_000_000n) });
    expect(highest.item?.unitPrice).toMatchObject(eur(100_000_000_000n));
  });

  // A row written before the rules existed, or by hand: it never passed SetStock's validation.
  it.each([
    ["a negative stored price", "BAD-NEG", -5000n, 3],
    ["a stored price whose line total overflows int64", "BAD-HUGE", 9_223_372_036_854_775_807n, 2],
  ])("refuses to quote %s with FailedPrecondition naming the SKU and unit_price", async (_name, sku, amountMinor, quantity) => {
    await client.setStock({ sku, name: "Bad price", available: 10, unitPrice: eur(1n) });
    if (inventory === undefined) throw new Error("inventory is not running");
    await databaseOf(inventory).execute(sql`update stock_items set unit_price_minor = ${amountMinor} where sku = ${sku}`);
    const error = await failure(client.quoteItems({ currencyCode: "EUR", items: [{ sku: "TEE-1", quantity: 1 }, { sku, quantity }] }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain(sku);
    expect(error.rawMessage).toContain("unit_price");
  });
});
