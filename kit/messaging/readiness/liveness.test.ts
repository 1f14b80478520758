import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Liveness } from "./liveness.js";

describe("Liveness", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("is ready while the broker was heard from within notReadyAfterMs", () => {
    const liveness = new Liveness("consumer d on S", 15_000);
    vi.advanceTimersByTime(14_999);
    expect(liveness.readiness()).toEqual({ ready: true });
    liveness.heard();
    vi.advanceTimersByTime(14_999);
    expect(liveness.readiness()).toEqual({ ready: true });
  });

  it("turns not ready after notReadyAfterMs of silence, naming the part and the last error, and ready at the next answer", () => {
    const liveness = new Liveness("consumer d on S", 15_000);
    liveness.problem(new Error("heartbeats missed"));
    vi.advanceTimersByTime(15_000);
    expect(liveness.readiness()).toEqual({ ready: false, reason: "consumer d on S: no answer from the broker for 15 s (last error: heartbeats missed)" });
    liveness.heard();
    expect(liveness.readiness()).toEqual({ ready: true });
  });

  it("does not count silence while suspended, and counts it from the resume", () => {
    const liveness = new Liveness("consumer d on S", 15_000);
    liveness.suspend();
    vi.advanceTimersByTime(60_000);
    expect(liveness.readiness().ready).toBe(true);
    liveness.resume();
    vi.advanceTimersByTime(14_999);
    expect(liveness.readiness().ready).toBe(true);
    vi.advanceTimersByTime(1);
    expect(liveness.readiness()).toEqual({ ready: false, reason: "consumer d on S: no answer from the broker for 15 s" });
  });
});
