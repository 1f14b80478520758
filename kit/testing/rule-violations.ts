import { clone, ScalarType, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import type { Validator } from "@bufbuild/protovalidate";
import { fieldRuleSet, messageRuleNames, ruleNames, type FieldRuleSet } from "./rules.js";
import { integerAs, integerRange, isFloat } from "./scalar-values.js";

/** A request that breaks one rule of one field and nothing else, as protovalidate itself confirmed. */
export interface RuleViolation {
  /** Field path as protovalidate spells it: "items[0].sku". */
  path: string;
  /** Rule path: "string.min_len", "repeated.max_items", "required". */
  rule: string;
  request: Message;
}

/** A rule of the contract that no request checks, and why. */
export interface UncheckedRule {
  path: string;
  rule: string;
  reason: string;
}

type Plain = Record<string, unknown>;

interface FieldSite {
  field: DescField;
  path: string;
  rules: FieldRuleSet;
  /** The message holding the field, found in a copy of the request. */
  holder: (root: Plain) => Plain;
}

/**
 * For each rule on the fields the valid request sets (nested messages and the first element of
 * message lists included), a copy of the request that breaks exactly that rule; rules for
 * which no such copy can be made are returned as unchecked, with the reason.
 */
export function ruleViolations(schema: DescMessage, valid: Message, validator: Validator): { violations: RuleViolation[]; unchecked: UncheckedRule[] } {
  const violations: RuleViolation[] = [];
  const unchecked: UncheckedRule[] = [];
  const visit = (message: DescMessage, holder: (root: Plain) => Plain, prefix: string): void => {
    for (const rule of messageRuleNames(message)) unchecked.push({ path: prefix || "(request)", rule, reason: "message-level and oneof rules are not generated" });
    const current = holder(valid);
    for (const field of message.fields) {
      const path = prefix === "" ? field.name : `${prefix}.${field.name}`;
      const rules = fieldRuleSet(field);
      if (rules !== undefined) {
        const site = { field, path, rules, holder };
        for (const rule of ruleNames(rules)) {
          const candidates = breaking(site, rule, read(current, field));
          if (candidates === undefined) {
            unchecked.push({ path, rule, reason: "no generator for this rule" });
            continue;
          }
          const request = confirmed(schema, valid, validator, site, rule, candidates);
          if (request === undefined) unchecked.push({ path, rule, reason: "no value found that breaks only this rule" });
          else violations.push({ path, rule, request });
        }
      }
      const value = read(current, field);
      if (field.fieldKind === "message" && value !== undefined) {
        visit(field.message, (root) => read(holder(root), field) as Plain, path);
      } else if (field.fieldKind === "list" && field.listKind === "message" && (value as unknown[]).length > 0) {
        visit(field.message, (root) => (read(holder(root), field) as Plain[])[0] as Plain, `${path}[0]`);
      }
    }
  };
  visit(schema, (root) => root, "");
  return { violations, unchecked };
}

function read(holder: Plain, field: DescField): unknown {
  if (field.oneof === undefined) return holder[field.localName];
  const selected = holder[field.oneof.localName] as { case?: string; value?: unknown };
  return selected.case === field.localName ? selected.value : undefined;
}

function write(holder: Plain, field: DescField, value: unknown): void {
  if (field.oneof === undefined) holder[field.localName] = value;
  else holder[field.oneof.localName] = value === undefined ? { case: undefined } : { case: field.localName, value };
}

/** A sentinel for "clear the field" among the candidate values. */
const unset = Symbol("unset");

function confirmed(schema: DescMessage, valid: Message, validator: Validator, site: FieldSite, rule: string, candidates: unknown[]): Message | undefined {
  for (const candidate of candidates) {
    const request = clone(schema, valid);
    write(site.holder(request), site.field, candidate === unset ? zeroOf(site.field) : candidate);
    const result = validator.validate(schema, request);
    if (result.kind !== "invalid") continue;
    const onlyThisField = result.violations.every((v) => pathToString(v.field) === site.path);
    if (onlyThisField && result.violations.some((v) => pathToString(v.rule) === rule || v.ruleId === rule || rangeRuleNames(v.ruleId).includes(rule))) return request;
  }
  return undefined;
}

/** A range rule reports both bounds under one id ("int32.gt_lte"): the names of both. */
function rangeRuleNames(ruleId: string): string[] {
  const range = /^(\w+)\.(gte?)_(lte?)(?:_exclusive)?$/.exec(ruleId);
  return range === null ? [] : [`${range[1]}.${range[2]}`, `${range[1]}.${range[3]}`];
}

function zeroOf(field: DescField): unknown {
  switch (field.fieldKind) {
    case "list":
      return [];
    case "map":
      return {};
    case "enum":
      return 0;
    case "scalar":
      return field.scalar === ScalarType.STRING ? "" : field.scalar === ScalarType.BOOL ? false : field.scalar === ScalarType.BYTES ? new Uint8Array(0) : integerAs(field.scalar, 0n, field.longAsString);
    default:
      return undefined;
  }
}

/** Values meant to break `rule`, or undefined when this rule is not supported. */
function breaking(site: FieldSite, rule: string, current: unknown): unknown[] | undefined {
  if (rule === "required") return [unset];
  const [kind, name] = rule.split(".") as [string, string | undefined];
  const values = site.rules.type?.values;
  if (name === undefined || values === undefined) return undefined;
  const limit = values.get(name);
  const { field } = site;
  if (kind === "string" && typeof current === "string") return brokenStrings(name, limit, current);
  if (kind === "bytes" && current instanceof Uint8Array) return brokenBytes(name, limit, current);
  if (kind === "repeated" && Array.isArray(current)) return brokenLists(name, limit, current);
  if (kind === "enum" && field.fieldKind === "enum") {
    const defined = field.enum.values.map((v) => v.number);
    const undefinedNumber = Math.max(...defined) + 1;
    if (name === "defined_only") return [undefinedNumber];
    if (name === "in") return [...defined.filter((n) => !(limit as number[]).includes(n)), undefinedNumber];
    if (name === "not_in") return [...(limit as number[])];
    if (name === "const") return defined.filter((n) => n !== limit);
    return undefined;
  }
  if (kind === "bool" && name === "const") return [!(limit as boolean)];
  if (field.fieldKind === "scalar" && isFloat(field.scalar) && typeof current === "number") return brokenFloats(name, limit as number | number[]);
  if (field.fieldKind === "scalar" && (typeof current === "number" || typeof current === "bigint" || typeof current === "string")) {
    const candidates = brokenIntegers(name, limit as number | bigint | (number | bigint)[]);
    if (candidates === undefined) return undefined;
    const [min, max] = integerRange(field.scalar);
    return candidates.filter((n) => n >= min && n <= max).map((n) => integerAs(field.scalar, n, field.longAsString));
  }
  return undefined;
}

function brokenStrings(name: string, limit: unknown, current: string): string[] | undefined {
  const last = current.at(-1) ?? "a";
  switch (name) {
    case "min_len":
    case "len":
      return [current.slice(0, Math.max(Number(limit) - 1, 0)), current + last, ""];
    case "max_len":
      return [current + last.repeat(Math.max(Number(limit) + 1 - current.length, 1))];
    case "pattern":
      return ["", `~${current}`, `${current}~`, current.toLowerCase(), current.toUpperCase(), ` ${current}`];
    case "prefix":
      return [`~${current.slice(String(limit).length)}`];
    case "suffix":
      return [`${current.slice(0, current.length - String(limit).length)}~`];
    case "in":
    case "const":
      return [`${current}~`, `~${current}`];
    case "not_in":
      return [...(limit as string[])];
    case "uuid":
      return ["not-a-uuid", ""];
    default:
      return undefined;
  }
}

function brokenBytes(name: string, limit: unknown, current: Uint8Array): Uint8Array[] | undefined {
  const n = Number(limit);
  switch (name) {
    case "min_len":
    case "len":
      return [current.slice(0, Math.max(n - 1, 0)), Uint8Array.from([...current, 0])];
    case "max_len":
      return [new Uint8Array(n + 1)];
    default:
      return undefined;
  }
}

function brokenLists(name: string, limit: unknown, current: unknown[]): unknown[][] | undefined {
  const n = Number(limit);
  switch (name) {
    case "min_items":
      return [current.slice(0, Math.max(n - 1, 0))];
    case "max_items":
      return current.length === 0 ? [] : [Array.from({ length: n + 1 }, (_, i) => current[i % current.length])];
    case "unique":
      return current.length === 0 ? [] : [[current[0], current[0]]];
    default:
      return undefined;
  }
}

function brokenIntegers(name: string, limit: number | bigint | (number | bigint)[]): bigint[] | undefined {
  if (name === "in") return [(limit as (number | bigint)[]).map(BigInt).reduce((a, b) => (a > b ? a : b)) + 1n];
  if (name === "not_in") return (limit as (number | bigint)[]).map(BigInt);
  const bound = BigInt(limit as number | bigint);
  switch (name) {
    case "gt":
      return [bound, bound - 1n];
    case "gte":
      return [bound - 1n];
    case "lt":
      return [bound, bound + 1n];
    case "lte":
      return [bound + 1n];
    case "const":
      return [bound + 1n, bound - 1n];
    default:
      return undefined;
  }
}

function brokenFloats(name: string, limit: number | number[]): number[] | undefined {
  if (name === "finite") return [Number.NaN, Number.POSITIVE_INFINITY];
  if (name === "in") return [Math.max(...(limit as number[])) + 1];
  if (name === "not_in") return [...(limit as number[])];
  const bound = limit as number;
  switch (name) {
    case "gt":
    case "lt":
      return [bound];
    case "gte":
      return [bound - 1];
    case "lte":
    case "const":
      return [bound + 1];
    default:
      return undefined;
  }
}
