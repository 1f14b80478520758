import { describe, expect, it } from "vitest";
import type { Subset } from "./address.js";
import { SubsetChooser } from "./subset-chooser.js";

const endpoint = (key: string, subset?: Subset) => ({ key, subset });

/** How many of `calls` narrowings kept each subset (by the name of the first kept candidate). */
function shares(chooser: SubsetChooser, candidates: readonly ReturnType<typeof endpoint>[], calls: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < calls; i++) {
    const kept = [...candidates];
    chooser.narrow(kept);
    const name = kept[0]?.subset?.name ?? "none";
    expect(kept.every((c) => (c.subset?.name ?? "none") === name)).toBe(true);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe("SubsetChooser", () => {
  const stable = { name: "stable", weight: 90 };
  const canary = { name: "canary", weight: 10 };

  it("gives each subset its weight's share, whatever its number of endpoints", () => {
    const candidates = [endpoint("a", stable), endpoint("b", stable), endpoint("c", stable), endpoint("d", canary)];
    expect(shares(new SubsetChooser(), candidates, 1_000)).toEqual({ stable: 900, canary: 100 });
  });

  it("keeps every candidate of the chosen subset, for the picker to balance over", () => {
    const kept = [endpoint("a", stable), endpoint("x", canary), endpoint("b", stable)];
    const chooser = new SubsetChooser();
    chooser.narrow(kept);
    expect(kept.map((c) => c.key)).toEqual(["a", "b"]);
  });

  it("spreads a subset's calls smoothly rather than in bursts", () => {
    const chooser = new SubsetChooser();
    const picks: string[] = [];
    for (let i = 0; i < 20; i++) {
      const kept = [endpoint("a", stable), endpoint("d", canary)];
      chooser.narrow(kept);
      picks.push(kept[0]?.subset?.name ?? "");
    }
    const canaryAt = picks.flatMap((name, i) => (name === "canary" ? [i] : []));
    expect(canaryAt).toHaveLength(2);
    expect((canaryAt[1] ?? 0) - (canaryAt[0] ?? 0)).toBe(10);
  });

  it("drops a subset without candidates and gives its share back when it returns", () => {
    const chooser = new SubsetChooser();
    expect(shares(chooser, [endpoint("a", stable)], 100)).toEqual({ stable: 100 });
    expect(shares(chooser, [endpoint("a", stable), endpoint("d", canary)], 1_000)).toEqual({ stable: 900, canary: 100 });
  });

  it("sends nothing to a weight-0 subset while another is available, and everything when it is alone", () => {
    const drained = { name: "canary", weight: 0 };
    const chooser = new SubsetChooser();
    expect(shares(chooser, [endpoint("a", stable), endpoint("d", drained)], 100)).toEqual({ stable: 100 });
    const alone = [endpoint("d", drained)];
    chooser.narrow(alone);
    expect(alone.map((c) => c.key)).toEqual(["d"]);
  });

  it("leaves candidates without subsets untouched", () => {
    const kept = [endpoint("a"), endpoint("b")];
    new SubsetChooser().narrow(kept);
    expect(kept.map((c) => c.key)).toEqual(["a", "b"]);
  });
});
