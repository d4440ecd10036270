// The proto <-> JSON Schema comparator: every proto message, field (JSON name, type,
// repeated, Required, stated limits), oneof and enum value must have its schema
// counterpart, and every schema $def, property and enum value must have its proto
// counterpart. Returns one line per disagreement.
import { posix } from "node:path";
import type { FieldModel, MessageModel, ProtoModel } from "../generate/proto-model.js";
import { propertyShape, schemaFileFor, type Shape } from "../generate/schema-shape.js";
import type { SchemaFile } from "../generate/schema-files.js";

// Keywords that carry the proto's meaning; others (description, minimum, not, ...) are free to refine.
const COMPARED = ["type", "$ref", "format", "contentEncoding", "const", "minLength", "maxLength", "pattern", "minItems"] as const;

function sameShape(expected: Shape, actual: Shape, where: string, out: string[]): void {
  for (const key of COMPARED) {
    if (key in expected || key in actual) {
      if (JSON.stringify(expected[key]) !== JSON.stringify(actual[key])) {
        out.push(`${where}: ${key} is ${JSON.stringify(actual[key])}, the proto implies ${JSON.stringify(expected[key])}`);
      }
    }
  }
  if (expected.items || actual.items) {
    if (!actual.items || !expected.items) out.push(`${where}: items ${actual.items ? "present" : "missing"}, the proto says ${expected.items ? "repeated" : "singular"}`);
    else sameShape(expected.items as Shape, actual.items as Shape, `${where}/items`, out);
  }
}

function checkOneofs(m: MessageModel, def: Shape, where: string, out: string[]): void {
  const json = (name: string) => m.fields.find((f) => f.name === name)!.jsonName;
  for (const o of m.oneofs) {
    const members = o.fields.map(json);
    if (members.length === m.fields.length) {
      if (def.maxProperties !== 1) out.push(`${where}: oneof ${o.name} needs maxProperties 1 (at most one of ${members.join(", ")})`);
      if (o.required && def.minProperties !== 1) out.push(`${where}: oneof ${o.name} is "Exactly one" and needs minProperties 1`);
      continue;
    }
    const dependent = (def.dependentSchemas ?? {}) as Record<string, Shape>;
    for (const a of members) {
      const others = members.filter((b) => b !== a);
      const excluded = JSON.stringify(((dependent[a]?.not as Shape | undefined)?.anyOf as Shape[] | undefined)?.map((x) => (x.required as string[])[0]).sort());
      if (excluded !== JSON.stringify([...others].sort())) out.push(`${where}: dependentSchemas/${a} must exclude ${others.join(", ")} (oneof ${o.name})`);
    }
    if (o.required) {
      const any = JSON.stringify(((def.anyOf ?? []) as Shape[]).map((x) => (x.required as string[])[0]).sort());
      if (any !== JSON.stringify([...members].sort())) out.push(`${where}: oneof ${o.name} is "Exactly one" and needs anyOf requiring one of ${members.join(", ")}`);
    }
  }
}

export function compareProtoAndSchemas(model: ProtoModel, schemas: SchemaFile[]): string[] {
  const out: string[] = [];
  const byPath = new Map(schemas.map((s) => [s.path, s]));
  const fileOf = new Map<string, string>();
  for (const x of [...model.messages, ...model.enums]) fileOf.set(x.fullName, x.file);

  for (const protoFile of model.files) {
    if (!byPath.has(schemaFileFor(protoFile))) out.push(`spec/schemas/${schemaFileFor(protoFile)}: missing (schema of spec/proto/${protoFile})`);
  }
  for (const s of schemas) {
    if (!model.files.includes(s.path.replace(/\.schema\.json$/, ".proto"))) out.push(`spec/schemas/${s.path}: no proto file spec/proto/${s.path.replace(/\.schema\.json$/, ".proto")}`);
  }

  for (const m of model.messages) {
    const path = schemaFileFor(m.file);
    const file = byPath.get(path);
    if (!file) continue;
    const where = `spec/schemas/${path}#/$defs/${m.name}`;
    const def = file.json.$defs?.[m.name] as Shape | undefined;
    if (!def) {
      out.push(`${where}: missing (message ${m.fullName})`);
      continue;
    }
    if (def.type !== "object") out.push(`${where}: type must be "object"`);
    if (def.additionalProperties !== false) out.push(`${where}: additionalProperties must be false (unknown JSON fields are rejected)`);
    const refTo = (typeName: string) => {
      const target = schemaFileFor(fileOf.get(typeName)!);
      const name = typeName.split(".").pop();
      return target === path ? `#/$defs/${name}` : `${posix.relative(posix.dirname(path), target)}#/$defs/${name}`;
    };
    const props = (def.properties ?? {}) as Record<string, Shape>;
    const fields = new Map<string, FieldModel>(m.fields.map((f) => [f.jsonName, f]));
    for (const f of m.fields) {
      const p = props[f.jsonName];
      if (!p) out.push(`${where}/properties/${f.jsonName}: missing (field ${f.name} = ${f.number})`);
      else sameShape(propertyShape(f, refTo), p, `${where}/properties/${f.jsonName}`, out);
    }
    for (const key of Object.keys(props)) {
      if (!fields.has(key)) out.push(`${where}/properties/${key}: no such field in ${m.fullName}`);
    }
    const want = m.fields.filter((f) => f.rule.required && !f.oneof).map((f) => f.jsonName).sort();
    const have = [...((def.required ?? []) as string[])].sort();
    for (const r of want) if (!have.includes(r)) out.push(`${where}/required: lacks ${r} (the proto comment says Required)`);
    for (const r of have) if (!want.includes(r)) out.push(`${where}/required: has ${r}, which the proto does not mark Required`);
    checkOneofs(m, def, where, out);
  }

  for (const e of model.enums) {
    const path = schemaFileFor(e.file);
    const def = byPath.get(path)?.json.$defs?.[e.name] as Shape | undefined;
    const where = `spec/schemas/${path}#/$defs/${e.name}`;
    if (!byPath.has(path)) continue;
    if (!def) {
      out.push(`${where}: missing (enum ${e.fullName})`);
      continue;
    }
    const values = (def.enum ?? []) as string[];
    for (const v of e.values) if (!values.includes(v.name)) out.push(`${where}/enum: lacks ${v.name} (= ${v.number})`);
    for (const v of values) if (!e.values.some((x) => x.name === v)) out.push(`${where}/enum: has ${v}, which ${e.fullName} does not define`);
  }

  const known = new Set([...model.messages, ...model.enums].map((x) => `${schemaFileFor(x.file)}#${x.name}`));
  for (const s of schemas) {
    for (const name of Object.keys(s.json.$defs ?? {})) {
      if (!known.has(`${s.path}#${name}`)) out.push(`spec/schemas/${s.path}#/$defs/${name}: no message or enum ${name} in spec/proto/${s.path.replace(/\.schema\.json$/, ".proto")}`);
    }
  }
  return out;
}
