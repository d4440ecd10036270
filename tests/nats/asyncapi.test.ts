// spec/asyncapi/fleet.asyncapi.yaml is the source of truth for NATS subjects: every channel
// address in it is in runtime/nats/subjects.ts under the same channel id, and back.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CHANNEL_SUBJECTS, SESSION_SUBJECT, STREAMS } from "../../runtime/nats/subjects.js";

const doc = parse(readFileSync(new URL("../../spec/asyncapi/fleet.asyncapi.yaml", import.meta.url), "utf8")) as {
  info: { description: string };
  channels: Record<string, { address?: string | null }>;
};
// Channels with a null address are not subjects (hub connection, request reply addresses).
const documented = Object.fromEntries(Object.entries(doc.channels).flatMap(([id, ch]) => (typeof ch.address === "string" ? [[id, ch.address]] : [])));

describe("NATS subjects against the AsyncAPI document", () => {
  it("has every documented channel address, under the same channel id", () => {
    for (const [id, address] of Object.entries(documented)) expect({ id, address: (CHANNEL_SUBJECTS as Record<string, string>)[id] }).toEqual({ id, address });
  });

  it("uses no channel subject the document lacks", () => {
    for (const [id, address] of Object.entries(CHANNEL_SUBJECTS)) expect({ id, address: documented[id] }).toEqual({ id, address });
  });

  it("names the same JetStream streams and subjects", () => {
    const text = doc.info.description.replace(/\s+/g, " ");
    for (const s of Object.values(STREAMS)) expect(text).toContain(`\`${s.name}\` (subjects \`${s.subjects.join("`, `")}\`)`);
  });

  it("keeps the session subject out of every stream (session traffic is live, never stored)", () => {
    const asPattern = (s: string) => new RegExp(`^${s.replace(/\./g, "\\.").replace(/\*/g, "[^.]+").replace(/>/g, ".+")}$`);
    const sample = SESSION_SUBJECT.replace("{session}", "s1").replace("{direction}", "i2r");
    for (const s of Object.values(STREAMS)) for (const subj of s.subjects) expect(asPattern(subj).test(sample)).toBe(false);
  });
});
