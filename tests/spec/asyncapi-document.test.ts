// The AsyncAPI document as a reader uses it: one version with the package and its CHANGELOG,
// every message a named schema per body type (components.schemas), and every message an
// example that is a golden vector of fixtures/wire.json and valid against spec/schemas.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { validateEnvelope, validatePacket, validateSignedGroupStatement } from "../../generated/validators/fleet/v1/index.js";
import { exampleVectors } from "../../tools/fixtures/asyncapi-examples.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const doc = parse(readFileSync(join(root, "spec/asyncapi/fleet.asyncapi.yaml"), "utf8")) as Record<string, any>;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const messages = Object.entries<Record<string, any>>(doc.components.messages);
const schemas = doc.components.schemas as Record<string, Record<string, any>>;

describe("the AsyncAPI document", () => {
  it("carries the package's version, and the CHANGELOG's latest entry is that version", () => {
    expect(doc.info.version).toBe(pkg.version);
    const changelog = readFileSync(join(root, "CHANGELOG.md"), "utf8");
    expect(changelog.match(/^## \[?(\d+\.\d+\.\d+[^\]\s]*)/m)?.[1]).toBe(pkg.version);
  });

  it("gives every message a named payload schema of its own, built on the named Envelope (or Packet, or for a stored group statement SignedGroupStatement)", () => {
    expect(messages.length).toBeGreaterThan(15);
    const seen = new Set<string>();
    for (const [name, m] of messages) {
      const ref: string = m.payload?.$ref ?? "";
      expect(ref, name).toMatch(/^#\/components\/schemas\/\w+$/);
      const key = ref.split("/").pop()!;
      expect(seen.has(key), `${name} shares ${key}`).toBe(false);
      seen.add(key);
      const schema = schemas[key]!;
      expect(schema.title, key).toBe(key);
      expect(schema.allOf?.[0]?.$ref, key).toMatch(/^#\/components\/schemas\/(Envelope|Packet|SignedGroupStatement)$/);
      expect(schema.allOf?.[1]?.title, key).toMatch(/^(body|kind): \w+$/);
    }
  });

  it("has an example for every message: a golden vector, valid against spec/schemas, of the message's body kind", () => {
    const vectors = exampleVectors(root);
    for (const [name, m] of messages) {
      const examples = m.examples as { name: string; payload: Record<string, any> }[] | undefined;
      expect(examples?.length, `${name} has no example`).toBeGreaterThan(0);
      for (const ex of examples!) {
        expect(ex.payload, `${name}: ${ex.name} is not the vector of that name in fixtures/wire.json (npm run fixtures:asyncapi)`).toEqual(vectors.get(ex.name));
        const constraint = schemas[m.payload.$ref.split("/").pop()]!.allOf[1];
        if (name === "SignedGroupStatement") {
          expect(validateSignedGroupStatement(ex.payload), JSON.stringify(validateSignedGroupStatement.errors)).toBe(true);
          expect(Object.keys(ex.payload)).toEqual(constraint.required);
        } else if (name === "SessionEnvelope") {
          expect(validatePacket(ex.payload), JSON.stringify(validatePacket.errors)).toBe(true);
          expect(Object.keys(ex.payload)).toEqual(constraint.required);
        } else {
          expect(validateEnvelope(ex.payload), JSON.stringify(validateEnvelope.errors)).toBe(true);
          expect(Object.keys(ex.payload.body)).toEqual(constraint.properties.body.required);
        }
      }
    }
  });

  it("gives every channel an operation, so the rendered page shows each one (an address-less reply channel too)", () => {
    const used = new Set(Object.values<Record<string, any>>(doc.operations).map((o) => o.channel.$ref.split("/").pop()));
    expect(Object.keys(doc.channels).filter((c) => !used.has(c))).toEqual([]);
  });
});
