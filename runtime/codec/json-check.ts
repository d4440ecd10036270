// A typed walk over a JSON value before protobuf-es parses it, so a bad JSON form yields
// the protocol's code and a pointer (708 wrong type, 706 unknown enum value, 709 more than
// one member of a oneof or a bad format, 701 unknown field or a field not spelled by its JSON
// name) instead of a generic error.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { ErrorCode, FleetError } from "../errors.js";
import { childPointer } from "./pointer.js";

const MAX_DEPTH = 64;
const INT_TEXT = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const wrong = (what: string, pointer: string) => new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `expected ${what}`, { pointer });
const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkInteger(v: unknown, signed: boolean, bits: 32 | 64, pointer: string): void {
  const text = typeof v === "number" ? (Number.isInteger(v) ? String(v) : "") : typeof v === "string" ? v : undefined;
  if (text === undefined) throw wrong(`an integer, got ${describe(v)}`, pointer);
  if (!INT_TEXT.test(text)) throw wrong(`an integer, got ${JSON.stringify(v)}`, pointer);
  const n = BigInt(text);
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (n < min || n > max) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${text} is outside the ${signed ? "" : "u"}int${bits} range`, { pointer });
}

function checkScalar(t: ScalarType, v: unknown, pointer: string): void {
  switch (t) {
    case ScalarType.STRING:
      if (typeof v !== "string") throw wrong(`a string, got ${describe(v)}`, pointer);
      return;
    case ScalarType.BYTES:
      if (typeof v !== "string") throw wrong(`base64 text, got ${describe(v)}`, pointer);
      if (!BASE64.test(v)) throw wrong("base64 text", pointer);
      return;
    case ScalarType.BOOL:
      if (typeof v !== "boolean") throw wrong(`a boolean, got ${describe(v)}`, pointer);
      return;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof v !== "number" && !(typeof v === "string" && (/^(NaN|-?Infinity)$/.test(v) || !Number.isNaN(Number(v)))))
        throw wrong(`a number, got ${describe(v)}`, pointer);
      return;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return checkInteger(v, true, 32, pointer);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return checkInteger(v, false, 32, pointer);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return checkInteger(v, true, 64, pointer);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return checkInteger(v, false, 64, pointer);
  }
}

function checkEnum(field: DescField, v: unknown, pointer: string): void {
  const e = field.enum!;
  if (typeof v === "string") {
    if (!e.values.some((x) => x.name === v)) throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, `${JSON.stringify(v)} is not a ${e.typeName} value`, { pointer });
  } else if (typeof v === "number" && Number.isInteger(v)) {
    if (!e.values.some((x) => x.number === v)) throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, `${v} is not a ${e.typeName} value`, { pointer });
  } else {
    throw wrong(`a ${e.typeName} name, got ${describe(v)}`, pointer);
  }
}

function checkSingle(field: DescField, v: unknown, pointer: string, depth: number): void {
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) return checkEnum(field, v, pointer);
  if (field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")) return checkJsonValue(field.message!, v, pointer, depth + 1);
  return checkScalar(field.scalar!, v, pointer);
}

/** Throws FleetError with a pointer unless json has the shape of desc's canonical JSON form. */
export function checkJsonValue(desc: DescMessage, json: unknown, pointer = "", depth = 0): void {
  if (depth > MAX_DEPTH) throw new FleetError(ErrorCode.WIRE_MALFORMED, "JSON nesting too deep", { pointer });
  if (desc.typeName === "google.protobuf.Timestamp") {
    if (typeof json !== "string") throw wrong(`an RFC 3339 timestamp, got ${describe(json)}`, pointer);
    if (!RFC3339.test(json) || Number.isNaN(Date.parse(json))) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${JSON.stringify(json)} is not an RFC 3339 timestamp`, { pointer });
    return;
  }
  if (!isObject(json)) throw wrong(`a ${desc.name} object, got ${describe(json)}`, pointer);
  const oneofSeen = new Map<string, string>();
  for (const key of Object.keys(json)) {
    // One spelling per field: the lowerCamelCase JSON name only (spec/signing.md "Signed JSON").
    const field = desc.fields.find((f) => f.jsonName === key);
    const at = childPointer(pointer, key);
    if (!field) {
      const other = desc.fields.find((f) => f.name === key);
      if (other) throw new FleetError(ErrorCode.WIRE_MALFORMED, `${desc.name}: ${JSON.stringify(key)} is not how the JSON form spells this field; its one spelling is ${JSON.stringify(other.jsonName)}`, { pointer: at });
      throw new FleetError(ErrorCode.WIRE_MALFORMED, `${desc.name} has no field ${JSON.stringify(key)}`, { pointer: at });
    }
    const v = json[key];
    if (v === null) continue; // protobuf JSON: null means the default value
    if (field.oneof) {
      const other = oneofSeen.get(field.oneof.name);
      if (other) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `only one of ${other} and ${key} may be set`, { pointer: at });
      oneofSeen.set(field.oneof.name, key);
    }
    if (field.fieldKind === "list") {
      if (!Array.isArray(v)) throw wrong(`an array, got ${describe(v)}`, at);
      v.forEach((item, i) => checkSingle(field, item, childPointer(at, i), depth));
    } else if (field.fieldKind === "map") {
      throw new FleetError(ErrorCode.INTERNAL_ERROR, "map fields are not supported", { pointer: at });
    } else {
      checkSingle(field, v, at, depth);
    }
  }
}
