import { createRequire } from "node:module";
import type { Random } from "./random.js";

// randexp is CommonJS whose types declare an ES default export it does not have at run time
// (module.exports is the class itself): load it as what it is.
const RandExp = createRequire(import.meta.url)("randexp") as typeof import("randexp").default;

/**
 * A string matching `pattern` (RE2 syntax, which for the patterns contracts use reads the same
 * in JavaScript), drawn from `random`, with printable ASCII wherever the pattern allows any
 * character and unbounded repetitions kept short. The caller checks the result with the real
 * validator: a pattern JavaScript reads differently yields a string the check rejects.
 */
export function stringMatching(pattern: string, random: Random, maxRepeat: number): string {
  const generator = new RandExp(pattern);
  generator.max = maxRepeat;
  generator.defaultRange.subtract(0, 0x1f).subtract(0x7f, 0x10ffff);
  generator.randInt = (min: number, max: number) => random.int(min, max);
  return generator.gen();
}
