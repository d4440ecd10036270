// Emits generated/codec/fleet/v1/fast.ts: a straight-line binary encoder and decoder per
// message, for the common case only. The runtime's compiled reader and writer
// (runtime/codec/binary-*.ts) walk closures per field, which costs more than the bytes on
// hot paths; these functions read and write each known field directly. Anything unusual
// (unknown fields, a value of the wrong type, a repeated message field, packed/unpacked
// surprises, types not covered here) throws, and the caller runs the compiled codec, which
// produces the same bytes, the same messages and the exact FleetError. So this file only
// ever changes speed, never results: tests/codec/fast-codec.test.ts checks both paths agree.
import { create, createFileRegistry, fromBinary, ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { tagBytes } from "../../runtime/codec/tag.js";
import type { FieldRule, ProtoModel } from "./proto-model.js";

const fn = (prefix: "e" | "d" | "z" | "v", typeName: string) => `${prefix}_${typeName.replace(/\./g, "_")}`;

const tagValue = (no: number, wireType: number) => no * 8 + wireType;
const writeTag = (no: number, wireType: number) => tagBytes(no, wireType).map((b) => `writeByte(${b});`).join(" ");

/** Scalar types this file handles; a field of any other type is left to the compiled codec. */
const SCALARS: Partial<Record<ScalarType, { check: string; write: string; read: string; zero: string; wire: number }>> = {
  [ScalarType.STRING]: { check: `typeof v !== "string"`, write: "writeString(v)", read: "readString", zero: `v !== ""`, wire: 2 },
  [ScalarType.BYTES]: { check: "!(v instanceof Uint8Array)", write: "writeBytes(v)", read: "readBytes", zero: "v.length !== 0", wire: 2 },
  [ScalarType.BOOL]: { check: "v !== true && v !== false", write: "writeByte(v ? 1 : 0)", read: "readBool", zero: "v !== false", wire: 0 },
  [ScalarType.UINT32]: { check: `typeof v !== "number" || v >>> 0 !== v`, write: "writeVarint(v)", read: "readUint32", zero: "v !== 0", wire: 0 },
  [ScalarType.INT32]: { check: "(v | 0) !== v", write: "writeInt32(v)", read: "readInt32", zero: "v !== 0", wire: 0 },
  // 64-bit values below 2^53 and not negative are the common case (times, counters).
  [ScalarType.UINT64]: { check: `typeof v !== "bigint" || v < 0n || v > 0x1fffffffffffffn`, write: "writeVarint(Number(v))", read: "readUint64", zero: "v !== 0n", wire: 0 },
  [ScalarType.INT64]: { check: `typeof v !== "bigint" || v < 0n || v > 0x1fffffffffffffn`, write: "writeVarint(Number(v))", read: "readInt64", zero: "v !== 0n", wire: 0 },
};

function scalarOf(f: DescField): (typeof SCALARS)[ScalarType] | undefined {
  const kind = f.fieldKind === "list" ? f.listKind : f.fieldKind;
  if (kind === "enum") return SCALARS[ScalarType.INT32];
  if (kind === "scalar") return SCALARS[f.scalar!];
  return undefined;
}

function literal(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return "EMPTY_BYTES";
  if (Array.isArray(v)) return "[]";
  if (v && typeof v === "object" && "case" in v) return "{ case: undefined }";
  throw new Error(`no literal for default ${String(v)}`);
}

function encoder(desc: DescMessage, covered: Set<string>): string[] {
  const lines = [`function ${fn("e", desc.typeName)}(m: Msg): void {`];
  lines.push(`  if (m === null || typeof m !== "object" || m.$typeName !== ${JSON.stringify(desc.typeName)} || m.$unknown !== undefined) throw BAIL;`);
  lines.push("  let v: any;"); // eslint-disable-line
  for (const f of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const get = f.oneof ? `m.${f.oneof.localName}.case === ${JSON.stringify(f.localName)} ? m.${f.oneof.localName}.value : undefined` : `m.${f.localName}`;
    const message = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message") ? f.message! : undefined;
    if (message) {
      if (!covered.has(message.typeName)) {
        lines.push(`  if (${get} !== undefined) throw BAIL;`);
        continue;
      }
      const one = (x: string) => `${writeTag(f.number, 2)} const s = writeLengthStart(); ${fn("e", message.typeName)}(${x}); writeLengthEnd(s);`;
      if (f.fieldKind === "list") lines.push(`  v = m.${f.localName}; if (!Array.isArray(v)) throw BAIL; for (let i = 0; i < v.length; i++) { ${one("v[i]")} }`);
      else lines.push(`  v = ${get}; if (v !== undefined) { ${one("v")} }`);
      continue;
    }
    const s = scalarOf(f);
    if (!s) {
      lines.push(`  throw BAIL; // ${f.name}: not covered`);
      continue;
    }
    if (f.fieldKind === "list") {
      if (s.wire === 2) {
        lines.push(`  v = m.${f.localName}; if (!Array.isArray(v)) throw BAIL; for (let i = 0; i < v.length; i++) { const e = v[i]; if (${s.check.replace(/\bv\b/g, "e")}) throw BAIL; ${writeTag(f.number, 2)} ${s.write.replace(/\bv\b/g, "e")}; }`);
      } else {
        // Packed, as protobuf-es writes repeated scalars.
        lines.push(`  v = m.${f.localName}; if (!Array.isArray(v)) throw BAIL; if (v.length !== 0) { ${writeTag(f.number, 2)} const s = writeLengthStart(); for (let i = 0; i < v.length; i++) { const e = v[i]; if (${s.check.replace(/\bv\b/g, "e")}) throw BAIL; ${s.write.replace(/\bv\b/g, "e")}; } writeLengthEnd(s); }`);
      }
    } else if (f.oneof) {
      // Oneof members are written whenever set, zero or not.
      lines.push(`  if (m.${f.oneof.localName}.case === ${JSON.stringify(f.localName)}) { v = m.${f.oneof.localName}.value; if (${s.check}) throw BAIL; ${writeTag(f.number, s.wire)} ${s.write}; }`);
    } else {
      lines.push(`  v = m.${f.localName}; if (v !== undefined) { if (${s.check}) throw BAIL; if (${s.zero}) { ${writeTag(f.number, s.wire)} ${s.write}; } }`);
    }
  }
  lines.push("}");
  return lines;
}

/** A fresh message with every default, as create(desc) makes it, from one object literal. */
function zero(desc: DescMessage): string[] {
  const defaults = Object.entries(create(desc) as Record<string, unknown>).filter(([k]) => k !== "$typeName");
  const init = [`$typeName: ${JSON.stringify(desc.typeName)}`, ...defaults.map(([k, v]) => `${k}: ${literal(v)}`)].join(", ");
  return [`function ${fn("z", desc.typeName)}(): Msg {`, `  return { ${init} };`, "}"];
}

/** Enum value lists the decoders check against, by enum full name (index = EN<i>). */
const enumLists = new Map<string, number>();

function enumList(f: DescField): string | undefined {
  if (!f.enum) return undefined;
  let i = enumLists.get(f.enum.typeName);
  if (i === undefined) enumLists.set(f.enum.typeName, (i = enumLists.size));
  return `EN${i}`;
}

function decoder(desc: DescMessage, covered: Set<string>): string[] {
  const lines = [`function ${fn("d", desc.typeName)}(stop: number): Msg {`, `  const m = ${fn("z", desc.typeName)}();`, "  while (readCursor() < stop) {", "    switch (readVarint(stop)) {"];
  for (const f of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const message = f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message") ? f.message! : undefined;
    if (message && !covered.has(message.typeName)) continue;
    const s = message ? undefined : scalarOf(f);
    if (!message && !s) continue;
    // An enum number the enum does not define is a decoding error (706, spec/validation.md): the compiled reader reports it.
    const en = message ? undefined : enumList(f);
    const scalarRead = (end: string) => (en ? `enumIn(${s!.read}(${end}), ${en})` : `${s!.read}(${end})`);
    const read = message ? `${fn("d", message.typeName)}(readLength(stop))` : scalarRead("stop");
    const wire = message ? 2 : s!.wire;
    if (f.fieldKind === "list") {
      lines.push(`      case ${tagValue(f.number, wire)}: m.${f.localName}.push(${read}); break;`);
      if (wire === 0) {
        lines.push(`      case ${tagValue(f.number, 2)}: { const e = readLength(stop); while (readCursor() < e) m.${f.localName}.push(${scalarRead("e")}); if (readCursor() !== e) throw BAIL; break; }`);
      }
    } else if (f.oneof) {
      // A second member (or a repeat of a message member, which merges) is left to the compiled reader.
      lines.push(`      case ${tagValue(f.number, wire)}: if (m.${f.oneof.localName}.case !== undefined) throw BAIL; m.${f.oneof.localName} = { case: ${JSON.stringify(f.localName)}, value: ${read} }; break;`);
    } else if (message) {
      lines.push(`      case ${tagValue(f.number, wire)}: if (m.${f.localName} !== undefined) throw BAIL; m.${f.localName} = ${read}; break;`);
    } else {
      lines.push(`      case ${tagValue(f.number, wire)}: m.${f.localName} = ${read}; break;`);
    }
  }
  lines.push("      default:", "        throw BAIL;", "    }", "  }", "  if (readCursor() !== stop) throw BAIL;", "  return m;", "}");
  return lines;
}

/** Rules by message full name and proto field name, and required oneofs: what generated/rules holds. */
interface Rules {
  fields: Map<string, Map<string, FieldRule>>;
  oneofs: Map<string, string[]>;
}

function rulesOf(model: ProtoModel): Rules {
  const fields = new Map<string, Map<string, FieldRule>>();
  const oneofs = new Map<string, string[]>();
  for (const m of model.messages) {
    fields.set(m.fullName, new Map(m.fields.filter((f) => Object.keys(f.rule).length).map((f) => [f.name, f.rule])));
    oneofs.set(m.fullName, m.oneofs.filter((o) => o.required).map((o) => o.name));
  }
  return { fields, oneofs };
}

/** True when a message (or anything inside it) has a rule to check, as runtime/codec/validate.ts decides. */
function hasRules(desc: DescMessage, rules: Rules, seen = new Set<string>()): boolean {
  if (seen.has(desc.typeName)) return false;
  seen.add(desc.typeName);
  if (rules.fields.get(desc.typeName)?.size || rules.oneofs.get(desc.typeName)?.length) return true;
  return desc.fields.some((f) => f.enum !== undefined || (f.message !== undefined && hasRules(f.message, rules, seen)));
}

/**
 * A "certainly valid" check per message: true only when runtime/codec/validate.ts would
 * accept the message; false sends it to that validator, which decides and reports the exact
 * error. So it may be stricter (a value of the wrong type, a long string whose UTF-8 size it
 * does not compute) but never looser; tests/codec/fast-codec.test.ts checks that on samples
 * and mutations.
 */
function validator(desc: DescMessage, rules: Rules, regexes: string[]): string[] {
  const own = rules.fields.get(desc.typeName) ?? new Map<string, FieldRule>();
  const lines = [`function ${fn("v", desc.typeName)}(m: Msg): boolean {`, "  let v: any;"];
  const valueChecks = (f: DescField, rule: FieldRule | undefined, x: string): string[] => {
    const c: string[] = [];
    if (f.enum) c.push(`(${f.enum.values.map((e) => `${x} === ${e.number}`).join(" || ")})`);
    // Lengths are code points: n UTF-16 units hold between ceil(n / 2) and n of them, so the fast
    // path is certain for n <= max and n >= 2 * min - 1; anything else takes validate.ts.
    if (rule?.minLength !== undefined || rule?.maxLength !== undefined) c.push(`typeof ${x} === "string" && ${x}.length >= ${Math.max(0, 2 * (rule.minLength ?? 0) - 1)} && ${x}.length <= ${rule.maxLength ?? Number.MAX_SAFE_INTEGER}`);
    if (rule?.pattern) {
      regexes.push(rule.pattern);
      c.push(`typeof ${x} === "string" && RE${regexes.length - 1}.test(${x})`);
    }
    if (rule?.maxBytes !== undefined) {
      // Strings: certain only while 3 bytes per UTF-16 unit fit (what validate.ts checks first).
      c.push(`(${x} instanceof Uint8Array ? ${x}.length <= ${rule.maxBytes} : typeof ${x} === "string" && ${x}.length * 3 <= ${rule.maxBytes})`);
    }
    if (rule?.mustBeTrue) c.push(`${x} === true`);
    if (f.message && hasRules(f.message, rules)) c.push(`${fn("v", f.message.typeName)}(${x})`);
    return c;
  };
  const unset = (f: DescField, x: string): string => {
    if (f.fieldKind === "list") return `(${x}.length === 0)`;
    if (f.fieldKind === "message") return `(${x} === undefined)`;
    if (f.fieldKind === "enum") return `(${x} === undefined || ${x} === 0)`;
    if (f.scalar === ScalarType.STRING || f.scalar === ScalarType.BYTES) return `(${x} === undefined || ${x}.length === 0)`;
    if (f.scalar === ScalarType.BOOL) return `(${x} === undefined || ${x} === false)`;
    return `(${x} === undefined || ${x} === 0 || ${x} === 0n || ${x} === "0")`;
  };
  const oneofCases = new Map<string, string[]>();
  for (const f of desc.fields) {
    const rule = own.get(f.name);
    if (f.oneof) {
      const c = valueChecks(f, rule, "v");
      if (!c.length) continue;
      const cases = oneofCases.get(f.oneof.localName) ?? [];
      cases.push(`    case ${JSON.stringify(f.localName)}: v = m.${f.oneof.localName}.value; if (!(${c.join(" && ")})) return false; break;`);
      oneofCases.set(f.oneof.localName, cases);
      continue;
    }
    const required = rule?.required === true;
    if (f.fieldKind === "list") {
      const c = valueChecks(f, rule, "e");
      if (!required && !c.length) continue;
      lines.push(`  v = m.${f.localName}; if (!Array.isArray(v)) return false;${required ? " if (v.length === 0) return false;" : ""}`);
      if (c.length) lines.push(`  for (let i = 0; i < v.length; i++) { const e = v[i]; if (!(${c.join(" && ")})) return false; }`);
      continue;
    }
    const c = valueChecks(f, rule, "v");
    if (!required && !c.length) continue;
    if (required) lines.push(`  v = m.${f.localName}; if ${unset(f, "v")} return false;${c.length ? ` if (!(${c.join(" && ")})) return false;` : ""}`);
    else lines.push(`  v = m.${f.localName}; if (!${unset(f, "v")} && !(${c.join(" && ")})) return false;`);
  }
  for (const [oneof, cases] of oneofCases) lines.push(`  switch (m.${oneof}.case) {`, ...cases, "  }");
  for (const name of rules.oneofs.get(desc.typeName) ?? []) {
    const oneof = desc.oneofs.find((o) => o.name === name)!;
    lines.push(`  if (m.${oneof.localName}.case === undefined) return false;`);
  }
  lines.push("  return true;", "}");
  return lines;
}

/** An exported table of the generated functions with one prefix, by message full name. */
function table(name: string, type: string, prefix: "e" | "d" | "z" | "v", names: string[], doc: string): string[] {
  return [`/** ${doc} */`, `export const ${name}: Record<string, ${type}> = {`, ...names.map((n) => `  ${JSON.stringify(n)}: ${fn(prefix, n)},`), "};", ""];
}

/** Messages the fast path covers: proto3 messages without map fields (the compiled codec has no maps either). */
function coverable(desc: DescMessage): boolean {
  return desc.fields.every((f) => f.fieldKind !== "map") && Object.getPrototypeOf(create(desc)) === Object.prototype;
}

export function renderFastCodec(descriptorSet: Uint8Array, model: ProtoModel): string {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const all = new Map<string, DescMessage>();
  const visit = (d: DescMessage) => {
    if (all.has(d.typeName)) return;
    all.set(d.typeName, d);
    for (const f of d.fields) if (f.message) visit(f.message);
    for (const n of d.nestedMessages) visit(n);
  };
  for (const file of registry.files) if (file.proto.package.startsWith("fleet.")) for (const m of file.messages) visit(m);
  const names = [...all.keys()].filter((n) => coverable(all.get(n)!)).sort();
  const covered = new Set(names);
  enumLists.clear();
  const enumValues = new Map<string, number[]>();
  for (const d of all.values()) for (const f of d.fields) if (f.enum) enumValues.set(f.enum.typeName, f.enum.values.map((v) => v.number));
  const body = names.flatMap((n) => [...zero(all.get(n)!), "", ...encoder(all.get(n)!, covered), "", ...decoder(all.get(n)!, covered), ""]);
  const rules = rulesOf(model);
  const regexes: string[] = [];
  const checked = names.filter((n) => hasRules(all.get(n)!, rules));
  const validators = checked.flatMap((n) => [...validator(all.get(n)!, rules, regexes), ""]);
  return [
    "// @generated by tools/generate (fast-codec.ts) from spec/proto. Do not edit.",
    "// Straight-line encoders and decoders for the common case; anything else throws BAIL and",
    "// the runtime's compiled codec handles it (same bytes, same messages, exact errors).",
    "/* eslint-disable */",
    `import { readBool, readBytes, readCursor, readInt32, readInt64, readLength, readString, readUint32, readUint64, readVarint } from "../../../../runtime/codec/binary-reader.js";`,
    `import { writeByte, writeBytes, writeInt32, writeLengthEnd, writeLengthStart, writeString, writeVarint } from "../../../../runtime/codec/binary-writer.js";`,
    "",
    "type Msg = any;",
    "",
    "/** The default of every bytes field: one shared empty array (a fresh one costs more than the rest of a message; it has no elements to change). */",
    "const EMPTY_BYTES = new Uint8Array(0);",
    "",
    "/** Thrown to hand a message to the compiled codec. */",
    `export const BAIL = new Error("fast codec: not the common case");`,
    "",
    ...body,
    "/** v when the enum defines it; anything else is the compiled reader's to report (706). */",
    "function enumIn(v: number, known: readonly number[]): number {",
    "  for (let i = 0; i < known.length; i++) if (known[i] === v) return v;",
    "  throw BAIL;",
    "}",
    ...[...enumLists].map(([name, i]) => `const EN${i}: readonly number[] = ${JSON.stringify(enumValues.get(name))}; // ${name}`),
    ...regexes.map((r, i) => `const RE${i} = new RegExp(${JSON.stringify(r)});`),
    "",
    ...validators,
    ...table("fastValid", "(m: Msg) => boolean", "v", checked, "Certainly-valid checks by message full name (messages without rules have none): false means ask runtime/codec/validate.ts."),
    ...table("fastEncoders", "(m: Msg) => void", "e", names, "Encoders by message full name: write the message (not its length) at the writer's cursor."),
    ...table("fastZeros", "() => Msg", "z", names, "Zero messages by full name: what create(desc) returns, from a literal (hot paths build messages with these)."),
    ...table("fastDecoders", "(stop: number) => Msg", "d", names, "Decoders by message full name: read a message that ends at stop from the reader's cursor."),
  ].join("\n");
}
