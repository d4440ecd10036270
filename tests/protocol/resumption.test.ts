// Session resumption (spec/handshake.md "Resumption"): the machines alone, in memory.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { PacketSchema, type SignedEnvelope, SignatureScheme } from "../../generated/proto/fleet/v1/signed_pb.js";
import { systemClock } from "../../runtime/clock.js";
import { decodePacket, encodePacket } from "../../runtime/codec/index.js";
import { generateIdentity, PinnedKeys, randomBytes } from "../../runtime/crypto/index.js";
import { openTicket, sealTicket } from "../../runtime/crypto/resumption.js";
import { ErrorCode, type FleetError } from "../../runtime/errors.js";
import { type EstablishedSession, HandshakeInitiator, HandshakeResponder, type HeldTicket, type ResponderTickets } from "../../runtime/protocol/handshake.js";

const wire = (s: SignedEnvelope) => {
  const p = decodePacket(encodePacket(create(PacketSchema, { kind: { case: "signed", value: s } })));
  return p.kind.value as SignedEnvelope;
};

/** A responder's tickets under `key`, good for a minute; `later` ms are added to the clock that opens them. */
function tickets(key = randomBytes(32), later = 0): ResponderTickets & { key: Uint8Array } {
  return {
    key,
    issue: (agent, identityPublicKey, psk) => ({ ticket: sealTicket(key, { agent, identityPublicKey, psk, expiresAtMs: Date.now() + 60_000 }, randomBytes(12)), lifetimeSeconds: 60 }),
    open: (ticket) => openTicket(key, ticket, Date.now() + later),
  };
}

const hub = generateIdentity("fleet-hub");
const agent = generateIdentity("alice");

interface Run {
  hello: SignedEnvelope;
  welcome?: SignedEnvelope;
  confirm?: SignedEnvelope;
  /** The initiator's session (absent, typed present, when the handshake stopped earlier: check `error`). */
  initiator: EstablishedSession;
  responder?: EstablishedSession;
  error?: FleetError;
}

function run(opts: { resume?: HeldTicket; t?: ResponderTickets; pins?: PinnedKeys; identity?: typeof agent }): Run {
  const pins = opts.pins ?? new PinnedKeys();
  const ini = new HandshakeInitiator({ identity: opts.identity ?? agent, keys: new PinnedKeys(), clock: systemClock, resume: opts.resume });
  const res = new HandshakeResponder({ identity: hub, keys: pins, clock: systemClock, hub: true, tickets: opts.t });
  const hello = wire(ini.start());
  const w = res.receive(hello);
  const none = undefined as unknown as EstablishedSession;
  if (!w.send) return { hello, error: w.error, initiator: none };
  const welcome = wire(w.send);
  const c = ini.receive(welcome);
  ini.cancel();
  if (!c.send) return { hello, welcome, error: c.error, initiator: none };
  const confirm = wire(c.send);
  const done = res.receive(confirm);
  return { hello, welcome, confirm, initiator: c.established!, responder: done.established, error: done.error };
}

describe("session resumption", () => {
  it("a full handshake issues a ticket; the next one resumes with HMACs only, and both sides hold the same keys", async () => {
    const t = tickets();
    const pins = new PinnedKeys();
    const full = run({ t, pins });
    expect(full.error).toBeUndefined();
    expect(full.initiator.resumed).toBe(false);
    const held = full.initiator.ticket!;
    expect(held.ticket.length).toBeGreaterThan(0);
    expect(held.responder).toBe("fleet-hub");
    const again = run({ t, pins, resume: held });
    expect(again.error).toBeUndefined();
    for (const step of [again.hello!, again.welcome!, again.confirm!]) expect(step.signature!.scheme).toBe(SignatureScheme.HMAC_SHA256);
    expect(again.initiator.resumed).toBe(true);
    expect(again.responder!.resumed).toBe(true);
    expect(again.responder!.peer).toBe("alice");
    // The session keys agree: a message sealed by one side opens on the other.
    const a: EstablishedSession = again.initiator;
    expect(a.sessionId).toBe(again.responder!.sessionId);
    expect(() => a.session.checkPeerFinished(again.responder!.session.finished(), "/finished")).not.toThrow();
    expect(() => a.session.checkPeerFinished(full.responder!.session.finished(), "/finished")).toThrow();
    // And a fresh ticket for the next time, another PSK.
    expect(Buffer.from(again.initiator.ticket!.psk)).not.toEqual(Buffer.from(held.psk));
  });

  it("a ticket under another key, altered, expired or for another agent is refused (104) before anything is answered", () => {
    const t = tickets();
    const full = run({ t });
    const held = full.initiator.ticket!;
    const other = run({ t: tickets(), resume: held });
    expect(other.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(other.welcome).toBeUndefined();
    const flipped = { ...held, ticket: held.ticket.slice() };
    flipped.ticket[30] ^= 1;
    expect(run({ t, resume: flipped }).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    const wrongPsk = { ...held, psk: randomBytes(32) };
    const bad = run({ t, resume: wrongPsk });
    expect(bad.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(bad.error?.pointer).toBe("/signature/sig");
    expect(run({ t: tickets(t.key, 61_000), resume: held }).error?.message).toMatch(/expired/);
    expect(run({ t: tickets(t.key, 59_000), resume: held }).error).toBeUndefined();
    // Mallory presents Alice's ticket (and its PSK) under her own name: refused.
    const mallory = run({ t, resume: held, identity: generateIdentity("mallory") });
    expect(mallory.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    // A responder without tickets refuses every resumed Hello.
    expect(run({ resume: held }).error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
  });

  it("a name pinned to another key since cannot resume with the old key's ticket", () => {
    const t = tickets();
    const pins = new PinnedKeys();
    const held = run({ t, pins }).initiator.ticket!;
    const fresh = new PinnedKeys();
    fresh.pin("alice", generateIdentity("alice").publicKey);
    const r = run({ t, pins: fresh, resume: held });
    expect(r.welcome!.signature!.scheme).toBe(SignatureScheme.ED25519); // a signed HelloReject
    expect(r.error?.code).toBe(ErrorCode.HANDSHAKE_AUTH_FAILED);
    expect(r.error?.message).toMatch(/pinned to another key/);
  });
});
