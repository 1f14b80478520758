import { describe, expect, it } from "vitest";
import { backoffDelay, validateBackoff } from "./backoff.js";

const options = { initialDelayMs: 100, maxDelayMs: 1_000, multiplier: 2, jitter: 0 };

describe("backoffDelay", () => {
  it("doubles from the initial delay up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(options, n))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("spreads delays by the jitter fraction and never past the cap", () => {
    const jittered = { ...options, jitter: 0.2 };
    expect(backoffDelay(jittered, 1, () => 0)).toBe(80);
    expect(backoffDelay(jittered, 1, () => 1)).toBe(120);
    expect(backoffDelay(jittered, 10, () => 1)).toBe(1_000);
  });

  it("rejects settings that cannot work", () => {
    expect(() => validateBackoff("retry", { ...options, maxDelayMs: 50 })).toThrow(/retry.maxDelayMs/);
    expect(() => validateBackoff("retry", { ...options, jitter: 2 })).toThrow(/retry.jitter/);
  });
});
