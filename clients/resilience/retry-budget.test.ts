import { describe, expect, it } from "vitest";
import { RetryBudget } from "@protomesh/clients";

function drain(budget: RetryBudget, now: number): number {
  let n = 0;
  while (budget.tryWithdraw(now)) {
    n++;
  }
  return n;
}

describe("RetryBudget", () => {
  it("allows the floor plus a ratio of calls within the window", () => {
    const budget = new RetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 });
    for (let i = 0; i < 100; i++) {
      budget.deposit(0);
    }
    expect(drain(budget, 0)).toBe(10 + 10);
  });

  it("forgets calls and retries once they leave the window", () => {
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000 });
    for (let i = 0; i < 10; i++) {
      budget.deposit(0);
    }
    expect(drain(budget, 0)).toBe(5);
    expect(drain(budget, 500)).toBe(0);
    expect(drain(budget, 1_100)).toBe(0);
    budget.deposit(1_100);
    budget.deposit(1_100);
    expect(drain(budget, 1_100)).toBe(1);
  });
});
