// Subject mapping: escaping makes any agent name one safe, reversible subject token.
import { describe, expect, it } from "vitest";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { parseSubject, STREAMS, subjects, subjectToken, tokenToName } from "../../runtime/nats/subjects.js";

describe("NATS subjects", () => {
  it("maps each channel to its subject", () => {
    expect(subjects.agentInbox("agent-beta")).toBe("fleet.v1.agent.agent-beta.inbox");
    expect(subjects.agentReceipts("bot:alice")).toBe("fleet.v1.agent.bot:alice.receipts");
    expect(subjects.group("ops")).toBe("fleet.v1.group.ops");
    expect(subjects.capability("compute")).toBe("fleet.v1.capability.compute");
    expect(subjects.presence("a")).toBe("fleet.v1.presence.a");
    expect(subjects.bottle("a")).toBe("fleet.v1.bottle.a");
    expect(subjects.broadcast()).toBe("fleet.v1.broadcast");
    expect(subjects.session("s1", "initiator")).toBe("fleet.v1.session.s1.i2r");
    expect(subjects.session("s1", "responder")).toBe("fleet.v1.session.s1.r2i");
    expect(subjects.session("a.b", "initiator")).toBe("fleet.v1.session.a%2Eb.i2r");
    expect(STREAMS.inbox.subjects).toEqual(["fleet.v1.agent.*.inbox"]);
    expect(subjects.keys("bot:alice")).toBe("fleet.v1.keys.bot:alice");
    expect(subjects.keys("a.b")).toBe("fleet.v1.keys.a%2Eb");
    expect(STREAMS.keys).toEqual({ name: "FLEET_KEYS", subjects: ["fleet.v1.keys.*"] });
  });

  it("escapes '.', '*', '>', '%' and whitespace so a name is always one token", () => {
    for (const name of ["a.b", "*", ">", "a b", "tab\there", "new\nline", "50%", "ünï.cødé", "x>y.*"]) {
      const token = subjectToken(name);
      expect(token).not.toMatch(/[.*>\s]/u);
      expect(tokenToName(token)).toBe(name);
      const subject = subjects.agentInbox(name);
      expect(subject.split(".")).toHaveLength(5);
      expect(parseSubject(subject)).toEqual({ channel: "agentInbox", param: name });
    }
    // Distinct names never share a subject.
    expect(subjectToken("a.b")).not.toBe(subjectToken("a%2Eb"));
  });

  it("rejects empty and over-long names with 709", () => {
    for (const bad of ["", "x".repeat(129)]) {
      try {
        subjects.agentInbox(bad);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(FleetError);
        expect((e as FleetError).code).toBe(ErrorCode.VALIDATION_OUT_OF_RANGE);
      }
    }
  });

  it("parses concrete subjects back to channels", () => {
    expect(parseSubject("fleet.v1.registry.sync")).toEqual({ channel: "registrySync" });
    expect(parseSubject("fleet.v1.agent.x.receipts")).toEqual({ channel: "agentReceipts", param: "x" });
    expect(parseSubject("other.subject")).toBeUndefined();
    expect(parseSubject("fleet.v1.session.a%2Eb.r2i")).toEqual({ channel: "session", param: "a.b", params: { sessionId: "a.b", direction: "r2i" } });
    // The direction is a fixed token, not a name.
    expect(parseSubject("fleet.v1.session.s1.inbox")).toBeUndefined();
  });

  it("refuses a malformed token of the matching channel with WIRE_MALFORMED, not other channels' tokens", () => {
    expect(() => parseSubject("fleet.v1.agent.%E0%A4%A.inbox")).toThrow(expect.objectContaining({ code: ErrorCode.WIRE_MALFORMED }));
    expect(parseSubject("fleet.v1.agent.%E0%A4%A.elsewhere")).toBeUndefined();
  });
});
