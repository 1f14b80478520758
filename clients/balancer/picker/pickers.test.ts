import { describe, expect, it } from "vitest";
import { P2cPicker, type Pickable, PickFirstPicker, RoundRobinPicker } from "@protomesh/clients";

const endpoint = (key: string, cost: number): Pickable => ({ key, load: { cost: () => cost } });

describe("P2cPicker", () => {
  it("always compares two distinct endpoints, even when the random draws collide", () => {
    const candidates = [endpoint("a", 5), endpoint("b", 1)];
    // Both draws land on index 0; the second must still be another endpoint.
    const picker = new P2cPicker(() => 0);
    expect(picker.pick(candidates, 0).key).toBe("b");
  });

  it("never picks the costliest of n endpoints", () => {
    const candidates = [endpoint("a", 1), endpoint("b", 2), endpoint("slow", 1_000), endpoint("c", 3), endpoint("d", 4)];
    const picker = new P2cPicker();
    for (let i = 0; i < 2_000; i++) {
      expect(picker.pick(candidates, 0).key).not.toBe("slow");
    }
  });
});

describe("RoundRobinPicker", () => {
  it("takes the candidates in turn", () => {
    const candidates = ["a", "b", "c"].map((k) => endpoint(k, 0));
    const picker = new RoundRobinPicker();
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const key = picker.pick(candidates).key;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });
});

describe("PickFirstPicker", () => {
  it("sticks to its endpoint while it stays a candidate, and moves on when it does not", () => {
    const [a, b, c] = ["a", "b", "c"].map((k) => endpoint(k, 0)) as [Pickable, Pickable, Pickable];
    const picker = new PickFirstPicker();
    expect(picker.pick([a, b, c]).key).toBe("a");
    expect(picker.pick([b, c]).key).toBe("b");
    expect(picker.pick([a, b, c]).key).toBe("b");
  });
});
