// How a proto field appears in the canonical JSON form, as a JSON Schema fragment. Used by
// the scaffolder (drafting a schema for a new proto file) and, in reverse, by the
// proto/schema comparator in tools/check.
import type { FieldModel, FieldRule } from "./proto-model.js";

export const UINT64_PATTERN = "^[0-9]+$";
export const INT64_PATTERN = "^-?[0-9]+$";

/** The schema file for a proto file: fleet/v1/envelope.proto -> fleet/v1/envelope.schema.json. */
export function schemaFileFor(protoFile: string): string {
  return protoFile.replace(/\.proto$/, ".schema.json");
}

/** Length of the padded base64 text of n bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

export type Shape = Record<string, unknown>;

/** The schema of one value of the field (an item, for repeated fields). */
export function valueShape(f: FieldModel, refTo: (typeName: string) => string, rule: FieldRule = f.rule): Shape {
  switch (f.kind) {
    case "enum":
    case "message":
      if (f.typeName === "google.protobuf.Timestamp") return { type: "string", format: "date-time" };
      return { $ref: refTo(f.typeName!) };
    case "string": {
      const s: Shape = { type: "string" };
      if (rule.minLength !== undefined) s.minLength = rule.minLength;
      if (rule.maxLength !== undefined) s.maxLength = rule.maxLength;
      if (rule.pattern !== undefined) s.pattern = rule.pattern;
      // A character is at least one UTF-8 byte, so this is the byte limit's necessary part.
      if (rule.maxBytes !== undefined) s.maxLength = rule.maxBytes;
      return s;
    }
    case "bytes":
      return rule.maxBytes !== undefined
        ? { type: "string", contentEncoding: "base64", maxLength: base64Length(rule.maxBytes) }
        : { type: "string", contentEncoding: "base64" };
    case "bool":
      return rule.mustBeTrue ? { type: "boolean", const: true } : { type: "boolean" };
    case "uint32":
    case "fixed32":
      return { type: "integer", minimum: 0, maximum: 4294967295 };
    case "int32":
    case "sint32":
    case "sfixed32":
      return { type: "integer", minimum: -2147483648, maximum: 2147483647 };
    case "uint64":
    case "fixed64":
      return { type: "string", pattern: UINT64_PATTERN };
    case "int64":
    case "sint64":
    case "sfixed64":
      return { type: "string", pattern: INT64_PATTERN };
    case "double":
    case "float":
      return { type: "number" };
    default:
      throw new Error(`no JSON shape for proto type ${f.kind}`);
  }
}

/** The property schema of the field, with its description. */
export function propertyShape(f: FieldModel, refTo: (typeName: string) => string): Shape {
  const value = valueShape(f, refTo);
  const base: Shape = { description: f.comment };
  if (!f.repeated) return { ...base, ...value };
  return { ...base, type: "array", items: value, ...(f.rule.required ? { minItems: 1 } : {}) };
}
