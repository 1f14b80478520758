import { describe, expect, it } from "vitest";
import { subjectMatches } from "./subject.js";

describe("subjectMatches", () => {
  it.each([
    ["acme.items.v1.>", "acme.items.v1.ItemAdded", true],
    ["acme.items.v1.>", "acme.items.v1", false],
    ["acme.*.v1.ItemAdded", "acme.items.v1.ItemAdded", true],
    ["acme.*.v1", "acme.items.v1.ItemAdded", false],
    ["acme.items.v1.ItemAdded", "acme.items.v1.ItemAdded", true],
    ["acme.items.v1.ItemAdded", "acme.items.v1.ItemRemoved", false],
  ])("%s matches %s: %s", (pattern, subject, expected) => {
    expect(subjectMatches(pattern, subject)).toBe(expected);
  });
});
