// Each gate of `npm run check` passes on the repository and fails, with a clear line, when
// its rule is broken in a copy of spec/.
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncapiValid, bufBreaking, bufLint, errorCodesAgree, examplesValid, protoSchemaAgree, schemasValid, typecheck } from "../../tools/check/gates.js";
import { repoRoot } from "../../tools/generate/paths.js";
import { editJson, specCopy, type SpecCopy } from "./spec-copy.js";

let copy: SpecCopy | undefined;
afterEach(() => copy?.remove());
const fresh = () => (copy = specCopy());

describe("the repository passes the fast gates", () => {
  it.each([
    ["buf lint", bufLint],
    ["buf breaking", bufBreaking],
    ["schemas", schemasValid],
    ["proto vs schemas", protoSchemaAgree],
    ["examples", examplesValid],
    ["error codes", errorCodesAgree],
  ])("%s", async (_name, gate) => {
    expect(await gate(repoRoot)).toEqual([]);
  });
});

describe("error codes agree with errors.proto (spec/errors.md)", () => {
  it("fails on a stale table, a code errors.proto lacks, and a code under another code's name", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/errors.proto", (t) => t.replace("  // A session message could not be decrypted", "  // A revoked token.\n  ERROR_CODE_SECURITY_TOKEN_REVOKED = 610;\n  // A session message could not be decrypted"));
    c.edit("spec/tokens.md", (t) => t.replace("uses are exhausted: 608.", "uses are exhausted: 612. (`SECURITY_TOKEN_USED` (604))"));
    expect(await errorCodesAgree(c.root)).toEqual([
      "spec/errors.md: the error-code table is stale (run npm run generate)",
      expect.stringMatching(/^spec\/tokens\.md:\d+: 612 is not an error code in errors\.proto$/),
      expect.stringMatching(/^spec\/tokens\.md:\d+: SECURITY_TOKEN_USED is 608 in errors\.proto, not 604$/),
    ]);
  });

  it("reads units as units: 120 s, 2 MiB and 256 envelopes are not codes", async () => {
    const c = fresh();
    c.edit("spec/frame.md", (t) => `${t}\nAt most 115 s, 117 bytes and 119 envelopes; 999 is not in a code's range either.\n`);
    expect(await errorCodesAgree(c.root)).toEqual([]);
  });
});

describe("buf breaking against spec/baseline", () => {
  it("fails when a field is removed", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/envelope.proto", (t) => t.replace(/  \/\/ Conversation thread the message belongs to\.\n  string thread_id = 10;\n/, ""));
    const out = await bufBreaking(c.root);
    expect(out.some((l) => /thread_id/.test(l) && /deleted/i.test(l))).toBe(true);
  });

  it("fails when a field is renumbered", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/envelope.proto", (t) => t.replace("uint32 ttl_seconds = 7;", "uint32 ttl_seconds = 77;"));
    expect((await bufBreaking(c.root)).length).toBeGreaterThan(0);
  });

  it("passes an additive change", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/payload.proto", (t) => t.replace("message ApplicationPayload {", "message ApplicationPayload {\n  // A test-only addition.\n  string charset = 99;"));
    expect(await bufBreaking(c.root)).toEqual([]);
  });
});

describe("typecheck", () => {
  it("fails with one tsc line per error: a wrong type, an unused local", async () => {
    const root = mkdtempSync(join(tmpdir(), "fleet-tsc-"));
    try {
      writeFileSync(join(root, "tsconfig.json"), JSON.stringify({ extends: join(repoRoot, "tsconfig.json"), compilerOptions: { types: [] }, include: ["bad.ts"] }));
      writeFileSync(join(root, "bad.ts"), "export const n: number = \"one\";\nexport function f(): void {\n  const unused = 1;\n}\n");
      const out = await typecheck(root);
      expect(out).toContainEqual(expect.stringMatching(/^tsc: bad\.ts\(1,14\): error TS2322/));
      expect(out).toContainEqual(expect.stringMatching(/^tsc: bad\.ts\(3,9\): error TS6133: 'unused'/));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("buf lint (STANDARD + COMMENTS)", () => {
  it("fails on an uncommented field", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/payload.proto", (t) => t.replace("  // IANA media type of the content, e.g. \"application/json\".\n", ""));
    const out = await bufLint(c.root);
    expect(out.some((l) => /media_type/.test(l) && /comment/i.test(l))).toBe(true);
  });
});

describe("proto <-> JSON Schema comparator", () => {
  it("fails when a schema lacks a proto field", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/fleet/v1/envelope.schema.json", (j) => delete j.$defs.Envelope.properties.threadId);
    expect(await protoSchemaAgree(c.root)).toContainEqual(expect.stringMatching(/Envelope\/properties\/threadId: missing \(field thread_id = 10\)/));
  });

  it("fails when a schema has a property the proto lacks", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/fleet/v1/envelope.schema.json", (j) => (j.$defs.Envelope.properties.colour = { type: "string" }));
    expect(await protoSchemaAgree(c.root)).toContainEqual(expect.stringMatching(/properties\/colour: no such field in fleet.v1.Envelope/));
  });

  it("fails when a proto enum value is missing from the schema, and the other way round", async () => {
    const c = fresh();
    c.edit("spec/proto/fleet/v1/envelope.proto", (t) => t.replace("  MESSAGE_TYPE_ERROR = 7;\n", "  MESSAGE_TYPE_ERROR = 7;\n  // Test-only.\n  MESSAGE_TYPE_GOSSIP = 8;\n"));
    editJson(c, "spec/schemas/fleet/v1/receipt.schema.json", (j) => j.$defs.ReceiptStatus.enum.push("RECEIPT_STATUS_LOST"));
    const out = await protoSchemaAgree(c.root);
    expect(out).toContainEqual(expect.stringMatching(/MessageType\/enum: lacks MESSAGE_TYPE_GOSSIP/));
    expect(out).toContainEqual(expect.stringMatching(/ReceiptStatus\/enum: has RECEIPT_STATUS_LOST/));
  });

  it("fails on a type, repeated or Required mismatch", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/fleet/v1/envelope.schema.json", (j) => {
      j.$defs.Envelope.properties.ttlSeconds.type = "string";
      j.$defs.Envelope.properties.capabilitiesNeeded = { type: "string" };
      j.$defs.Envelope.required = j.$defs.Envelope.required.filter((r: string) => r !== "sender");
    });
    const out = await protoSchemaAgree(c.root);
    expect(out).toContainEqual(expect.stringMatching(/ttlSeconds: type is "string", the proto implies "integer"/));
    expect(out).toContainEqual(expect.stringMatching(/capabilitiesNeeded: items missing/));
    expect(out).toContainEqual(expect.stringMatching(/Envelope\/required: lacks sender/));
  });

  it("fails when a proto message has no $def, or a $def no message", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/fleet/v1/payload.schema.json", (j) => {
      j.$defs.Stray = { type: "object", additionalProperties: false, properties: {} };
      delete j.$defs.ApplicationPayload;
    });
    const out = await protoSchemaAgree(c.root);
    expect(out).toContainEqual(expect.stringMatching(/\$defs\/ApplicationPayload: missing/));
    expect(out).toContainEqual(expect.stringMatching(/\$defs\/Stray: no message or enum/));
  });
});

describe("JSON Schema validity", () => {
  it("fails on an invalid schema and on a non-relative $ref", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/fleet/v1/payload.schema.json", (j) => (j.$defs.ApplicationPayload.properties.mediaType.type = "strnig"));
    editJson(c, "spec/schemas/fleet/v1/heartbeat.schema.json", (j) => (j.$defs.Heartbeat.properties.health.$ref = "https://example.com/registry.schema.json#/$defs/HealthStatus"));
    const out = await schemasValid(c.root);
    expect(out).toContainEqual(expect.stringMatching(/payload.schema.json#\/\$defs\/ApplicationPayload\/properties\/mediaType\/type: must be equal to one of the allowed values/));
    expect(out).toContainEqual(expect.stringMatching(/heartbeat.schema.json.*is not a relative reference/));
  });
});

describe("examples", () => {
  it("fails when an example does not match its schema", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/examples/envelope-heartbeat.json", (j) => (j.instance.ttlSeconds = "soon"));
    expect(await examplesValid(c.root)).toContainEqual(expect.stringMatching(/envelope-heartbeat.json: instance\/ttlSeconds must be integer/));
  });

  it("fails when an example is valid JSON Schema-wise but not canonical", async () => {
    const c = fresh();
    editJson(c, "spec/schemas/examples/envelope-heartbeat.json", (j) => (j.instance.requiresAck = false));
    expect(await examplesValid(c.root)).toContainEqual(expect.stringMatching(/envelope-heartbeat.json: not in canonical JSON form/));
  });
});

describe("AsyncAPI validity", () => {
  it("fails on an invalid document", async () => {
    const c = fresh();
    c.edit("spec/asyncapi/fleet.asyncapi.yaml", (t) => t.replace("    action: send\n    title: Broadcast", "    action: shout\n    title: Broadcast"));
    const out = await asyncapiValid(c.root);
    expect(out.length).toBeGreaterThan(0);
    expect(out[0]).toMatch(/^asyncapi validate spec\/asyncapi\/fleet.asyncapi.yaml: /);
  });
});
