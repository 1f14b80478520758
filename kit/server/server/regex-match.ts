import { RE2JS } from "@bufbuild/re2";

/** protovalidate's `regexMatch` option (its type is not exported). */
export type RegexMatcher = (pattern: string, against: string) => boolean;

// One atom: a literal ASCII character or a class of them (no negation, escapes or nesting).
// Quantifier: ?, *, + or a count. Anything else (groups, alternation, escapes, ".", lazy
// quantifiers, negated classes) is not in the subset.
const atom = String.raw`(?:[A-Za-z0-9_@:/,=-]|\[[A-Za-z0-9_.@:/,=+ -]+\])`;
const quantifier = String.raw`(?:[?*+]|\{\d{1,3}(?:,\d{0,3})?\})`;
const subset = new RegExp(String.raw`^\^(?:${atom}${quantifier}?)+\$?$`);
const quantifiers = new RegExp(quantifier, "g");

/**
 * protovalidate's regex matcher (string.pattern rules, CEL `matches()`), with patterns of the
 * simple shape contracts use (`^[A-Z0-9][A-Z0-9-]{2,31}$`) run by V8's own RegExp instead of
 * the RE2 interpreter, which cost more per call than the rest of validation.
 *
 * The subset keeps RE2's contract: anchored at the start, single characters or classes of ASCII
 * characters, at most one quantifier whose count varies. For such patterns both engines accept
 * the same strings (no groups, alternation, dot, escapes or negated classes where their syntax
 * or Unicode handling differ), and V8's backtracking stays linear in the input: with one
 * variable quantifier and a fixed start it backs off one position at a time. Every other
 * pattern goes to RE2 unchanged.
 */
export function createRegexMatch(): RegexMatcher {
  // Patterns come from schema rules, a fixed set; CEL can build them from input, hence a bound
  // (protovalidate's own RE2 matcher bounds its cache the same way).
  const compiled = new Map<string, { test(against: string): boolean }>();
  return (pattern, against) => {
    let re = compiled.get(pattern);
    if (re === undefined) {
      if (compiled.size >= 1024) compiled.clear();
      // RE2 throws on a pattern outside its syntax; protovalidate reports that as RE2 would.
      re = (inLinearSubset(pattern) ? compileNative(pattern) : undefined) ?? RE2JS.compile(pattern);
      compiled.set(pattern, re);
    }
    return re.test(against);
  };
}

/** Whether V8 matches `pattern` exactly as RE2 does, in time linear in the input. */
export function inLinearSubset(pattern: string): boolean {
  if (!subset.test(pattern)) return false;
  let variable = 0;
  for (const [q] of pattern.matchAll(quantifiers)) {
    if (q === "?" || q === "*" || q === "+") {
      variable++;
      continue;
    }
    const [min, max] = q.slice(1, -1).split(",");
    if (max === "" || (max !== undefined && Number(max) !== Number(min))) variable++;
  }
  return variable <= 1;
}

// A pattern V8 refuses (a range out of order) goes to RE2, which reports it as RE2 would.
function compileNative(pattern: string): RegExp | undefined {
  try {
    return new RegExp(pattern, "u");
  } catch {
    return undefined;
  }
}
