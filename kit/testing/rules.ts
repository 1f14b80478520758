import { getOption, hasOption, type DescField, type DescMessage, type DescOneof } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import {
  field as fieldRulesOption,
  FieldRulesSchema,
  message as messageRulesOption,
  oneof as oneofRulesOption,
  type FieldRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

/** The protovalidate rules of one field, read from its descriptor. */
export interface FieldRuleSet {
  required: boolean;
  /** The rules of the field's type ("string", "int32", "repeated", "enum", ...), if any. */
  type?: TypedRules;
  /** Rules for each element of a repeated field (repeated.items). */
  items?: FieldRuleSet;
  /** Count of CEL expressions on the field. */
  cel: number;
}

/** Type rules by their proto names ("min_len", "gt", "uuid"), holding only the rules that are set. */
export interface TypedRules {
  kind: string;
  values: ReadonlyMap<string, unknown>;
}

export function fieldRuleSet(field: DescField): FieldRuleSet | undefined {
  return hasOption(field, fieldRulesOption) ? toRuleSet(getOption(field, fieldRulesOption)) : undefined;
}

function toRuleSet(rules: FieldRules): FieldRuleSet {
  const set: FieldRuleSet = { required: rules.required, cel: rules.cel.length };
  if (rules.type.case === undefined) return set;
  const schema = FieldRulesSchema.fields.find((f) => f.localName === rules.type.case)?.message;
  if (schema === undefined) return set;
  const typed = reflect(schema, rules.type.value);
  const values = new Map<string, unknown>();
  for (const field of schema.fields) {
    if (!typed.isSet(field)) continue;
    const plain = rules.type.value as unknown as Record<string, unknown>;
    const value = field.oneof === undefined ? plain[field.localName] : (plain[field.oneof.localName] as { value: unknown }).value;
    values.set(field.name, value);
  }
  set.type = { kind: rules.type.case, values };
  const items = values.get("items");
  if (rules.type.case === "repeated" && items !== undefined) set.items = toRuleSet(items as FieldRules);
  return set;
}

/** Every rule on a field, named as protovalidate names rule paths: "required", "string.min_len", "cel[0]". */
export function ruleNames(rules: FieldRuleSet): string[] {
  const names = rules.required ? ["required"] : [];
  for (const name of rules.type?.values.keys() ?? []) names.push(`${rules.type?.kind}.${name}`);
  for (let i = 0; i < rules.cel; i++) names.push(`cel[${i}]`);
  return names;
}

/** Message-level rules (CEL on the message, message oneofs) and required oneofs: checked by nothing here. */
export function messageRuleNames(message: DescMessage): string[] {
  const names: string[] = [];
  if (hasOption(message, messageRulesOption)) {
    const rules = getOption(message, messageRulesOption);
    rules.cel.forEach((_, i) => names.push(`message cel[${i}]`));
    if (rules.oneof.length > 0) names.push("message oneof");
  }
  for (const oneof of message.oneofs) if (isRequiredOneof(oneof)) names.push(`oneof ${oneof.name} required`);
  return names;
}

export function isRequiredOneof(oneof: DescOneof): boolean {
  return hasOption(oneof, oneofRulesOption) && getOption(oneof, oneofRulesOption).required;
}

/** True when a message type or any message it contains carries protovalidate rules. */
export function hasRules(message: DescMessage, seen = new Set<string>()): boolean {
  if (seen.has(message.typeName)) return false;
  seen.add(message.typeName);
  if (messageRuleNames(message).length > 0) return true;
  return message.fields.some((f) => fieldRuleSet(f) !== undefined || (f.message !== undefined && hasRules(f.message, seen)));
}
