import { describe, expect, it } from "vitest";
import type { Address } from "../address.js";
import { StaticResolver } from "./static.js";
import { WeightedResolver } from "./weighted.js";

const at = (port: number): Address => ({ host: "127.0.0.1", port });

function start(resolver: WeightedResolver) {
  const updates: (readonly Address[])[] = [];
  resolver.start({ onUpdate: (a) => updates.push(a), onError: (e) => { throw e; } });
  return updates;
}

const describeAll = (addresses: readonly Address[] | undefined) => (addresses ?? []).map((a) => `${a.port} ${a.subset?.name}:${a.subset?.weight}`);

describe("WeightedResolver", () => {
  it("reports every subset's addresses tagged with the subset's name and weight", async () => {
    const resolver = new WeightedResolver([
      { name: "stable", weight: 90, resolver: new StaticResolver([at(1), at(2)]) },
      { name: "canary", weight: 10, resolver: new StaticResolver([at(3)]) },
    ]);
    const updates = start(resolver);
    await Promise.resolve();
    expect(describeAll(updates.at(-1))).toEqual(["1 stable:90", "2 stable:90", "3 canary:10"]);
  });

  it("follows each child's changes and shifts weights at run time", async () => {
    const canary = new StaticResolver([at(3)]);
    const resolver = new WeightedResolver([
      { name: "stable", weight: 90, resolver: new StaticResolver([at(1)]) },
      { name: "canary", weight: 10, resolver: canary },
    ]);
    const updates = start(resolver);
    await Promise.resolve();
    canary.set([at(3), at(4)]);
    expect(describeAll(updates.at(-1))).toEqual(["1 stable:90", "3 canary:10", "4 canary:10"]);
    resolver.setWeights({ canary: 50, stable: 50 });
    expect(describeAll(updates.at(-1))).toEqual(["1 stable:50", "3 canary:50", "4 canary:50"]);
    expect(resolver.weights()).toEqual({ stable: 50, canary: 50 });
  });

  it("counts an address reported by two subsets in the first", async () => {
    const resolver = new WeightedResolver([
      { name: "stable", weight: 1, resolver: new StaticResolver([at(1)]) },
      { name: "canary", weight: 1, resolver: new StaticResolver([at(1), at(2)]) },
    ]);
    const updates = start(resolver);
    await Promise.resolve();
    expect(describeAll(updates.at(-1))).toEqual(["1 stable:1", "2 canary:1"]);
  });

  it("refuses weights that cannot describe a share, naming the subset", () => {
    const child = () => new StaticResolver([at(1)]);
    expect(() => new WeightedResolver([])).toThrow(/at least one subset/);
    expect(() => new WeightedResolver([{ name: "a", weight: 1, resolver: child() }, { name: "a", weight: 1, resolver: child() }])).toThrow(/unique/);
    expect(() => new WeightedResolver([{ name: "a", weight: -1, resolver: child() }])).toThrow(/weight of subset "a" must be a finite number >= 0, got -1/);
    expect(() => new WeightedResolver([{ name: "a", weight: 0, resolver: child() }])).toThrow(/positive weight/);
    const resolver = new WeightedResolver([{ name: "stable", weight: 1, resolver: child() }]);
    expect(() => resolver.setWeights({ canary: 5 })).toThrow(/no subset named canary/);
    expect(() => resolver.setWeights({ stable: 0 })).toThrow(/positive weight/);
    expect(resolver.weights()).toEqual({ stable: 1 });
  });
});
