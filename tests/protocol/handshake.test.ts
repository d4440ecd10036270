import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { CapabilitySetSchema } from "../../generated/proto/fleet/v1/capabilities_pb.js";
import { HeartbeatParamsSchema } from "../../generated/proto/fleet/v1/handshake_pb.js";
import { SignedEnvelopeSchema, type SignedEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { generateIdentity, handshakeTranscript, openSignedEnvelope, PinnedKeys, signEnvelope, StaticKeys } from "../../runtime/crypto/index.js";
import { ErrorCode, FleetError } from "../../runtime/errors.js";
import { capabilityText, parseCapability } from "../../runtime/protocol/capabilities.js";
import { HandshakeInitiator, type HandshakeInitiatorOptions, HandshakeResponder, type HandshakeResponderOptions, type HandshakeStep } from "../../runtime/protocol/handshake.js";
import { memoryPair } from "../../runtime/transport/memory.js";
import { packSigned, unpackSigned } from "./helpers.js";

const agent = generateIdentity("agent-alpha");
const hub = generateIdentity("fleet-hub");
const caps = (offered: string[], required: string[] = [], optional: string[] = []) =>
  create(CapabilitySetSchema, { offered: offered.map(parseCapability), required: required.map(parseCapability), optional: optional.map(parseCapability) });

function machines(i: Partial<HandshakeInitiatorOptions> = {}, r: Partial<HandshakeResponderOptions> = {}) {
  const clock = new FakeClock();
  const agentKeys = new PinnedKeys();
  const hubKeys = new PinnedKeys();
  const initiator = new HandshakeInitiator({ identity: agent, keys: agentKeys, clock, ...i });
  const responder = new HandshakeResponder({ identity: hub, hub: true, keys: hubKeys, clock, ...r });
  return { clock, agentKeys, hubKeys, initiator, responder };
}

describe("handshake", () => {
  it("completes Hello -> Welcome -> Confirm over an in-memory link; both sides hold the same working session", async () => {
    const { initiator, responder, agentKeys, hubKeys } = machines(
      { versions: ["2.0", "3.0", "3.10"], capabilities: caps(["store", "compute@2"], ["relay"], ["cache"]), heartbeat: create(HeartbeatParamsSchema, { intervalMs: 7_000 }) },
      { versions: ["3.9", "3.10", "3.0"], capabilities: caps(["relay", "compute", "store"], ["store"]), heartbeat: create(HeartbeatParamsSchema, { intervalMs: 3_000 }) },
    );
    const [a, b] = memoryPair();
    const steps: { side: string; step: HandshakeStep }[] = [];
    b.onFrame((bytes) => {
      const step = responder.receive(unpackSigned(bytes));
      steps.push({ side: "responder", step });
      if (step.send) b.send(packSigned(step.send));
    });
    a.onFrame((bytes) => {
      const step = initiator.receive(unpackSigned(bytes));
      steps.push({ side: "initiator", step });
      if (step.send) a.send(packSigned(step.send));
    });
    a.send(packSigned(initiator.start()));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(steps.map((s) => s.step.error)).toEqual([undefined, undefined, undefined]);
    const mine = steps.find((s) => s.side === "initiator")!.step.established!;
    const theirs = steps.at(-1)!.step.established!;
    expect(initiator.state).toBe("established");
    expect(responder.state).toBe("established");
    expect(mine.sessionId).toBe(theirs.sessionId);
    expect(mine.version).toBe("3.10"); // numeric, not lexical
    expect(mine.sharedCapabilities.map(capabilityText)).toEqual(["compute@2", "store"]); // offered by both, sorted
    expect(theirs.sharedCapabilities.map(capabilityText)).toEqual(["compute@2", "store"]);
    expect(mine.notices.map((n) => n.code)).toEqual([ErrorCode.CAPABILITY_NOT_SUPPORTED]); // "cache"
    expect(mine.heartbeat.intervalMs).toBe(7_000);
    expect(theirs.heartbeat.intervalMs).toBe(7_000);
    expect(mine.peer).toBe("fleet-hub");
    expect(theirs.peer).toBe("agent-alpha");
    expect(agentKeys.keyIdOf("fleet-hub")).toBe(hub.keyId); // pinned both ways
    expect(hubKeys.keyIdOf("agent-alpha")).toBe(agent.keyId);
    // Session keys agree: what one seals the other opens.
    const env = openSignedEnvelope(steps[0].step.send!, { keys: new StaticKeys([hub]) });
    const sealed = mine.session.seal(env, { encrypt: true });
    expect(theirs.session.open(sealed).id).toBe(env.id);
  });

  it("rejects with 103 and lists supported versions when no version is shared", () => {
    const { initiator, responder } = machines({ versions: ["1.0", "2.0"] }, { versions: ["3.0"] });
    const r = responder.receive(initiator.start());
    expect(r.error?.code).toBe(ErrorCode.HANDSHAKE_VERSION_MISMATCH);
    expect(responder.state).toBe("failed");
    const env = openSignedEnvelope(r.send!, { keys: new StaticKeys([hub]) });
    expect(env.body?.kind.case === "helloReject" && env.body.kind.value.supportedVersions).toEqual(["3.0"]);
    const i = initiator.receive(r.send!);
    expect(i.error?.code).toBe(ErrorCode.HANDSHAKE_VERSION_MISMATCH);
    expect(initiator.state).toBe("failed");
  });

  it("rejects with 403 when a required capability is missing, either way", () => {
    const one = machines({ capabilities: caps([], ["gpu"]) }, { capabilities: caps(["compute"]) });
    const r1 = one.responder.receive(one.initiator.start());
    expect(r1.error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    expect(one.initiator.receive(r1.send!).error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
    const two = machines({ capabilities: caps(["compute"]) }, { capabilities: caps([], ["gpu"]) });
    expect(two.responder.receive(two.initiator.start()).error?.code).toBe(ErrorCode.CAPABILITY_REQUIRED);
  });

  it("rejects with 104 a name pinned to another key, and a refused admission", () => {
    const m = machines();
    m.hubKeys.pin("agent-alpha", generateIdentity("x").publicKey);
    const r = m.responder.receive(m.initiator.start());
    expect(r.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(m.initiator.receive(r.send!).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    const n = machines({ admissionToken: "wrong" }, { admit: (hello) => { if (hello.admissionToken !== "right") throw new FleetError(ErrorCode.SECURITY_UNAUTHORIZED, "bad token"); } });
    expect(n.responder.receive(n.initiator.start()).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
  });

  it("bad key possession or tampering yields 104 and leaves both machines waiting", () => {
    const { initiator, responder, clock } = machines();
    const hello = initiator.start();
    // A Hello whose body claims another identity key than the signing key.
    const other = generateIdentity("agent-alpha");
    const env = openSignedEnvelope(hello, { keys: new StaticKeys([agent]) });
    if (env.body?.kind.case === "hello") env.body.kind.value.identityPublicKey = other.publicKey;
    env.id = "forged";
    const forged = signEnvelope(env, agent);
    expect(responder.receive(forged).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(responder.state).toBe("awaiting-hello");
    // A tampered Hello.
    const tampered = create(SignedEnvelopeSchema, { ...hello, payload: hello.payload.slice() });
    tampered.payload[10] ^= 0xff;
    expect(responder.receive(tampered).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(responder.state).toBe("awaiting-hello");
    const welcome = responder.receive(hello).send!;
    expect(responder.state).toBe("awaiting-confirm");
    // A Welcome re-signed by an impostor key under the hub's name.
    const impostor = generateIdentity("fleet-hub");
    const wenv = openSignedEnvelope(welcome, { keys: new StaticKeys([hub]) });
    wenv.security!.keyId = "";
    expect(initiator.receive(signEnvelope(wenv, impostor)).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(initiator.state).toBe("awaiting-welcome");
    // The genuine Welcome still works; a Confirm from another key is refused, the genuine one accepted.
    const confirm = initiator.receive(welcome).send!;
    const cenv = openSignedEnvelope(confirm, { keys: new StaticKeys([agent]) });
    cenv.security!.keyId = "";
    cenv.id = "other";
    expect(responder.receive(signEnvelope(cenv, other)).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(responder.state).toBe("awaiting-confirm");
    clock.advance(1);
    expect(responder.receive(confirm).established).toBeDefined();
  });

  it("out-of-order steps yield 105 and change nothing", () => {
    const { initiator, responder } = machines();
    const hello = initiator.start();
    expect(initiator.receive(hello).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED); // a hello is not an answer
    const welcome = responder.receive(hello).send!;
    expect(responder.receive(welcome).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
    expect(responder.state).toBe("awaiting-confirm");
    const confirm = initiator.receive(welcome).send!;
    expect(initiator.receive(welcome).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
    expect(responder.receive(confirm).established).toBeDefined();
    expect(responder.receive(confirm).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
    expect(responder.receive(hello).error?.code).toBe(ErrorCode.HANDSHAKE_REQUIRED);
    const fresh = machines();
    fresh.initiator.start();
    expect(fresh.responder.receive(confirm).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED); // unknown signer, not a hello
    expect(fresh.responder.state).toBe("awaiting-hello");
    expect(() => fresh.initiator.start()).toThrow(FleetError);
  });

  it("retries with backoff after the 10 s timeout and fails with 101 after 3 retries", () => {
    const { initiator, clock } = machines();
    const sent: number[] = [];
    const t0 = clock.now();
    let final: HandshakeStep | undefined;
    initiator.onTimeout((step) => {
      if (step.send) sent.push(clock.now() - t0);
      else final = step;
    });
    initiator.start();
    clock.advance(60_000);
    expect(sent).toEqual([12_000, 26_000, 44_000]); // 10 s timeout, then 2/4/8 s backoff
    expect(final?.error?.code).toBe(ErrorCode.HANDSHAKE_TIMEOUT);
    expect(initiator.attemptCount).toBe(4);
    expect(initiator.state).toBe("failed");
    expect(clock.pendingTimers).toBe(0);
  });

  it("a retry's answer completes the handshake; the responder times out a missing confirm with 101", () => {
    const { initiator, responder, clock } = machines();
    let retry: SignedEnvelope | undefined;
    initiator.onTimeout((s) => (retry = s.send));
    initiator.start(); // lost
    clock.advance(12_000);
    expect(retry).toBeDefined();
    const done = initiator.receive(responder.receive(retry!).send!);
    expect(done.established).toBeDefined();
    const lonely = machines();
    let timedOut: HandshakeStep | undefined;
    lonely.responder.onTimeout((s) => (timedOut = s));
    lonely.responder.receive(lonely.initiator.start());
    lonely.clock.advance(10_000);
    expect(timedOut?.error?.code).toBe(ErrorCode.HANDSHAKE_TIMEOUT);
    expect(lonely.responder.state).toBe("failed");
    expect(clock.now()).toBeGreaterThan(0);
  });

  it("key confirmation: the Confirm carries the initiator's Finished over the transcript; a wrong one is 104 and changes nothing", () => {
    const { initiator, responder, clock } = machines();
    const hello = initiator.start();
    const welcome = responder.receive(hello).send!;
    const step = initiator.receive(welcome);
    const confirm = step.send!;
    const cenv = openSignedEnvelope(confirm, { keys: new StaticKeys([agent]) });
    if (cenv.body?.kind.case !== "handshakeConfirm") throw new Error("not a confirm");
    // The Finished is the initiator's MAC over the transcript of both identities and both payloads.
    expect(cenv.body.kind.value.finished).toEqual(step.established!.session.finished());
    expect(cenv.body.kind.value.finished.length).toBe(32);
    // The same Confirm, correctly signed, with one bit of the Finished flipped: 104, still waiting.
    const flipped = cenv.body.kind.value.finished.slice();
    flipped[0] ^= 1;
    cenv.body.kind.value.finished = flipped;
    cenv.id = "bad-finished";
    const bad = responder.receive(signEnvelope(cenv, agent));
    expect(bad.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(bad.error?.pointer).toBe("/body/handshakeConfirm/finished");
    expect(responder.state).toBe("awaiting-confirm");
    clock.advance(1);
    expect(responder.receive(confirm).established).toBeDefined();
  });

  it("the transcript binds both names and identity keys; the responder's first session message carries its Finished", () => {
    const { initiator, responder, clock } = machines();
    const hello = initiator.start();
    const welcome = responder.receive(hello).send!;
    const step = initiator.receive(welcome);
    const mine = step.established!;
    clock.advance(1);
    const theirs = responder.receive(step.send!).established!;
    const inputs = { initiator: agent.agent, initiatorKey: agent.publicKey, responder: hub.agent, responderKey: hub.publicKey, hello: hello.payload, welcome: welcome.payload };
    const t = handshakeTranscript(inputs);
    // Changing any identity input gives another transcript (so other keys and another Finished).
    for (const change of [{ initiator: "agent-mallory" }, { responder: "other-hub" }, { initiatorKey: hub.publicKey }, { responderKey: agent.publicKey }]) {
      expect(handshakeTranscript({ ...inputs, ...change })).not.toEqual(t);
    }
    const env = openSignedEnvelope(hello, { keys: new StaticKeys([agent]) });
    const first = theirs.session.seal(env);
    expect(first.sequence).toBe(1n);
    expect(first.finished.length).toBe(32);
    // Without its Finished the responder's first message is refused (104), and nothing changes.
    const stripped = { ...first, finished: new Uint8Array(0) };
    expect(() => mine.session.open(stripped)).toThrow(expect.objectContaining({ code: ErrorCode.HANDSHAKE_AUTH_FAILED, pointer: "/finished" }));
    // A later message before the first one: refused too (the responder's keys are not confirmed yet).
    const second = theirs.session.seal(env);
    expect(second.finished.length).toBe(0);
    expect(() => mine.session.open(second)).toThrow(expect.objectContaining({ code: ErrorCode.HANDSHAKE_AUTH_FAILED, pointer: "/sequence" }));
    expect(mine.session.open(first).id).toBe(env.id);
    expect(mine.session.open(second).id).toBe(env.id);
    // The initiator's messages never carry one.
    expect(mine.session.seal(env).finished.length).toBe(0);
  });

  it("the sender is my peer and the recipient is me: misaddressed steps are 104 and change nothing", () => {
    // A Hello addressed to another agent (not this responder, not `hub`).
    const m = machines({ responder: "someone-else" });
    const hello = m.initiator.start();
    const r = m.responder.receive(hello);
    expect(r.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(r.error?.pointer).toBe("/recipient");
    expect(r.send).toBeUndefined();
    expect(m.responder.state).toBe("awaiting-hello");
    // A peer responder (not a hub) refuses a Hello addressed to `hub`.
    const p = machines({}, { hub: false });
    expect(p.responder.receive(p.initiator.start()).error?.pointer).toBe("/recipient");
    // A Welcome addressed to someone else than the initiator.
    const w = machines();
    const hello2 = w.initiator.start();
    const welcome = w.responder.receive(hello2).send!;
    const wenv = openSignedEnvelope(welcome, { keys: new StaticKeys([hub]) });
    wenv.recipient = { $typeName: "fleet.v1.Recipient", target: { case: "agent", value: "agent-mallory" } };
    wenv.id = "misaddressed";
    const mis = w.initiator.receive(signEnvelope(wenv, hub));
    expect(mis.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(mis.error?.pointer).toBe("/recipient");
    expect(w.initiator.state).toBe("awaiting-welcome");
    // A Welcome from another agent than the named responder.
    const named = machines({ responder: "fleet-hub" }, { hub: false });
    const h3 = named.initiator.start();
    const other = generateIdentity("other-hub");
    const otherResponder = new HandshakeResponder({ identity: other, keys: new PinnedKeys(), clock: named.clock });
    const henv = openSignedEnvelope(h3, { keys: new StaticKeys([agent]) });
    henv.recipient = { $typeName: "fleet.v1.Recipient", target: { case: "agent", value: "other-hub" } };
    henv.id = "to-other";
    const w3 = otherResponder.receive(signEnvelope(henv, agent)).send!;
    expect(named.initiator.receive(w3).error?.pointer).toBe("/sender");
  });
});
