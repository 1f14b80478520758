import { describe, expect, it } from "vitest";
import { subjectMatches } from "./subject.js";

describe("subjectMatches", () => {
  it.each([
    ["shop.orders.v1.>", "shop.orders.v1.OrderPlaced", true],
    ["shop.orders.v1.>", "shop.orders.v1", false],
    ["shop.*.v1.OrderPlaced", "shop.orders.v1.OrderPlaced", true],
    ["shop.*.v1", "shop.orders.v1.OrderPlaced", false],
    ["shop.orders.v1.OrderPlaced", "shop.orders.v1.OrderPlaced", true],
    ["shop.orders.v1.OrderPlaced", "shop.orders.v1.OrderCancelled", false],
  ])("%s matches %s: %s", (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});
