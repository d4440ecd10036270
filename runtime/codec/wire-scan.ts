// A pass over protobuf bytes before protobuf-es parses them. protobuf-es trusts each
// field's declared type and would read, say, a length-delimited value as a varint and
// carry on with garbage; this scan rejects a known field with the wrong wire type (708)
// and any structural damage (701) up front, recursing into known message fields.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { ErrorCode, FleetError } from "../errors.js";
import { childPointer } from "./pointer.js";

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

function scalarWireType(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return I64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return I32;
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    default:
      return VARINT;
  }
}

interface FieldWire {
  field: DescField;
  wireType: number;
  /** Repeated numeric fields may also arrive packed (length-delimited). */
  packable: boolean;
  message?: DescMessage;
}

const plans = new Map<string, Map<number, FieldWire>>();

function planFor(desc: DescMessage): Map<number, FieldWire> {
  let plan = plans.get(desc.typeName);
  if (plan) return plan;
  plan = new Map();
  for (const field of desc.fields) {
    let wireType: number;
    let packable = false;
    let message: DescMessage | undefined;
    if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) {
      wireType = LEN;
      message = field.message;
    } else if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
      wireType = VARINT;
      packable = field.fieldKind === "list";
    } else if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) {
      wireType = scalarWireType(field.scalar);
      packable = field.fieldKind === "list" && wireType !== LEN;
    } else {
      wireType = LEN; // maps are not used by fleet.v1; treat as opaque length-delimited
    }
    plan.set(field.number, { field, wireType, packable, message });
  }
  plans.set(desc.typeName, plan);
  return plan;
}

const malformed = (msg: string, pointer: string) => new FleetError(ErrorCode.WIRE_MALFORMED, msg, { pointer });

/** Throws 701/708 unless bytes[start, end) is structurally valid for desc. */
export function scanWire(desc: DescMessage, bytes: Uint8Array, start = 0, end = bytes.length, pointer = "", depth = 0): void {
  if (depth > 64) throw malformed("message nesting too deep", pointer);
  const plan = planFor(desc);
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw malformed("truncated varint", pointer);
      const b = bytes[pos++];
      if (i < 7) result += (b & 0x7f) * mul; // lengths and tags fit in 49 bits; higher bits only checked for termination
      mul *= 128;
      if (b < 0x80) return result;
    }
    throw malformed("varint longer than 10 bytes", pointer);
  };
  while (pos < end) {
    const tag = varint();
    const fieldNo = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (fieldNo < 1 || fieldNo > 536_870_911) throw malformed(`invalid field number ${fieldNo}`, pointer);
    const known = plan.get(fieldNo);
    const at = known ? childPointer(pointer, known.field.jsonName) : pointer;
    if (known && wireType !== known.wireType && !(known.packable && wireType === LEN)) {
      throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `field ${known.field.name} has wire type ${wireType}, expected ${known.wireType}`, { pointer: at });
    }
    switch (wireType) {
      case VARINT:
        varint();
        break;
      case I64:
        pos += 8;
        break;
      case I32:
        pos += 4;
        break;
      case LEN: {
        const len = varint();
        if (len > end - pos) throw malformed(`length ${len} runs past the end`, at);
        if (known?.message) scanWire(known.message, bytes, pos, pos + len, at, depth + 1);
        pos += len;
        break;
      }
      default:
        throw malformed(`unsupported wire type ${wireType}`, at);
    }
    if (pos > end) throw malformed("field runs past the end", at);
  }
}
