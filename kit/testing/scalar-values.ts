import { ScalarType, type DescEnum } from "@bufbuild/protobuf";
import { stringMatching } from "./pattern-strings.js";
import type { Random } from "./random.js";
import type { TypedRules } from "./rules.js";

// Values meant to satisfy a field's type rules. They are proposals: the caller keeps a request
// only when protovalidate itself accepts it.

const noRules: ReadonlyMap<string, unknown> = new Map();
const longTypes = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const floatTypes = new Set([ScalarType.FLOAT, ScalarType.DOUBLE]);

/** The range of an integer scalar type, both ends included. */
export function integerRange(scalar: ScalarType): [bigint, bigint] {
  switch (scalar) {
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return [0n, 2n ** 32n - 1n];
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return [0n, 2n ** 64n - 1n];
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return [-(2n ** 63n), 2n ** 63n - 1n];
    default:
      return [-(2n ** 31n), 2n ** 31n - 1n];
  }
}

export const isFloat = (scalar: ScalarType): boolean => floatTypes.has(scalar);

/** A bigint or number as the field's own representation (bigint or string for 64-bit types). */
export function integerAs(scalar: ScalarType, value: bigint, longAsString: boolean): unknown {
  if (!longTypes.has(scalar)) return Number(value);
  return longAsString ? value.toString() : value;
}

export function scalarValue(scalar: ScalarType, rules: TypedRules | undefined, random: Random, longAsString: boolean): unknown {
  const values = rules?.values ?? noRules;
  if (values.has("const")) return values.get("const");
  const allowed = values.get("in") as unknown[] | undefined;
  if (allowed !== undefined && allowed.length > 0) return random.pick(allowed);
  switch (scalar) {
    case ScalarType.STRING:
      return stringValue(values, random);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: lengthWithin(values, random) }, () => random.int(0, 255));
    case ScalarType.BOOL:
      return true;
    default:
      return isFloat(scalar) ? floatValue(values, random) : integerAs(scalar, integerValue(scalar, values, random), longAsString);
  }
}

function lengthWithin(values: ReadonlyMap<string, unknown>, random: Random): number {
  const exact = values.get("len");
  if (exact !== undefined) return Number(exact);
  const min = Number(values.get("min_len") ?? 0);
  const max = Number(values.get("max_len") ?? Math.max(min, 12));
  return random.int(Math.min(Math.max(min, 1), max), Math.min(max, Math.max(min, 12)));
}

function stringValue(values: ReadonlyMap<string, unknown>, random: Random): string {
  if (values.get("uuid") === true) return uuid(random);
  if (values.get("email") === true) return `user${random.int(1, 99_999)}@example.com`;
  const pattern = values.get("pattern") as string | undefined;
  if (pattern !== undefined) {
    const max = Number(values.get("len") ?? values.get("max_len") ?? 8);
    return stringMatching(pattern, random, Math.max(1, Math.min(max, 8)));
  }
  const prefix = (values.get("prefix") as string | undefined) ?? "";
  const suffix = (values.get("suffix") as string | undefined) ?? "";
  const contains = (values.get("contains") as string | undefined) ?? "";
  const fixed = prefix.length + contains.length + suffix.length;
  const length = Math.max(lengthWithin(values, random) - fixed, 0);
  const letters = Array.from({ length }, () => String.fromCharCode(random.pick([random.int(0x61, 0x7a), random.int(0x30, 0x39)]))).join("");
  return prefix + contains + letters + suffix;
}

function uuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => random.int(0, 15).toString(16));
  hex[12] = "4";
  hex[16] = (8 + random.int(0, 3)).toString(16);
  const s = hex.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function integerValue(scalar: ScalarType, values: ReadonlyMap<string, unknown>, random: Random): bigint {
  const [typeMin, typeMax] = integerRange(scalar);
  const big = (name: string) => (values.has(name) ? BigInt(values.get(name) as number | bigint) : undefined);
  const gt = big("gt");
  const lt = big("lt");
  const low = gt !== undefined ? gt + 1n : (big("gte") ?? typeMin);
  const high = lt !== undefined ? lt - 1n : (big("lte") ?? typeMax);
  const excluded = new Set(((values.get("not_in") as (number | bigint)[] | undefined) ?? []).map((v) => BigInt(v)));
  let value = (low > 1n ? low : high < 1n ? high : 1n) + BigInt(random.int(0, 9));
  if (value > high) value = high;
  while (excluded.has(value) && value < high) value++;
  while (excluded.has(value) && value > low) value--;
  return value;
}

function floatValue(values: ReadonlyMap<string, unknown>, random: Random): number {
  const low = (values.get("gt") ?? values.get("gte")) as number | undefined;
  const high = (values.get("lt") ?? values.get("lte")) as number | undefined;
  const excluded = (values.get("not_in") as number[] | undefined) ?? [];
  let value = low !== undefined && high !== undefined ? (low + high) / 2 : low !== undefined ? low + 1 : high !== undefined ? high - 1 : random.int(1, 100);
  while (excluded.includes(value)) value += 0.25;
  return value;
}

export function enumValue(descriptor: DescEnum, rules: TypedRules | undefined, random: Random): number {
  const values = rules?.values ?? noRules;
  if (values.has("const")) return values.get("const") as number;
  const allowed = values.get("in") as number[] | undefined;
  if (allowed !== undefined && allowed.length > 0) return random.pick(allowed);
  const excluded = (values.get("not_in") as number[] | undefined) ?? [];
  const candidates = descriptor.values.map((v) => v.number).filter((n) => n !== 0 && !excluded.includes(n));
  return candidates.length > 0 ? random.pick(candidates) : 0;
}
