import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FailureStreak } from "./failure-streak.js";

describe("FailureStreak", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const streak = () => new FailureStreak({ what: "outbox relay publishes", notReadyAfterMs: 10_000, forgetAfterMs: 40_000 });

  it("stays ready through a single failed call, and through idleness", () => {
    const publishes = streak();
    publishes.failed(new Error("TIMEOUT"));
    expect(publishes.readiness().ready).toBe(true);
    publishes.succeeded();
    vi.advanceTimersByTime(60_000);
    expect(publishes.readiness().ready).toBe(true);
  });

  it("turns not ready once calls have failed for notReadyAfterMs with no success between, and ready at the next success", () => {
    const publishes = streak();
    publishes.failed(new Error("TIMEOUT"));
    vi.advanceTimersByTime(6_000);
    publishes.failed(new Error("maximum messages exceeded"));
    vi.advanceTimersByTime(4_000);
    expect(publishes.readiness()).toEqual({ ready: false, reason: "outbox relay publishes failing for 10 s (last error: maximum messages exceeded)" });
    publishes.succeeded();
    expect(publishes.readiness()).toEqual({ ready: true });
  });

  it("forgets a streak no failure has continued for forgetAfterMs, and starts a new one at the next failure", () => {
    const publishes = streak();
    publishes.failed(new Error("TIMEOUT"));
    vi.advanceTimersByTime(39_999);
    expect(publishes.readiness().ready).toBe(false);
    vi.advanceTimersByTime(1);
    expect(publishes.readiness().ready).toBe(true);
    publishes.failed(new Error("TIMEOUT"));
    expect(publishes.readiness().ready).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(publishes.readiness().ready).toBe(false);
  });
});
