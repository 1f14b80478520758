import { create, ScalarType, toBinary, type DescField, type DescMessage, type Message, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence, isWrapperDesc } from "@bufbuild/protobuf/wkt";

/**
 * A unary gRPC response frame (flag byte, 4-byte length, message) for `message`, written in one
 * pass into a reused buffer and copied out once. protobuf-es's `toBinary` builds a Uint8Array
 * per nested message and per run of varints and then joins them; on the lean gRPC path that
 * was the largest share of the server's CPU per call after the HTTP/2 stack.
 *
 * `message` may also be the plain init object a handler returned (nested messages as plain
 * objects too): its bytes are those of `create(schema, init)`, written without making the
 * message, whose zero-filled copy of every field was a share of a small call's allocations.
 *
 * The bytes are `toBinary`'s (same field order, unknown fields last). Whatever this writer does
 * not handle (maps, groups, proto2 required fields, unboxed wrapper values, values of an unusual
 * type or out of range) goes to `create` and `toBinary`, which encode it or throw their own error.
 */
export function encodeGrpcFrame<Desc extends DescMessage>(schema: Desc, message: Message | MessageInitShape<Desc>): Buffer {
  const typeName = (message as { $typeName?: string }).$typeName;
  if (typeName === schema.typeName || typeName === undefined) {
    writer.pos = 5;
    if (writer.message(planOf(schema), message as unknown as Fields)) {
      const frame = Buffer.allocUnsafe(writer.pos);
      writer.buf.copy(frame, 0, 0, writer.pos);
      frame.writeUInt8(0, 0);
      frame.writeUInt32BE(writer.pos - 5, 1);
      return frame;
    }
  }
  const bytes = toBinary(schema, typeName === schema.typeName ? (message as MessageShape<Desc>) : create(schema, message as MessageInitShape<Desc>));
  const frame = Buffer.allocUnsafe(5 + bytes.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, 5);
  return frame;
}

type Fields = Record<string, unknown> & { $typeName?: string; $unknown?: { no: number; wireType: number; data: Uint8Array }[] };

const enum Wire {
  Varint = 0,
  Bit64 = 1,
  LengthDelimited = 2,
  Bit32 = 5,
}

interface FieldPlan {
  readonly field: DescField;
  readonly localName: string;
  readonly oneof: string | undefined;
  readonly implicit: boolean;
  /** Enums are written as the int32 scalars they are on the wire. */
  readonly kind: "scalar" | "message" | "list";
  readonly scalar: ScalarType;
  readonly packed: boolean;
  readonly listOfMessages: boolean;
  readonly message: DescMessage | undefined;
  /**
   * A singular google.protobuf wrapper field: protobuf-es holds its value unboxed (a string for
   * a StringValue) and create() boxes whatever it is given, so toBinary writes it.
   */
  readonly unboxed: boolean;
  /** The enum's first value (its zero under implicit presence). */
  readonly enumZero: number;
}

interface MessagePlan {
  /** undefined when the message has a field this writer leaves to toBinary. */
  readonly fields: readonly FieldPlan[] | undefined;
}

const plans = new WeakMap<DescMessage, MessagePlan>();

function planOf(desc: DescMessage): MessagePlan {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = { fields: planFields(desc) };
    plans.set(desc, plan);
  }
  return plan;
}

function planFields(desc: DescMessage): FieldPlan[] | undefined {
  const fields: FieldPlan[] = [];
  for (const field of [...desc.fields].sort((a, b) => a.number - b.number)) {
    if (field.presence === FeatureSet_FieldPresence.LEGACY_REQUIRED || field.fieldKind === "map") return undefined;
    if ((field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) && field.delimitedEncoding) return undefined;
    fields.push({
      field,
      localName: field.localName,
      oneof: field.oneof?.localName,
      implicit: field.presence === FeatureSet_FieldPresence.IMPLICIT,
      kind: field.fieldKind === "enum" ? "scalar" : field.fieldKind === "list" ? "list" : field.fieldKind === "message" ? "message" : "scalar",
      scalar: field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : ScalarType.INT32,
      packed: field.fieldKind === "list" && field.packed,
      listOfMessages: field.fieldKind === "list" && field.listKind === "message",
      message: field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined,
      unboxed: field.fieldKind === "message" && isWrapperDesc(field.message),
      enumZero: field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum") ? (field.enum.values[0]?.number ?? 0) : 0,
    });
  }
  return fields;
}

const int32Max = 0x7fffffff;
const int32Min = -0x80000000;
const uint32Max = 0xffffffff;
const float32Max = 3.4028234663852886e38;
const uint64Mask = (1n << 64n) - 1n;
const int64Max = (1n << 63n) - 1n;
const int64Min = -(1n << 63n);

class FrameWriter {
  buf = Buffer.allocUnsafeSlow(16 * 1024);
  pos = 0;

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** Writes the fields of `value`; false when toBinary must do it. */
  message(plan: MessagePlan, value: Fields): boolean {
    const fields = plan.fields;
    if (fields === undefined) return false;
    for (const f of fields) {
      let v: unknown;
      if (f.oneof !== undefined) {
        // An init object may leave the oneof out.
        const selected = value[f.oneof] as { case: string | undefined; value?: unknown } | undefined;
        if (selected?.case !== f.localName) continue;
        v = selected.value;
      } else {
        v = value[f.localName];
        // Only an init object leaves a field undefined: the field is not set.
        if (v === undefined) continue;
        if (f.implicit) {
          if (f.kind === "list" ? (v as unknown[]).length === 0 : isImplicitZero(f, v)) continue;
        } else if (!Object.prototype.hasOwnProperty.call(value, f.localName)) {
          continue;
        }
      }
      if (!this.field(f, v)) return false;
    }
    const unknown = value.$unknown;
    if (unknown !== undefined) {
      for (const { no, wireType, data } of unknown) {
        this.ensure(10 + data.length);
        this.varint32(((no << 3) | wireType) >>> 0);
        this.buf.set(data, this.pos);
        this.pos += data.length;
      }
    }
    return true;
  }

  private field(f: FieldPlan, v: unknown): boolean {
    const no = f.field.number;
    if (f.kind === "message") return !f.unboxed && this.nested(no, f.message as DescMessage, v);
    if (f.kind === "scalar") return this.scalar(no, f.scalar, v, true);
    const list = v as unknown[];
    if (f.listOfMessages) {
      for (const item of list) if (!this.nested(no, f.message as DescMessage, item)) return false;
      return true;
    }
    if (!f.packed) {
      for (const item of list) if (!this.scalar(no, f.scalar, item, true)) return false;
      return true;
    }
    if (list.length === 0) return true;
    this.ensure(10);
    this.varint32(tag(no, Wire.LengthDelimited));
    const start = this.reserveLength();
    for (const item of list) if (!this.scalar(no, f.scalar, item, false)) return false;
    this.patchLength(start);
    return true;
  }

  // A message of the field's type or an init object for one.
  private nested(no: number, desc: DescMessage, v: unknown): boolean {
    if (typeof v !== "object" || v === null) return false;
    const value = v as Fields;
    if (value.$typeName !== desc.typeName && value.$typeName !== undefined) return false;
    this.ensure(10);
    this.varint32(tag(no, Wire.LengthDelimited));
    const start = this.reserveLength();
    if (!this.message(planOf(desc), value)) return false;
    this.patchLength(start);
    return true;
  }

  // One byte for the length; patchLength moves the body when the length needs more.
  private reserveLength(): number {
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  private patchLength(start: number): void {
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[start - 1] = length;
      return;
    }
    const size = varintSize(length);
    this.ensure(size - 1);
    this.buf.copyWithin(start - 1 + size, start, this.pos);
    const end = this.pos + size - 1;
    this.pos = start - 1;
    this.varint32(length);
    this.pos = end;
  }

  // With a tag (tagged) or as an item of a packed list. False for a value toBinary must judge.
  private scalar(no: number, type: ScalarType, v: unknown, tagged: boolean): boolean {
    this.ensure(20);
    switch (type) {
      case ScalarType.STRING:
        if (typeof v !== "string") return false;
        if (tagged) this.varint32(tag(no, Wire.LengthDelimited));
        this.string(v);
        return true;
      case ScalarType.BYTES:
        if (!(v instanceof Uint8Array)) return false;
        if (tagged) this.varint32(tag(no, Wire.LengthDelimited));
        this.varint32(v.length);
        this.ensure(v.length);
        this.buf.set(v, this.pos);
        this.pos += v.length;
        return true;
      case ScalarType.BOOL:
        if (typeof v !== "boolean") return false;
        if (tagged) this.varint32(tag(no, Wire.Varint));
        this.buf[this.pos++] = v ? 1 : 0;
        return true;
      case ScalarType.INT32:
      case ScalarType.SINT32:
      case ScalarType.SFIXED32:
        if (typeof v !== "number" || !Number.isInteger(v) || v > int32Max || v < int32Min) return false;
        if (type === ScalarType.SFIXED32) {
          if (tagged) this.varint32(tag(no, Wire.Bit32));
          this.pos = this.buf.writeInt32LE(v, this.pos);
        } else if (type === ScalarType.SINT32) {
          if (tagged) this.varint32(tag(no, Wire.Varint));
          this.varint32(((v << 1) ^ (v >> 31)) >>> 0);
        } else {
          if (tagged) this.varint32(tag(no, Wire.Varint));
          if (v >= 0) this.varint32(v);
          else this.varint64(BigInt.asUintN(64, BigInt(v)));
        }
        return true;
      case ScalarType.UINT32:
      case ScalarType.FIXED32:
        if (typeof v !== "number" || !Number.isInteger(v) || v > uint32Max || v < 0) return false;
        if (type === ScalarType.FIXED32) {
          if (tagged) this.varint32(tag(no, Wire.Bit32));
          this.pos = this.buf.writeUInt32LE(v, this.pos);
        } else {
          if (tagged) this.varint32(tag(no, Wire.Varint));
          this.varint32(v);
        }
        return true;
      case ScalarType.DOUBLE:
        if (typeof v !== "number") return false;
        if (tagged) this.varint32(tag(no, Wire.Bit64));
        this.pos = this.buf.writeDoubleLE(v, this.pos);
        return true;
      case ScalarType.FLOAT:
        if (typeof v !== "number" || (Number.isFinite(v) && (v > float32Max || v < -float32Max))) return false;
        if (tagged) this.varint32(tag(no, Wire.Bit32));
        this.pos = this.buf.writeFloatLE(v, this.pos);
        return true;
      case ScalarType.INT64:
      case ScalarType.SINT64:
      case ScalarType.SFIXED64:
        if (typeof v !== "bigint" || v > int64Max || v < int64Min) return false;
        if (type === ScalarType.SFIXED64) {
          if (tagged) this.varint32(tag(no, Wire.Bit64));
          this.pos = this.buf.writeBigInt64LE(v, this.pos);
        } else {
          if (tagged) this.varint32(tag(no, Wire.Varint));
          this.varint64(type === ScalarType.SINT64 ? ((v << 1n) ^ (v >> 63n)) & uint64Mask : v & uint64Mask);
        }
        return true;
      case ScalarType.UINT64:
      case ScalarType.FIXED64:
        if (typeof v !== "bigint" || v > uint64Mask || v < 0n) return false;
        if (type === ScalarType.FIXED64) {
          if (tagged) this.varint32(tag(no, Wire.Bit64));
          this.pos = this.buf.writeBigUInt64LE(v, this.pos);
        } else {
          if (tagged) this.varint32(tag(no, Wire.Varint));
          this.varint64(v);
        }
        return true;
    }
  }

  // ASCII by hand with its length known up front; anything else through Buffer#write, which
  // replaces lone surrogates with U+FFFD as TextEncoder does.
  private string(text: string): void {
    const length = text.length;
    this.ensure(5 + length * 3);
    const lengthAt = this.pos;
    this.varint32(length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code > 0x7f) {
        this.pos = lengthAt;
        const bytes = Buffer.byteLength(text, "utf8");
        this.varint32(bytes);
        this.pos += buf.write(text, this.pos, bytes, "utf8");
        return;
      }
      buf[pos++] = code;
    }
    this.pos = pos;
  }

  private varint32(value: number): void {
    const buf = this.buf;
    while (value > 0x7f) {
      buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[this.pos++] = value;
  }

  private varint64(value: bigint): void {
    if (value <= 0xffffffffn) {
      this.varint32(Number(value));
      return;
    }
    const buf = this.buf;
    while (value > 0x7fn) {
      buf[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    buf[this.pos++] = Number(value);
  }
}

function isImplicitZero(f: FieldPlan, v: unknown): boolean {
  if (f.field.fieldKind === "enum") return v === f.enumZero;
  switch (f.scalar) {
    case ScalarType.BOOL:
      return v === false;
    case ScalarType.STRING:
      return v === "";
    case ScalarType.BYTES:
      return v instanceof Uint8Array && v.byteLength === 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return Object.is(v, 0);
    default:
      // protobuf-es's comparison: 0, 0n and "0" are zero.
      return v == 0;
  }
}

// Field numbers go up to 2^29 - 1: the shifted tag needs the unsigned shift back.
function tag(no: number, wire: Wire): number {
  return ((no << 3) | wire) >>> 0;
}

function varintSize(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

// One writer per process: a call's response is written and copied out synchronously. Its buffer
// grows to the largest response written (at most writeMaxBytes plus growth slack) and stays.
const writer = new FrameWriter();
