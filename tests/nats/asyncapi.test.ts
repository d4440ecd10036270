// spec/asyncapi/fleet.asyncapi.yaml is the source of truth for NATS subjects: every channel
// address in it is in runtime/nats/subjects.ts under the same channel id and is made by a
// `subjects` function, and every subject the binding makes is in the document.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { CHANNEL_SUBJECTS, parseSubject, STREAMS, subjects } from "../../runtime/nats/subjects.js";
import { CONTENT_TYPE } from "../../runtime/nats/wire.js";
import { specCopy, type SpecCopy } from "../spec/spec-copy.js";
import { compareSubjectsWithAsyncapi } from "./support/asyncapi-subjects.js";

const DOC = "spec/asyncapi/fleet.asyncapi.yaml";
const docPath = new URL(`../../${DOC}`, import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const doc = parse(readFileSync(docPath, "utf8")) as any;

describe("NATS subjects against the AsyncAPI document", () => {
  let copy: SpecCopy | undefined;
  afterEach(() => {
    copy?.remove();
    copy = undefined;
  });
  /** A temp copy of spec/ with the document changed, and what the comparison says about it. */
  function compareEdited(change: (d: any) => void): string[] { // eslint-disable-line @typescript-eslint/no-explicit-any
    copy = specCopy();
    copy.edit(DOC, (text) => {
      const d = parse(text);
      change(d);
      return stringify(d);
    });
    return compareSubjectsWithAsyncapi(join(copy.root, DOC));
  }

  it("agrees with the binding in both directions: channel ids, addresses, parameter enums, subject functions, content types", () => {
    expect(compareSubjectsWithAsyncapi(docPath.pathname)).toEqual([]);
  });

  it("documents the session channel the binding uses, both directions, never stored", () => {
    const ch = doc.channels.session;
    expect(ch.address).toBe(CHANNEL_SUBJECTS.session);
    expect(ch.servers).toEqual([{ $ref: "#/servers/nats" }]);
    expect(doc.components.parameters.direction.enum).toEqual(["i2r", "r2i"]);
    expect(doc.components.parameters.sessionId.description).toBeTruthy();
    expect(doc.components.messages.SessionEnvelope.contentType).toBe(CONTENT_TYPE.packetProto);
    expect(doc.components.messages.SessionEnvelope.payload).toEqual({ $ref: "#/components/schemas/SessionPacket" });
    expect(doc.components.schemas.SessionPacket.allOf).toEqual([{ $ref: "#/components/schemas/Packet" }, { title: "kind: session", required: ["session"] }]);
    const actions = Object.values(doc.operations as Record<string, { action: string; channel: { $ref: string } }>).filter((o) => o.channel.$ref === "#/channels/session").map((o) => o.action);
    expect(actions.sort()).toEqual(["receive", "send"]);
    expect(ch.description).toMatch(/never stored/);
    expect(parseSubject(subjects.session("s.1", "initiator"))).toEqual({ channel: "session", param: "s.1", params: { sessionId: "s.1", direction: "i2r" } });
    expect(parseSubject(subjects.session("s.1", "responder"))?.params?.direction).toBe("r2i");
    expect(parseSubject("fleet.v1.session.s1.x2y")).toBeUndefined();
  });

  it("documents the key rotation channel: stored in FLEET_KEYS, sent by the rotating agent, followed by every agent", () => {
    const ch = doc.channels.keys;
    expect(ch.address).toBe(CHANNEL_SUBJECTS.keys);
    expect(ch.servers).toEqual([{ $ref: "#/servers/nats" }]);
    expect(ch.messages).toEqual({ keyRotation: { $ref: "#/components/messages/KeyRotation" } });
    expect(ch.description).toMatch(/FLEET_KEYS/);
    const ops = Object.values(doc.operations as Record<string, { action: string; channel: { $ref: string } }>).filter((o) => o.channel.$ref === "#/channels/keys");
    expect(ops.map((o) => o.action).sort()).toEqual(["receive", "send"]);
    expect(STREAMS.keys.subjects).toEqual([subjects.keysAll()]);
    expect(parseSubject(subjects.keys("ops.agent"))).toEqual({ channel: "keys", param: "ops.agent" });
  });

  it("fails when the key rotation channel is removed from a copy of the document", () => {
    const failures = compareEdited((d) => {
      delete d.channels.keys;
      delete d.operations.rotateKey;
      delete d.operations.followKeyRotations;
    });
    expect(failures).toEqual([
      `CHANNEL_SUBJECTS.keys (${CHANNEL_SUBJECTS.keys}) is not a channel of the document`,
      `subjects.keys() makes ${subjects.keys("agent-a")}, which no channel of the document addresses`,
      `subjects.keysAll() makes ${subjects.keysAll()}, which no channel of the document addresses`,
    ]);
  });

  it("documents the group chain channel: stored in FLEET_GROUPS, apart from the group's messages, appended and followed", () => {
    const ch = doc.channels.groupChain;
    expect(ch.address).toBe(CHANNEL_SUBJECTS.groupChain);
    expect(ch.address).not.toBe(CHANNEL_SUBJECTS.group);
    expect(ch.servers).toEqual([{ $ref: "#/servers/nats" }]);
    expect(ch.messages).toEqual({ signedGroupStatement: { $ref: "#/components/messages/SignedGroupStatement" } });
    expect(doc.components.messages.SignedGroupStatement.contentType).toBe(CONTENT_TYPE.signedGroupStatement);
    expect(ch.description).toMatch(/FLEET_GROUPS/);
    expect(ch.description).toMatch(/Nats-Expected-Last-Subject-Sequence/);
    const ops = Object.values(doc.operations as Record<string, { action: string; channel: { $ref: string } }>).filter((o) => o.channel.$ref === "#/channels/groupChain");
    expect(ops.map((o) => o.action).sort()).toEqual(["receive", "send"]);
    expect(STREAMS.groups.subjects).toEqual([subjects.groupChain("*")].map((s) => s.replace("%2A", "*")));
    expect(parseSubject(subjects.groupChain("ops.eu"))).toEqual({ channel: "groupChain", param: "ops.eu" });
  });

  it("fails when the group chain channel is removed from a copy of the document", () => {
    const failures = compareEdited((d) => {
      delete d.channels.groupChain;
      delete d.operations.appendGroupStatement;
      delete d.operations.followGroupChain;
    });
    expect(failures).toEqual([
      `CHANNEL_SUBJECTS.groupChain (${CHANNEL_SUBJECTS.groupChain}) is not a channel of the document`,
      `subjects.groupChain() makes ${subjects.groupChain("ops")}, which no channel of the document addresses`,
    ]);
  });

  it("fails when the session channel is removed from a copy of the document", () => {
    const failures = compareEdited((d) => {
      delete d.channels.session;
      delete d.operations.sendInSession;
      delete d.operations.receiveInSession;
    });
    expect(failures).toContain(`CHANNEL_SUBJECTS.session (${CHANNEL_SUBJECTS.session}) is not a channel of the document`);
    expect(failures).toContain(`subjects.session() makes ${subjects.session("s-1", "initiator")}, which no channel of the document addresses`);
    expect(failures).toContain(`subjects.session() makes ${subjects.session("s-1", "responder")}, which no channel of the document addresses`);
    expect(failures).toContain("PARAMETER_VALUES.direction is no enumerated parameter of the document");
  });

  it("fails when a direction, a channel without a subject function or another address is documented", () => {
    expect(compareEdited((d) => (d.components.parameters.direction.enum = ["i2r"]))).toEqual([
      "parameter direction: document enum i2r, binding i2r, r2i",
      `subjects.session() makes ${subjects.session("s-1", "responder")}, which no channel of the document addresses`,
    ]);
    copy?.remove();
    expect(compareEdited((d) => (d.channels.audit = { address: "fleet.v1.audit" }))).toEqual([
      "channel audit (fleet.v1.audit) is missing from CHANNEL_SUBJECTS",
      "channel audit (fleet.v1.audit) has no subject function",
    ]);
    copy?.remove();
    expect(compareEdited((d) => (d.channels.session.address = "fleet.v1.sess.{sessionId}.{direction}"))).toContain(
      `channel session (fleet.v1.sess.{sessionId}.{direction}) is ${CHANNEL_SUBJECTS.session} in CHANNEL_SUBJECTS`,
    );
  });

  it("names the same JetStream streams and subjects", () => {
    const text = doc.info.description.replace(/\s+/g, " ");
    for (const s of Object.values(STREAMS)) expect(text).toContain(`\`${s.name}\` (subjects \`${s.subjects.join("`, `")}\`)`);
  });

  it("keeps the session subject out of every stream (session traffic is live, never stored)", () => {
    const asPattern = (s: string) => new RegExp(`^${s.replace(/\./g, "\\.").replace(/\*/g, "[^.]+").replace(/>/g, ".+")}$`);
    for (const sample of [subjects.session("s1", "initiator"), subjects.session("s1", "responder")]) {
      for (const s of Object.values(STREAMS)) for (const subj of s.subjects) expect(asPattern(subj).test(sample)).toBe(false);
    }
  });
});
