// Validation of decoded (or about-to-be-encoded) messages against the rules the proto
// comments state (generated/rules): required fields, enum values this version defines,
// length and size limits, oneofs that must be set. Errors carry a JSON pointer built from
// JSON field names. A validator is compiled once per message type.
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { fieldRules, requiredOneofs, type FieldRule } from "../../generated/rules/fleet/v1/rules.js";
import { fastValid } from "../../generated/codec/fleet/v1/fast.js";
import { ErrorCode, FleetError } from "../errors.js";
import { childPointer } from "./pointer.js";

// Messages are plain objects in protobuf-es v2; validators read them by local name.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Check = (msg: Obj, pointer: string) => void;

const compiled = new Map<string, Check>();
const utf8 = new TextEncoder();

/** UTF-8 size of s if it may exceed max, else a lower bound (a UTF-16 unit is at most 3 bytes). */
function utf8SizeAbove(s: string, max: number): number {
  return s.length * 3 <= max ? s.length : utf8.encode(s).length;
}

/**
 * Length in Unicode code points (spec/errors.md: "characters" are code points, not UTF-16
 * units or bytes). A string of at most `max` UTF-16 units has at most that many code points,
 * so only longer ones are counted.
 */
export function codePoints(s: string, max = 0): number {
  if (s.length <= max) {
    let pairs = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          pairs++;
          i++;
        }
      }
    }
    return s.length - pairs;
  }
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function isUnset(field: DescField, value: unknown): boolean {
  if (value === undefined) return true;
  switch (field.fieldKind) {
    case "list":
      return (value as unknown[]).length === 0;
    case "message":
      return false;
    case "enum":
      return value === 0;
    case "scalar":
      if (field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES) return (value as { length: number }).length === 0;
      if (field.scalar === ScalarType.BOOL) return value === false;
      return value === 0 || value === 0n || value === "0";
    default:
      return false;
  }
}

/** True when a message type (or anything inside it) has a rule to check. */
function hasRules(desc: DescMessage, seen = new Set<string>()): boolean {
  if (seen.has(desc.typeName)) return false;
  seen.add(desc.typeName);
  if (fieldRules[desc.typeName] || requiredOneofs[desc.typeName]) return true;
  return desc.fields.some((f) => f.enum !== undefined || (f.message !== undefined && hasRules(f.message, seen)));
}

// A value check gets the parent pointer and the field's JSON name, and builds the field's
// pointer only when it throws: validation runs on every message, errors are rare.
type ValueCheck = (value: unknown, parent: string, name: string) => void;

function valueCheck(field: DescField, rule: FieldRule | undefined): ValueCheck | undefined {
  const checks: ValueCheck[] = [];
  const at = childPointer;
  if (field.enum) {
    const known = new Set(field.enum.values.map((v) => v.number));
    const enumName = field.enum.typeName;
    checks.push((v, p, n) => {
      if (!known.has(v as number)) throw new FleetError(ErrorCode.VALIDATION_UNKNOWN_ENUM, `${v} is not a ${enumName} value`, { pointer: at(p, n) });
    });
  }
  if (rule?.minLength !== undefined || rule?.maxLength !== undefined) {
    const min = rule.minLength ?? 0;
    const max = rule.maxLength ?? Infinity;
    checks.push((v, p, n) => {
      const len = typeof v === "string" ? codePoints(v, max) : (v as string).length; // a non-string is the type checks' to refuse
      if (len < min || len > max) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${field.name} must be ${min}..${max} characters (code points), got ${len}`, { pointer: at(p, n) });
    });
  }
  if (rule?.pattern) {
    const re = new RegExp(rule.pattern);
    checks.push((v, p, n) => {
      if (!re.test(v as string)) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${field.name} must match ${rule.pattern}`, { pointer: at(p, n) });
    });
  }
  if (rule?.maxBytes !== undefined) {
    const max = rule.maxBytes;
    checks.push((v, p, n) => {
      const size = typeof v === "string" ? utf8SizeAbove(v, max) : (v as Uint8Array).length;
      if (size > max) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${field.name} is ${size} bytes, at most ${max} allowed`, { pointer: at(p, n) });
    });
  }
  if (rule?.mustBeTrue) {
    checks.push((v, p, n) => {
      if (v !== true) throw new FleetError(ErrorCode.VALIDATION_OUT_OF_RANGE, `${field.name} must be true when set`, { pointer: at(p, n) });
    });
  }
  if (field.message && hasRules(field.message)) {
    const sub = field.message;
    let validate: Check | undefined;
    checks.push((v, p, n) => (validate ??= validatorFor(sub))(v as Obj, at(p, n)));
  }
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (v, p, n) => {
    for (let i = 0; i < checks.length; i++) checks[i](v, p, n);
  };
}

function compile(desc: DescMessage): Check {
  const rules = fieldRules[desc.typeName] ?? {};
  const steps: Check[] = [];
  const oneofChecks = new Map<string, Map<string, { check: ValueCheck; jsonName: string }>>();
  for (const field of desc.fields) {
    const rule = rules[field.name];
    const check = valueCheck(field, rule);
    const key = field.localName;
    const jsonName = field.jsonName;
    const required = rule?.required === true;
    if (field.oneof) {
      if (!check) continue;
      // One step per oneof, at its first checked member, dispatching on the case that is set
      // (a oneof like Body's has dozens of members and only one value).
      const oneofKey = field.oneof.localName;
      let members = oneofChecks.get(oneofKey);
      if (!members) {
        const byCase = (members = new Map());
        oneofChecks.set(oneofKey, byCase);
        steps.push((msg, p) => {
          const o = msg[oneofKey];
          const member = o?.case === undefined ? undefined : byCase.get(o.case);
          if (member) member.check(o.value, p, member.jsonName);
        });
      }
      members.set(key, { check, jsonName });
    } else if (field.fieldKind === "list") {
      if (!required && !check) continue;
      steps.push((msg, p) => {
        const list = msg[key] as unknown[];
        if (required && list.length === 0) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${desc.name}.${field.name} needs at least one item`, { pointer: childPointer(p, jsonName) });
        if (check) for (let i = 0; i < list.length; i++) check(list[i], childPointer(p, jsonName), String(i));
      });
    } else if (required || check) {
      steps.push((msg, p) => {
        const v = msg[key];
        if (isUnset(field, v)) {
          if (required) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${desc.name}.${field.name} is required`, { pointer: childPointer(p, jsonName) });
          return; // an unset optional field (enum 0 is always defined) has nothing to check
        }
        check?.(v, p, jsonName);
      });
    }
  }
  for (const name of requiredOneofs[desc.typeName] ?? []) {
    const oneof = desc.oneofs.find((o) => o.name === name)!;
    const options = oneof.fields.map((f) => f.jsonName).join(" | ");
    steps.push((msg, p) => {
      if (msg[oneof.localName]?.case === undefined) throw new FleetError(ErrorCode.VALIDATION_MISSING_FIELD, `${desc.name} needs exactly one of ${options}`, { pointer: p });
    });
  }
  const typeName = desc.typeName;
  return (msg, p) => {
    // A hand-built message may hold anything: a typed error, never a TypeError.
    if (msg === null || typeof msg !== "object") throw new FleetError(ErrorCode.VALIDATION_WRONG_TYPE, `expected a ${typeName} message`, { pointer: p });
    for (let i = 0; i < steps.length; i++) steps[i](msg, p);
  };
}

/** The compiled validator of a message type (cached). */
export function validatorFor(desc: DescMessage): Check {
  let v = compiled.get(desc.typeName);
  if (!v) {
    // Placeholder first, so recursive types (Condition -> ConditionList -> Condition) resolve lazily.
    compiled.set(desc.typeName, (m, p) => compiled.get(desc.typeName)!(m, p));
    v = compile(desc);
    compiled.set(desc.typeName, v);
  }
  return v;
}

/**
 * Throws a FleetError (706/707/709 with a JSON pointer) unless msg satisfies the spec's rules.
 * The generated certainly-valid check (generated/codec) settles the common case; anything it
 * is not sure of goes to the compiled validator, which decides and names the error.
 */
export function validateMessage(desc: DescMessage, msg: object, pointer = ""): void {
  const fast = fastValid[desc.typeName];
  if (fast !== undefined && certainlyValid(fast, msg)) return;
  validatorFor(desc)(msg as Obj, pointer);
}

function certainlyValid(fast: (m: Obj) => boolean, msg: object): boolean {
  try {
    return fast(msg as Obj);
  } catch {
    return false; // not even shaped like the message: the compiled validator says what is wrong
  }
}

/** The compiled validator alone (tests compare it with the generated check). */
export function validateMessageCompiled(desc: DescMessage, msg: object, pointer = ""): void {
  validatorFor(desc)(msg as Obj, pointer);
}
