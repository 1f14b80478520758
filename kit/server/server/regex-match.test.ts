import { RE2JS } from "@bufbuild/re2";
import { describe, expect, it } from "vitest";
import { createRegexMatch, inLinearSubset } from "./regex-match.js";

const re2 = (pattern: string, against: string): boolean => RE2JS.compile(pattern).test(against);

describe("createRegexMatch", () => {
  it("takes the shapes the contracts use and nothing with groups, alternation, dots, escapes or two variable counts", () => {
    for (const pattern of ["^[A-Z0-9][A-Z0-9-]{2,31}$", "^[A-Za-z0-9_.@-]+$", "^[A-Za-z0-9_.:-]+$", "^[A-Z]{3}$", "^ab?c"]) {
      expect(inLinearSubset(pattern), pattern).toBe(true);
    }
    for (const pattern of ["[A-Z]+$", "^(a|b)+$", "^a|b$", "^.+$", "^\\d+$", "^[^a]+$", "^a+b+$", "^a*[b]{1,3}$", "^a+?$", "^a{1,}b*$", "^$"]) {
      expect(inLinearSubset(pattern), pattern).toBe(false);
    }
  });

  it("answers as RE2 does, in and outside the subset", () => {
    const match = createRegexMatch();
    const patterns = ["^[A-Z0-9][A-Z0-9-]{2,31}$", "^[A-Za-z0-9_.@-]+$", "^[A-Z]{3}$", "^ab?c", "^a{2,}", "^[a-c]*x$", "^(a|b)+$", "^.{2}$", "[0-9]+"];
    const inputs = ["", "ITEM-1", "item-1", "A", "AB", "ABC", "ABCD", "A".repeat(32), "A".repeat(33), "EUR", "EU\n", "EUR\n", "a.b@c-d_e", "a b", "ac", "abc", "abbc", "aa", "abcx", "x", "ab", "é", "😀", "😀😀", "12x", "-AB"];
    for (const pattern of patterns) {
      for (const against of inputs) {
        expect(match(pattern, against), `${pattern} on ${JSON.stringify(against)}`).toBe(re2(pattern, against));
      }
    }
  });

  it("rejects a pattern outside RE2's syntax as RE2 does", () => {
    const match = createRegexMatch();
    expect(() => match("^[z-a]+$", "a")).toThrow();
    expect(() => match("^(?<=a)b", "b")).toThrow();
  });

  it("stays linear on a long input that would make a backtracking engine retry", () => {
    const match = createRegexMatch();
    const started = performance.now();
    expect(match("^[A-Za-z0-9_.@-]+$", `${"a".repeat(200_000)}!`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
