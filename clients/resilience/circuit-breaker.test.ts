import { describe, expect, it } from "vitest";
import { type BreakerState, CircuitBreaker } from "@protomesh/clients";

function breaker(canOpen = () => true) {
  const transitions: BreakerState["kind"][] = [];
  const b = new CircuitBreaker({ failureThreshold: 2, openMs: 100, maxOpenMs: 250, canOpen, onTransition: (s) => transitions.push(s.kind) });
  return { b, transitions };
}

describe("CircuitBreaker", () => {
  it("opens after the threshold of consecutive failures; a success resets the count", () => {
    const { b } = breaker();
    b.onFailure(0);
    b.onSuccess();
    b.onFailure(0);
    expect(b.state(0)).toEqual({ kind: "closed", failures: 1 });
    b.onFailure(0);
    expect(b.state(0)).toEqual({ kind: "open", until: 100, openings: 1 });
    expect(b.acquire(50)).toBe("reject");
  });

  it("turns half-open when the open time is up and admits one probe at a time", () => {
    const { b, transitions } = breaker();
    b.onFailure(0);
    b.onFailure(0);
    expect(b.acquire(100)).toBe("probe");
    expect(b.acquire(100)).toBe("reject");
    b.onNeutral();
    expect(b.acquire(100)).toBe("probe");
    b.onSuccess();
    expect(b.acquire(100)).toBe("call");
    expect(transitions).toEqual(["open", "half-open", "closed"]);
  });

  it("stays open longer after each failed probe, up to the maximum", () => {
    const { b } = breaker();
    b.onFailure(0);
    b.onFailure(0);
    b.acquire(100);
    b.onFailure(100);
    expect(b.state(100)).toMatchObject({ kind: "open", until: 300, openings: 2 });
    b.acquire(300);
    b.onFailure(300);
    expect(b.state(300)).toMatchObject({ kind: "open", until: 550, openings: 3 });
  });

  it("stays closed when opening is vetoed", () => {
    const { b } = breaker(() => false);
    b.onFailure(0);
    b.onFailure(0);
    expect(b.state(0).kind).toBe("closed");
  });

  it("turns half-open at once on probeNow, keeping the count of openings; a closed circuit ignores it", () => {
    const { b, transitions } = breaker();
    b.probeNow();
    expect(b.state(0)).toEqual({ kind: "closed", failures: 0 });
    b.onFailure(0);
    b.onFailure(0);
    b.probeNow();
    expect(b.state(10)).toEqual({ kind: "half-open", probing: false, openings: 1 });
    expect(b.acquire(10)).toBe("probe");
    b.onFailure(10);
    expect(b.state(10)).toMatchObject({ kind: "open", until: 210, openings: 2 });
    expect(transitions).toEqual(["open", "half-open", "open"]);
  });
});
