import { fromBinary, ScalarType, toBinary, type DescField, type DescMessage, type Message, type Registry } from "@bufbuild/protobuf";

type Plain = Record<string, unknown>;

/** Fields a message carries that its schema does not define, by path: a renumbered field shows up here. */
export function unknownFields(schema: DescMessage, message: Message, prefix = ""): string[] {
  const found: string[] = [];
  const unknown = (message as { $unknown?: { no: number }[] }).$unknown ?? [];
  if (unknown.length > 0) found.push(`${prefix || "(message)"}: field ${[...new Set(unknown.map((u) => u.no))].join(", ")}`);
  const plain = message as unknown as Plain;
  for (const field of schema.fields) {
    const value = valueOf(plain, field);
    const path = prefix === "" ? field.name : `${prefix}.${field.name}`;
    if (field.fieldKind === "message" && value !== undefined) found.push(...unknownFields(field.message, value as Message, path));
    if (field.fieldKind === "list" && field.listKind === "message") {
      (value as Message[]).forEach((element, i) => found.push(...unknownFields(field.message, element, `${path}[${i}]`)));
    }
    if (field.fieldKind === "map" && field.mapKind === "message") {
      for (const [key, element] of Object.entries(value as Record<string, Message>)) found.push(...unknownFields(field.message, element, `${path}[${JSON.stringify(key)}]`));
    }
  }
  return found;
}

function valueOf(plain: Plain, field: DescField): unknown {
  if (field.oneof === undefined) return plain[field.localName];
  const selected = plain[field.oneof.localName] as { case?: string; value?: unknown };
  return selected.case === field.localName ? selected.value : undefined;
}

/**
 * Problems reading a response with the released baseline's descriptors: bytes the baseline
 * cannot decode, fields it does not know, and fields whose number or type changed since it.
 */
export function baselineProblems(schema: DescMessage, response: Message, baseline: Registry): string[] {
  const released = baseline.getMessage(schema.typeName);
  if (released === undefined) return [];
  let decoded: Message;
  try {
    decoded = fromBinary(released, toBinary(schema, response));
  } catch (err) {
    return [`the baseline cannot decode it: ${err instanceof Error ? err.message : String(err)}`];
  }
  return [...unknownFields(released, decoded).map((u) => `unknown to the baseline: ${u}`), ...changedFields(released, schema)];
}

/** Fields that kept their name but not their number or type, in the message and those it holds. */
function changedFields(released: DescMessage, current: DescMessage, seen = new Set<string>()): string[] {
  if (seen.has(current.typeName)) return [];
  seen.add(current.typeName);
  const changes: string[] = [];
  for (const before of released.fields) {
    const now = current.fields.find((f) => f.name === before.name);
    if (now === undefined) continue;
    if (now.number !== before.number) changes.push(`${current.typeName}.${now.name} was field ${before.number}, is ${now.number}`);
    if (typeOf(now) !== typeOf(before)) changes.push(`${current.typeName}.${now.name} was ${typeOf(before)}, is ${typeOf(now)}`);
    if (before.message !== undefined && now.message !== undefined) changes.push(...changedFields(before.message, now.message, seen));
  }
  return changes;
}

function typeOf(field: DescField): string {
  const element =
    field.fieldKind === "map"
      ? `map<${ScalarType[field.mapKey].toLowerCase()}, ${field.mapKind === "scalar" ? ScalarType[field.scalar].toLowerCase() : field.mapKind === "enum" ? field.enum.typeName : field.message.typeName}>`
      : field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")
        ? `${ScalarType[field.scalar].toLowerCase()}`
        : (field.enum?.typeName ?? field.message?.typeName ?? "?");
  return field.fieldKind === "list" ? `repeated ${element}` : element;
}
