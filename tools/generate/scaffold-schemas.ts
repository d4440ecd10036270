// Drafts the JSON Schema of a proto file from its descriptors, for a human to review and
// commit. NOT part of `npm run generate`: spec/schemas is a hand-maintained source, and
// `npm run check` compares it with the proto instead of regenerating it.
//   npx tsx tools/generate/scaffold-schemas.ts fleet/v1/new_thing.proto > spec/schemas/fleet/v1/new_thing.schema.json
// With --write-missing it writes drafts only for proto files that have no schema yet.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { repoRoot } from "./paths.js";
import { loadProtoModel, type ProtoModel } from "./proto-model.js";
import { formatJson } from "./json-format.js";
import { propertyShape, schemaFileFor, type Shape } from "./schema-shape.js";

export function draftSchema(model: ProtoModel, protoFile: string): Shape {
  const fileOf = new Map<string, string>();
  for (const m of model.messages) fileOf.set(m.fullName, m.file);
  for (const e of model.enums) fileOf.set(e.fullName, e.file);
  const here = schemaFileFor(protoFile);
  const refTo = (typeName: string) => {
    const target = schemaFileFor(fileOf.get(typeName)!);
    const name = typeName.split(".").pop();
    return target === here ? `#/$defs/${name}` : `${posix.relative(posix.dirname(here), target)}#/$defs/${name}`;
  };
  const defs: Record<string, Shape> = {};
  for (const e of model.enums.filter((x) => x.file === protoFile)) {
    defs[e.name] = { description: e.comment, type: "string", enum: e.values.map((v) => v.name) };
  }
  for (const m of model.messages.filter((x) => x.file === protoFile)) {
    const def: Shape = { description: m.comment, type: "object", additionalProperties: false, properties: {} };
    for (const f of m.fields) (def.properties as Shape)[f.jsonName] = propertyShape(f, refTo);
    const required = m.fields.filter((f) => f.rule.required && !f.oneof).map((f) => f.jsonName);
    if (required.length) def.required = required;
    for (const o of m.oneofs) {
      const members = o.fields.map((n) => m.fields.find((f) => f.name === n)!.jsonName);
      if (members.length === m.fields.length) {
        // The message is nothing but this oneof: count the properties.
        def.maxProperties = 1;
        if (o.required) def.minProperties = 1;
        continue;
      }
      // At most one member of a oneof; exactly one when the proto says so.
      const dependent = (def.dependentSchemas ??= {}) as Shape;
      for (const a of members) dependent[a] = { not: { anyOf: members.filter((b) => b !== a).map((b) => ({ required: [b] })) } };
      if (o.required) def.anyOf = members.map((b) => ({ required: [b] }));
    }
    defs[m.name] = def;
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $comment: `JSON form (protobuf canonical JSON) of spec/proto/${protoFile}. Hand-maintained; npm run check compares it with the proto.`,
    title: protoFile,
    $defs: defs,
  };
}

const args = process.argv.slice(2);
if (args.length) {
  const model = loadProtoModel();
  if (args[0] === "--write-missing") {
    for (const file of model.files) {
      const out = join(repoRoot, "spec/schemas", schemaFileFor(file));
      if (existsSync(out)) continue;
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, formatJson(draftSchema(model, file)));
      console.error(`drafted ${out}`);
    }
  } else {
    process.stdout.write(formatJson(draftSchema(model, args[0])));
  }
}
