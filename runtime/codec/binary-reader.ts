// A compiled binary decoder producing the same messages as protobuf-es fromBinary (bytes
// fields are views into the input, as there), in one strict pass: a known field with the
// wrong wire type is 708, invalid UTF-8 in a string is 705 (with the field's pointer), and
// any structural damage (truncation, lengths past the end, bad tags, groups) is 701.
import { create, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { fastDecoders } from "../../generated/codec/fleet/v1/fast.js";
import { ErrorCode, FleetError } from "../errors.js";
import { childPointer } from "./pointer.js";

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const MAX_DEPTH = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

// The input and cursor of the decode in progress (decodes are synchronous and never interleave).
let bytes: Uint8Array = new Uint8Array(0);
let view: DataView = new DataView(bytes.buffer);
let at = 0;

// Where the cursor is, for error pointers; built into a string only when an error is thrown.
let ctxParent = "";
let ctxName = "";
const here = () => (ctxName ? childPointer(ctxParent, ctxName) : ctxParent);
const malformed = (msg: string) => new FleetError(ErrorCode.WIRE_MALFORMED, msg, { pointer: here() });

/** A varint as a number; exact below 2^53, and only used where values fit (tags, lengths, 32-bit fields). */
function varint(end: number): number {
  if (at < end && bytes[at] < 0x80) return bytes[at++]; // one-byte fast path (most tags and lengths)
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at >= end) throw malformed("truncated varint");
    const b = bytes[at++];
    if (i < 8) result += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) return result;
  }
  throw malformed("varint longer than 10 bytes");
}

function varintBig(end: number): bigint {
  const start = at;
  const n = varint(end);
  if (at - start <= 7) return BigInt(n);
  let v = 0n;
  for (let i = at - 1; i >= start; i--) v = (v << 7n) | BigInt(bytes[i] & 0x7f);
  return BigInt.asUintN(64, v);
}

function need(n: number, end: number): void {
  if (n > end - at) throw malformed(`field runs past the end (${n} bytes needed)`);
}

function string(end: number): string {
  const len = varint(end);
  need(len, end);
  const start = at;
  at += len;
  if (len < 12) {
    // Short ASCII (names, ids, enum-like text) is cheaper by hand than through the decoder.
    let s = "";
    for (let i = start; i < at; i++) {
      const c = bytes[i];
      if (c >= 0x80) return decodeUtf8(start);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeUtf8(start);
}

function decodeUtf8(start: number): string {
  try {
    return utf8.decode(bytes.subarray(start, at));
  } catch {
    throw new FleetError(ErrorCode.WIRE_INVALID_UTF8, "a string is not valid UTF-8", { pointer: here() });
  }
}

type ValueReader = (end: number) => unknown;

// One reader per scalar type; also the primitives of the generated straight-line decoders
// (generated/codec), which hand anything unusual back to readMessage by throwing.
export { varint as readVarint, string as readString };

export function readBytes(end: number): Uint8Array {
  const len = varint(end);
  need(len, end);
  at += len;
  return bytes.subarray(at - len, at);
}

export function readBool(end: number): boolean {
  return varint(end) !== 0;
}

export function readUint32(end: number): number {
  // Like protobuf-es: the low 32 bits of the varint.
  const start = at;
  const n = varint(end);
  return at - start <= 4 ? n : Number(BigInt.asUintN(32, varintBig2(start)));
}

export function readInt32(end: number): number {
  const start = at;
  const n = varint(end);
  return at - start <= 4 ? n | 0 : Number(BigInt.asIntN(32, varintBig2(start)));
}

export function readUint64(end: number): bigint {
  return varintBig(end);
}

export function readInt64(end: number): bigint {
  return BigInt.asIntN(64, varintBig(end));
}

/** Reads a length prefix and returns where that field ends. */
export function readLength(end: number): number {
  const len = varint(end);
  need(len, end);
  return at + len;
}

/** The cursor of the decode in progress. */
export function readCursor(): number {
  return at;
}

function scalarReader(type: ScalarType): ValueReader {
  switch (type) {
    case ScalarType.STRING:
      return string;
    case ScalarType.BYTES:
      return readBytes;
    case ScalarType.BOOL:
      return readBool;
    case ScalarType.UINT32:
      return readUint32;
    case ScalarType.INT32:
      return readInt32;
    case ScalarType.SINT32:
      return (end) => {
        const start = at;
        let n = varint(end);
        if (at - start > 4) n = Number(BigInt.asUintN(32, varintBig2(start)));
        return (n >>> 1) ^ -(n & 1);
      };
    case ScalarType.UINT64:
      return readUint64;
    case ScalarType.INT64:
      return readInt64;
    case ScalarType.SINT64:
      return (end) => {
        const u = varintBig(end);
        return (u >> 1n) ^ -(u & 1n);
      };
    case ScalarType.FIXED32:
      return (end) => (need(4, end), (at += 4), view.getUint32(at - 4, true));
    case ScalarType.SFIXED32:
      return (end) => (need(4, end), (at += 4), view.getInt32(at - 4, true));
    case ScalarType.FLOAT:
      return (end) => (need(4, end), (at += 4), view.getFloat32(at - 4, true));
    case ScalarType.FIXED64:
      return (end) => (need(8, end), (at += 8), view.getBigUint64(at - 8, true));
    case ScalarType.SFIXED64:
      return (end) => (need(8, end), (at += 8), view.getBigInt64(at - 8, true));
    case ScalarType.DOUBLE:
      return (end) => (need(8, end), (at += 8), view.getFloat64(at - 8, true));
  }
}

/** The varint that starts at start and ends at the cursor, as a 64-bit pattern. */
function varintBig2(start: number): bigint {
  let v = 0n;
  for (let i = at - 1; i >= start; i--) v = (v << 7n) | BigInt(bytes[i] & 0x7f);
  return BigInt.asUintN(64, v);
}

function wireTypeOf(type: ScalarType): number {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return LEN;
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
    case ScalarType.DOUBLE:
      return I64;
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
    case ScalarType.FLOAT:
      return I32;
    default:
      return VARINT;
  }
}

interface FieldPlan {
  field: DescField;
  jsonName: string;
  wireType: number;
  /** Reads one occurrence into msg; end is the enclosing message's end. */
  read: (msg: Obj, wireType: number, end: number, pointer: string, depth: number) => void;
}

const plans = new Map<string, (FieldPlan | undefined)[]>();
const factories = new Map<string, () => Obj>();

/** Makes fresh zero messages shaped exactly as create(desc) makes them, without create's per-call work. */
function factory(desc: DescMessage): () => Obj {
  let make = factories.get(desc.typeName);
  if (!make) {
    const template = create(desc) as Obj;
    const lists = desc.fields.filter((f) => f.fieldKind === "list").map((f) => f.localName);
    const oneofs = desc.oneofs.map((o) => o.localName);
    make = () => {
      const m = { ...template };
      for (let i = 0; i < lists.length; i++) m[lists[i]] = [];
      for (let i = 0; i < oneofs.length; i++) m[oneofs[i]] = { case: undefined };
      return m;
    };
    factories.set(desc.typeName, make);
  }
  return make;
}

function planOf(desc: DescMessage): (FieldPlan | undefined)[] {
  return plans.get(desc.typeName) ?? compile(desc);
}

function compile(desc: DescMessage): (FieldPlan | undefined)[] {
  const plan: (FieldPlan | undefined)[] = [];
  plans.set(desc.typeName, plan); // before the fields, so recursive types find it
  for (const field of desc.fields) {
    const key = field.localName;
    const jsonName = field.jsonName;
    const oneofKey = field.oneof?.localName;
    if (field.fieldKind === "map") throw new FleetError(ErrorCode.INTERNAL_ERROR, `map fields are not supported (${desc.typeName}.${field.name})`);
    const isMessage = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message");
    if (isMessage) {
      const sub = field.message!;
      // Resolved on first use: recursive types are still compiling when this closure is made.
      let subPlan: (FieldPlan | undefined)[] | undefined;
      let make: (() => Obj) | undefined;
      const readChild = (existing: Obj | undefined, end: number, pointer: string, depth: number): Obj => {
        const len = varint(end);
        need(len, end);
        const target = existing ?? (make ??= factory(sub))();
        readMessage((subPlan ??= planOf(sub)), target, at + len, childPointer(pointer, jsonName), depth + 1);
        return target;
      };
      let read: FieldPlan["read"];
      if (field.fieldKind === "list") read = (m, _wt, end, p, d) => void (m[key] as Obj[]).push(readChild(undefined, end, p, d));
      else if (oneofKey) {
        read = (m, _wt, end, p, d) => {
          const o = m[oneofKey];
          m[oneofKey] = { case: key, value: readChild(o.case === key ? o.value : undefined, end, p, d) }; // repeated occurrences merge
        };
      } else read = (m, _wt, end, p, d) => void (m[key] = readChild(m[key], end, p, d));
      plan[field.number] = { field, jsonName, wireType: LEN, read };
      continue;
    }
    const isEnum = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum");
    const type = isEnum ? ScalarType.INT32 : field.scalar!;
    const readScalar = scalarReader(type);
    // An enum number the enum does not define is a decoding error, in byte order (706,
    // spec/validation.md), at the field (a list: at the element).
    const known = isEnum ? new Set(field.enum!.values.map((v) => v.number)) : undefined;
    const readValue: typeof readScalar = known
      ? (end) => {
          const v = readScalar(end) as number;
          if (!known.has(v)) throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, `${v} is not a ${field.enum!.typeName} value`, { pointer: field.fieldKind === "list" ? `${here()}/${((currentList ?? []) as unknown[]).length}` : here() });
          return v;
        }
      : readScalar;
    let currentList: unknown[] | undefined;
    const wireType = wireTypeOf(type);
    let read: FieldPlan["read"];
    if (field.fieldKind === "list") {
      const packable = wireType !== LEN;
      read = (m, wt, end) => {
        const list = m[key] as unknown[];
        currentList = list;
        if (packable && wt === LEN) {
          const len = varint(end);
          need(len, end);
          const stop = at + len;
          while (at < stop) list.push(readValue(stop));
        } else list.push(readValue(end));
      };
    } else if (oneofKey) read = (m, _wt, end) => void (m[oneofKey] = { case: key, value: readValue(end) });
    else read = (m, _wt, end) => void (m[key] = readValue(end));
    plan[field.number] = { field, jsonName, wireType, read };
  }
  return plan;
}

function readMessage(plan: (FieldPlan | undefined)[], msg: Obj, end: number, pointer: string, depth: number): void {
  ctxParent = pointer;
  ctxName = "";
  if (depth > MAX_DEPTH) throw malformed("message nesting too deep");
  while (at < end) {
    ctxParent = pointer;
    ctxName = "";
    const tag = varint(end);
    const fieldNo = tag < 0x80000000 ? tag >>> 3 : Math.floor(tag / 8);
    const wireType = tag & 7;
    if (fieldNo < 1 || fieldNo > 536_870_911) throw malformed(`invalid field number ${fieldNo}`);
    const known = fieldNo < plan.length ? plan[fieldNo] : undefined;
    if (known !== undefined) {
      ctxName = known.jsonName;
      const packed = wireType === LEN && known.field.fieldKind === "list" && known.wireType !== LEN;
      if (wireType !== known.wireType && !packed) {
        throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `field ${known.field.name} has wire type ${wireType}, expected ${known.wireType}`, { pointer: here() });
      }
      known.read(msg, wireType, end, pointer, depth);
      continue;
    }
    // Unknown field: kept (its tag excluded, as protobuf-es does) so re-encoding preserves it.
    const dataStart = at;
    switch (wireType) {
      case VARINT:
        varint(end);
        break;
      case I64:
        need(8, end);
        at += 8;
        break;
      case I32:
        need(4, end);
        at += 4;
        break;
      case LEN: {
        const len = varint(end);
        need(len, end);
        at += len;
        break;
      }
      default:
        throw malformed(`unsupported wire type ${wireType} (field ${fieldNo})`);
    }
    ((msg.$unknown ??= []) as unknown[]).push({ no: fieldNo, wireType, data: bytes.subarray(dataStart, at) });
  }
  ctxParent = pointer;
  ctxName = "";
  if (at !== end) throw malformed("a field runs past the end of its message");
}

/**
 * Decodes bytes as desc (structure, wire types and UTF-8 checked; the spec's rules are not):
 * the generated straight-line decoder when the bytes are its common case, else the compiled reader.
 */
export function readBinary(desc: DescMessage, input: Uint8Array): Obj {
  return readBinaryFast(desc, input) ?? readBinaryCompiled(desc, input);
}

/** The generated decoder's message, or undefined when the bytes are not its common case (tests compare both paths). */
export function readBinaryFast(desc: DescMessage, input: Uint8Array): Obj | undefined {
  const fast = fastDecoders[desc.typeName];
  if (fast === undefined) return undefined;
  return decodeWith(input, fast, true);
}

/** The compiled reader alone: the reference for every input, and the exact errors. */
export function readBinaryCompiled(desc: DescMessage, input: Uint8Array): Obj {
  return decodeWith(input, compiledReader(desc), false)!;
}

const compiledReaders = new Map<string, (end: number) => Obj>();

function compiledReader(desc: DescMessage): (end: number) => Obj {
  let read = compiledReaders.get(desc.typeName);
  if (!read) {
    const make = factory(desc);
    read = (end) => {
      const msg = make();
      readMessage(planOf(desc), msg, end, "", 0);
      return msg;
    };
    compiledReaders.set(desc.typeName, read);
  }
  return read;
}

function decodeWith(input: Uint8Array, read: (end: number) => Obj, quiet: boolean): Obj | undefined {
  bytes = input;
  view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  at = 0;
  try {
    return read(input.length);
  } catch (e) {
    if (quiet) return undefined;
    throw e;
  } finally {
    bytes = new Uint8Array(0);
    at = 0;
  }
}
