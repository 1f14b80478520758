import { create, type DescField, type DescMessage, type Message } from "@bufbuild/protobuf";
import type { Validator } from "@bufbuild/protovalidate";
import type { Random } from "./random.js";
import { fieldRuleSet, hasRules, isRequiredOneof } from "./rules.js";
import { enumValue, scalarValue } from "./scalar-values.js";

/** Nested messages deeper than this are left unset unless a rule requires them. */
const maxDepth = 4;
/** Elements in a generated list when its rules allow any count. */
const defaultListLength = 2;

/**
 * A request built from the message's protovalidate rules that protovalidate accepts, or the
 * violations of the last attempt when no attempt is accepted (a rule the generator does not
 * understand, a CEL expression, a pattern JavaScript reads differently).
 */
export function validRequest(
  schema: DescMessage,
  validator: Validator,
  random: Random,
  attempts = 10,
): { request: Message; problems?: undefined } | { request?: undefined; problems: string[] } {
  let problems: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const request = generateMessage(schema, random, 0);
    const result = validator.validate(schema, request);
    if (result.kind === "valid") return { request };
    problems = result.kind === "invalid" ? result.violations.map((v) => v.toString()) : [result.error.message];
  }
  return { problems };
}

export function generateMessage(schema: DescMessage, random: Random, depth: number): Message {
  const init: Record<string, unknown> = {};
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const first = member.fields[0];
      if (first !== undefined && isRequiredOneof(member)) init[member.localName] = { case: first.localName, value: fieldValue(first, random, depth, true) };
      continue;
    }
    const value = fieldValue(member, random, depth, false);
    if (value !== undefined) init[member.localName] = value;
  }
  return create(schema, init);
}

function fieldValue(field: DescField, random: Random, depth: number, needed: boolean): unknown {
  const rules = fieldRuleSet(field);
  switch (field.fieldKind) {
    case "scalar":
      return scalarValue(field.scalar, rules?.type, random, field.longAsString);
    case "enum":
      return enumValue(field.enum, rules?.type, random);
    case "message":
      if (!needed && rules?.required !== true && (depth >= maxDepth || !hasRules(field.message))) return undefined;
      return generateMessage(field.message, random, depth + 1);
    case "list": {
      const values = rules?.type?.kind === "repeated" ? rules.type.values : new Map<string, unknown>();
      const min = Number(values.get("min_items") ?? 0);
      const max = Number(values.get("max_items") ?? Math.max(min, defaultListLength));
      if (field.listKind === "message" && depth >= maxDepth && min === 0) return [];
      const length = Math.min(Math.max(min, 1), max);
      return Array.from({ length }, () => {
        switch (field.listKind) {
          case "scalar":
            return scalarValue(field.scalar, rules?.items?.type, random, field.longAsString);
          case "enum":
            return enumValue(field.enum, rules?.items?.type, random);
          default:
            return generateMessage(field.message, random, depth + 1);
        }
      });
    }
    case "map":
      return undefined;
  }
}
