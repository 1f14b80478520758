import { describe, expect, it } from "vitest";
import { EndpointLoad } from "./load.js";

describe("EndpointLoad", () => {
  it("jumps to a slower sample at once and decays towards faster ones", () => {
    const load = new EndpointLoad(1_000);
    load.end(load.begin(0), 10);
    load.end(load.begin(10), 110);
    expect(load.cost(110)).toBe(100);
    // A 0 ms sample one decay time later keeps e^-1 of the old value.
    load.end(load.begin(1_110), 1_110);
    expect(load.cost(1_110)).toBeCloseTo(100 * Math.exp(-1), 5);
  });

  it("forgets a spike while nothing samples it, so an endpoint avoided after a stall is tried again", () => {
    const load = new EndpointLoad(10_000);
    load.end(load.begin(0), 2_000);
    expect(load.cost(2_000)).toBe(2_000);
    expect(load.cost(12_000)).toBeCloseTo(2_000 * Math.exp(-1), 5);
    expect(load.cost(52_000)).toBeLessThan(15);
  });

  it("counts the age of the oldest call in flight, so a stall shows before any reply", () => {
    const load = new EndpointLoad();
    load.end(load.begin(0), 2);
    load.begin(10);
    load.begin(20);
    expect(load.outstanding).toBe(2);
    // Oldest call is 490 ms old at t = 500; three slots (two in flight + the new call).
    expect(load.cost(500)).toBe(490 * 3);
  });
});
