import { describe, expect, it } from "vitest";
import { shardOf } from "./shard-hash.js";

const skus = Array.from({ length: 20_000 }, (_, i) => `SKU-${i.toString(36).toUpperCase().padStart(5, "0")}`);
const owners = (shards: readonly string[]) => new Map(skus.map((sku) => [sku, shardOf(sku, shards)]));

describe("shardOf (rendezvous hashing)", () => {
  it("gives every key exactly one owner, the same whatever the order the shards are listed in", () => {
    const shards = ["inventory-0", "inventory-1", "inventory-2"];
    const forward = owners(shards);
    const reversed = owners([...shards].reverse());
    expect([...forward.values()].every((owner) => owner !== undefined && shards.includes(owner))).toBe(true);
    expect(reversed).toEqual(forward);
    expect(shardOf("ANY", [])).toBeUndefined();
  });

  it("spreads keys evenly: each of four shards owns 25 % ± 2 %", () => {
    const shards = ["a", "b", "c", "d"];
    const counts = new Map<string, number>();
    for (const owner of owners(shards).values()) counts.set(owner ?? "", (counts.get(owner ?? "") ?? 0) + 1);
    for (const shard of shards) {
      expect((counts.get(shard) ?? 0) / skus.length).toBeGreaterThan(0.23);
      expect((counts.get(shard) ?? 0) / skus.length).toBeLessThan(0.27);
    }
  });

  it("moves only the keys a new shard wins, about 1 / (n + 1) of them, and only to it", () => {
    const before = owners(["a", "b", "c"]);
    const after = owners(["a", "b", "c", "d"]);
    const moved = skus.filter((sku) => before.get(sku) !== after.get(sku));
    expect(moved.every((sku) => after.get(sku) === "d")).toBe(true);
    expect(moved.length / skus.length).toBeGreaterThan(0.22);
    expect(moved.length / skus.length).toBeLessThan(0.28);
  });

  it("moves only the keys of a removed shard", () => {
    const before = owners(["a", "b", "c", "d"]);
    const after = owners(["a", "b", "d"]);
    expect(skus.filter((sku) => before.get(sku) !== after.get(sku)).every((sku) => before.get(sku) === "c")).toBe(true);
  });
});
