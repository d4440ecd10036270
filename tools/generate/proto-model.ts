// Reads spec/proto through `buf build` (with source info) into a plain model of every
// message, field, oneof and enum value, with the rules their comments state. The rules
// generator, the JSON Schema scaffolder and the proto/schema comparator all share it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileRegistry, fromBinary, type DescField, type DescFile, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { repoRoot, tool } from "./paths.js";

export interface FieldRule {
  required?: true;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  maxBytes?: number;
  mustBeTrue?: true;
}

export interface FieldModel {
  name: string;
  jsonName: string;
  number: number;
  /** "string", "bytes", "bool", "uint32", "uint64", ..., "enum", "message". */
  kind: string;
  /** Full name of the enum or message type, for kind enum/message. */
  typeName?: string;
  repeated: boolean;
  oneof?: string;
  comment: string;
  rule: FieldRule;
}

export interface MessageModel {
  fullName: string;
  name: string;
  /** Proto file, e.g. "fleet/v1/envelope.proto". */
  file: string;
  comment: string;
  fields: FieldModel[];
  oneofs: { name: string; fields: string[]; required: boolean }[];
}

export interface EnumModel {
  fullName: string;
  name: string;
  file: string;
  comment: string;
  values: { name: string; number: number }[];
}

export interface ProtoModel {
  messages: MessageModel[];
  enums: EnumModel[];
  files: string[];
}

/** Runs `buf build` on a proto root (default spec/proto) and returns the descriptor set bytes. */
export function buildDescriptorSet(protoRoot = join(repoRoot, "spec/proto")): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "fleet-buf-"));
  try {
    const out = join(dir, "set.binpb");
    execFileSync(tool("buf"), ["build", protoRoot, "--as-file-descriptor-set", "-o", out], { cwd: repoRoot, stdio: ["ignore", "ignore", "pipe"] });
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Field rules stated in prose by the proto comments; the one place that prose is parsed. */
export function ruleFromComment(comment: string): FieldRule {
  const rule: FieldRule = {};
  // "Required." / "Required (at least one)" / "Required; ..." but not the conditional "Required on ...".
  if (/\bRequired\b(?! on\b)/.test(comment)) rule.required = true;
  const len = /\b(\d+)\.\.(\d+) characters\b/.exec(comment);
  if (len) {
    rule.minLength = Number(len[1]);
    rule.maxLength = Number(len[2]);
  }
  const chars = /characters of (\[[^\]]+\])/.exec(comment);
  if (chars) rule.pattern = `^${chars[1]}+$`;
  if (/at most 1 MiB/.test(comment)) rule.maxBytes = 1_048_576;
  if (/Must be true when set/.test(comment)) rule.mustBeTrue = true;
  return rule;
}

function commentsOf(file: DescFile): Map<string, string> {
  const out = new Map<string, string>();
  for (const loc of file.proto.sourceCodeInfo?.location ?? []) {
    const text = (loc.leadingComments ?? "").trim().replace(/\s*\n\s*/g, " ");
    if (text) out.set(loc.path.join("."), text);
  }
  return out;
}

function kindOf(f: DescField): Pick<FieldModel, "kind" | "typeName"> {
  const scalarName = (t: ScalarType) => ScalarType[t].toLowerCase();
  switch (f.fieldKind) {
    case "scalar":
      return { kind: scalarName(f.scalar) };
    case "enum":
      return { kind: "enum", typeName: f.enum.typeName };
    case "message":
      return { kind: "message", typeName: f.message.typeName };
    case "list":
      if (f.listKind === "scalar") return { kind: scalarName(f.scalar) };
      if (f.listKind === "enum") return { kind: "enum", typeName: f.enum.typeName };
      return { kind: "message", typeName: f.message.typeName };
    case "map":
      throw new Error(`map fields are not used by fleet.v1 (${f.parent.typeName}.${f.name})`);
  }
}

/** The model of every fleet.v1 message and enum (google.protobuf imports are left out). */
export function loadProtoModel(protoRoot?: string): ProtoModel {
  const set = fromBinary(FileDescriptorSetSchema, buildDescriptorSet(protoRoot));
  const registry = createFileRegistry(set);
  const model: ProtoModel = { messages: [], enums: [], files: [] };
  for (const file of registry.files) {
    if (!file.name.startsWith("fleet/")) continue;
    const fileName = `${file.name}.proto`;
    model.files.push(fileName);
    const comments = commentsOf(file);
    file.messages.forEach((m, mi) => {
      if (m.nestedMessages.length || m.nestedEnums.length) throw new Error(`nested types are not supported by the model (${m.typeName})`);
      const messageComment = comments.get(`4.${mi}`) ?? "";
      // A oneof must be set when its comment, or the comment of a message that is nothing
      // but that oneof (Body), says "Exactly one".
      const onlyOneof = m.oneofs.length === 1 && m.fields.every((f) => f.oneof) && /^Exactly one\b/.test(messageComment);
      const oneofs = m.oneofs.map((o, oi) => ({
        name: o.name,
        fields: o.fields.map((f) => f.name),
        required: onlyOneof || /^Exactly one\b/.test(comments.get(`4.${mi}.8.${oi}`) ?? ""),
      }));
      const fields = m.fields.map((f, fi): FieldModel => {
        const comment = comments.get(`4.${mi}.2.${fi}`) ?? "";
        return {
          name: f.name,
          jsonName: f.jsonName,
          number: f.number,
          ...kindOf(f),
          repeated: f.fieldKind === "list",
          ...(f.oneof ? { oneof: f.oneof.name } : {}),
          comment,
          rule: ruleFromComment(comment),
        };
      });
      model.messages.push({ fullName: m.typeName, name: m.name, file: fileName, comment: messageComment, fields, oneofs });
    });
    for (const [ei, e] of file.enums.entries()) {
      model.enums.push({ fullName: e.typeName, name: e.name, file: fileName, comment: comments.get(`5.${ei}`) ?? "", values: e.values.map((v) => ({ name: v.name, number: v.number })) });
    }
  }
  return model;
}
