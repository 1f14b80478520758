import { describe, expect, it } from "vitest";
import { shardOf } from "./shard-hash.js";

const keys = Array.from({ length: 20_000 }, (_, i) => `ITEM-${i.toString(36).toUpperCase().padStart(5, "0")}`);
const owners = (shards: readonly string[]) => new Map(keys.map((key) => [key, shardOf(key, shards)]));

describe("shardOf (rendezvous hashing)", () => {
  it("gives every key exactly one owner, the same whatever the order the shards are listed in", () => {
    const shards = ["items-0", "items-1", "items-2"];
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
      expect((counts.get(shard) ?? 0) / keys.length).toBeGreaterThan(0.23);
      expect((counts.get(shard) ?? 0) / keys.length).toBeLessThan(0.27);
    }
  });

  it("moves only the keys a new shard wins, about 1 / (n + 1) of them, and only to it", () => {
    const before = owners(["a", "b", "c"]);
    const after = owners(["a", "b", "c", "d"]);
    const moved = keys.filter((key) => before.get(key) !== after.get(key));
    expect(moved.every((key) => after.get(key) === "d")).toBe(true);
    expect(moved.length / keys.length).toBeGreaterThan(0.22);
    expect(moved.length / keys.length).toBeLessThan(0.28);
  });

  it("moves only the keys of a removed shard", () => {
    const before = owners(["a", "b", "c", "d"]);
    const after = owners(["a", "b", "d"]);
    expect(keys.filter((key) => before.get(key) !== after.get(key)).every((key) => before.get(key) === "c")).toBe(true);
  });
});
