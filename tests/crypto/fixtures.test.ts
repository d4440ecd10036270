// Every vector in fixtures/crypto.json, checked against the implementation; and the set
// regenerates byte for byte (it is deterministic).
import { readFileSync } from "node:fs";
import { fromBinary, fromJson, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { SessionEnvelopeSchema, SignedEnvelopeSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { FakeClock } from "../../runtime/clock.js";
import { PayloadType } from "../../runtime/codec/index.js";
import {
  assertValidPublicKey,
  deriveSessionKeys,
  Domain,
  identityFromSeed,
  keyIdFor,
  MemoryTokenUseStore,
  openSignedEnvelope,
  pae,
  ReplayGuard,
  Session,
  sharedSecretKeyId,
  StaticKeys,
  toHex,
  finishedMac,
  handshakeTranscript,
  verifyEd25519,
  verifyToken,
  x25519PublicKey,
  x25519SharedSecret,
} from "../../runtime/crypto/index.js";
import { fromHex } from "../../runtime/crypto/bytes.js";
import makeSet from "../../tools/fixtures/sets/crypto.js";
import { errorCode } from "./helpers.js";

const path = new URL("../../fixtures/crypto.json", import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fx = JSON.parse(readFileSync(path, "utf8")) as any;
const h = (s: string) => fromHex(s);

const keys = new StaticKeys(fx.keys.filter((k: { agent: string }) => k.agent !== "agent-mallory").map((k: { agent: string; public_key_hex: string }) => ({ agent: k.agent, publicKey: h(k.public_key_hex) })));

function session(role: "initiator" | "responder") {
  const s = fx.session;
  const keys = deriveSessionKeys(h(s.shared_secret_hex), s.session_id, h(s.transcript_hex));
  return new Session(s.session_id, role, keys, h(s.transcript_hex));
}


describe("fixtures/crypto.json", () => {
  it("is what the set generates (deterministic)", async () => {
    expect(JSON.parse(JSON.stringify(await makeSet()))).toEqual(fx);
  });

  it("keys: seed -> public key -> key id, including the keep-protocol vector", () => {
    for (const k of fx.keys) {
      const id = identityFromSeed(k.agent, h(k.seed_hex));
      expect(toHex(id.publicKey)).toBe(k.public_key_hex);
      expect(id.keyId).toBe(k.key_id);
      expect(keyIdFor(h(k.public_key_hex))).toBe(k.key_id);
    }
    const kp = fx.keep_protocol_ed25519;
    expect(kp.public_key_hex).toBe("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    expect(kp.sig_hex.startsWith("00f0a8c604ae2887")).toBe(true);
    expect(toHex(identityFromSeed("bot:alice", h(kp.seed_hex)).sign(h(kp.message_hex)))).toBe(kp.sig_hex);
  });

  it("pae vectors", () => {
    for (const v of fx.pae) expect(toHex(pae(v.domain, ...v.parts_hex.map(h)))).toBe(v.pae_hex);
  });

  it("signed envelopes: PAE bytes, signature, and opening", () => {
    for (const v of fx.signed_envelopes) {
      const signed = fromBinary(SignedEnvelopeSchema, h(v.signed_envelope_hex));
      expect(toHex(signed.payload)).toBe(v.payload_hex);
      expect(toHex(pae(Domain.envelope, v.payload_type, h(v.payload_hex)))).toBe(v.pae_hex);
      expect(verifyEd25519(keys.resolve(v.key_id)!, h(v.pae_hex), h(v.sig_hex))).toBe(true);
      // The JSON form carries the same bytes.
      expect(toBinary(SignedEnvelopeSchema, fromJson(SignedEnvelopeSchema, v.signed_envelope_json))).toEqual(h(v.signed_envelope_hex));
      const replay = new ReplayGuard({ clock: new FakeClock(fx.now_ms) });
      expect(openSignedEnvelope(signed, { keys, replay }).sender).toBe("agent-alice");
    }
  });

  it("hmac mode", () => {
    const v = fx.hmac;
    expect(sharedSecretKeyId(h(v.secret_hex))).toBe(v.key_id);
    const signed = fromBinary(SignedEnvelopeSchema, h(v.signed_envelope_hex));
    expect(openSignedEnvelope(signed, { keys, sharedSecrets: new Map([[v.key_id, h(v.secret_hex)]]), clock: new FakeClock(fx.now_ms) }).sender).toBe("agent-alice");
  });

  it("session key derivation and messages", () => {
    const s = fx.session;
    expect(toHex(x25519PublicKey(h(s.initiator_ephemeral_private_hex)))).toBe(s.initiator_ephemeral_public_hex);
    expect(toHex(x25519PublicKey(h(s.responder_ephemeral_private_hex)))).toBe(s.responder_ephemeral_public_hex);
    // The transcript from its published inputs: both identities and both signed payloads.
    const hs = s.handshake;
    const hello = fromBinary(SignedEnvelopeSchema, h(hs.hello_signed_envelope_hex));
    const welcome = fromBinary(SignedEnvelopeSchema, h(hs.welcome_signed_envelope_hex));
    const clock = new FakeClock(fx.now_ms);
    const helloEnv = openSignedEnvelope(hello, { keys, clock });
    const welcomeEnv = openSignedEnvelope(welcome, { keys, clock });
    expect(toHex(hello.payload)).toBe(hs.hello_payload_hex);
    expect(toHex(welcome.payload)).toBe(hs.welcome_payload_hex);
    expect([helloEnv.sender, welcomeEnv.sender]).toEqual([hs.initiator, hs.responder]);
    if (helloEnv.body?.kind.case !== "hello" || welcomeEnv.body?.kind.case !== "welcome") throw new Error("not a hello/welcome");
    expect(toHex(helloEnv.body.kind.value.identityPublicKey)).toBe(hs.initiator_identity_public_key_hex);
    expect(toHex(welcomeEnv.body.kind.value.identityPublicKey)).toBe(hs.responder_identity_public_key_hex);
    expect(toHex(helloEnv.body.kind.value.ephemeralPublicKey)).toBe(s.initiator_ephemeral_public_hex);
    expect(toHex(welcomeEnv.body.kind.value.ephemeralPublicKey)).toBe(s.responder_ephemeral_public_hex);
    expect(welcomeEnv.body.kind.value.sessionId).toBe(s.session_id);
    const parts = [hs.initiator, h(hs.initiator_identity_public_key_hex), hs.responder, h(hs.responder_identity_public_key_hex), hello.payload, welcome.payload] as const;
    expect(toHex(pae(Domain.sessionTranscript, ...parts))).toBe(hs.transcript_pae_hex);
    const transcript = handshakeTranscript({ initiator: parts[0], initiatorKey: parts[1], responder: parts[2], responderKey: parts[3], hello: parts[4], welcome: parts[5] });
    expect(toHex(transcript)).toBe(s.transcript_hex);
    expect(toHex(x25519SharedSecret(h(s.initiator_ephemeral_private_hex), h(s.responder_ephemeral_public_hex)))).toBe(s.shared_secret_hex);
    expect(toHex(x25519SharedSecret(h(s.responder_ephemeral_private_hex), h(s.initiator_ephemeral_public_hex)))).toBe(s.shared_secret_hex);
    const k = deriveSessionKeys(h(s.shared_secret_hex), s.session_id, h(s.transcript_hex));
    expect({ i2r_mac_hex: toHex(k.i2rMac), r2i_mac_hex: toHex(k.r2iMac), i2r_enc_hex: toHex(k.i2rEnc), r2i_enc_hex: toHex(k.r2iEnc) }).toEqual(s.keys);
    // Key confirmation: both Finished values, and the Confirm carries the initiator's.
    expect(toHex(pae(Domain.handshakeFinished, "initiator", s.session_id, transcript))).toBe(hs.finished_initiator_pae_hex);
    expect(toHex(pae(Domain.handshakeFinished, "responder", s.session_id, transcript))).toBe(hs.finished_responder_pae_hex);
    expect(toHex(finishedMac(k.i2rMac, "initiator", s.session_id, transcript))).toBe(hs.finished_initiator_hex);
    expect(toHex(finishedMac(k.r2iMac, "responder", s.session_id, transcript))).toBe(hs.finished_responder_hex);
    const confirm = openSignedEnvelope(fromBinary(SignedEnvelopeSchema, h(hs.confirm_signed_envelope_hex)), { keys, clock });
    if (confirm.body?.kind.case !== "handshakeConfirm") throw new Error("not a confirm");
    expect(toHex(confirm.body.kind.value.finished)).toBe(hs.finished_initiator_hex);
    expect(confirm.body.kind.value.responderNonce).toEqual((welcomeEnv.body.kind.value as { nonce: Uint8Array }).nonce);
    const responder = session("responder");
    const initiator = session("initiator");
    for (const m of s.messages) {
      const se = fromBinary(SessionEnvelopeSchema, h(m.session_envelope_hex));
      expect(toHex(se.mac)).toBe(m.mac_hex);
      expect(toHex(pae(Domain.session, s.session_id, se.sequence === 0n ? new Uint8Array(8) : h(BigInt(m.sequence).toString(16).padStart(16, "0")), se.payloadType, se.payload))).toBe(m.pae_hex);
      expect(se.payloadType).toBe(m.payload_type);
      const opened = (m.direction === "i2r" ? responder : initiator).openAll(se);
      expect(opened.refused).toEqual([]);
      expect(opened.envelopes.length).toBe(se.payloadType === PayloadType.envelopeBatchProto ? 2 : 1);
      for (const env of opened.envelopes) expect(env.body?.kind.case).toBe("application");
    }
  });

  it("tokens verify at their stated time", () => {
    for (const t of fx.tokens) {
      const claims = verifyToken(t.token, { keys, audience: t.audience, scope: t.scope, subject: t.subject, clock: new FakeClock(t.now_ms), uses: new MemoryTokenUseStore() });
      expect(claims.issuer).toBe(t.issuer);
    }
  });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  it.each(fx.negative.map((v: any) => [v.name, v]) as [string, any][])("negative: %s", (_name, v) => {
    let got: number | "none";
    if (v.kind === "signed_envelope") {
      const signed = fromBinary(SignedEnvelopeSchema, h(v.signed_envelope_hex));
      const replay = new ReplayGuard({ clock: new FakeClock(v.now_ms) });
      const sharedSecrets = v.shared_secret_hex ? new Map([[fx.hmac.key_id, h(v.shared_secret_hex)]]) : undefined;
      const open = () => openSignedEnvelope(signed, { keys, replay, sharedSecrets });
      if (v.deliver_twice) open();
      got = errorCode(open);
    } else if (v.kind === "public_key") {
      got = errorCode(() => assertValidPublicKey(h(v.public_key_hex)));
    } else if (v.kind === "session") {
      const receiver = session(v.direction === "i2r" ? "responder" : "initiator");
      const open = (hex: string) => receiver.open(fromBinary(SessionEnvelopeSchema, h(hex)));
      if (v.after_hex) open(v.after_hex);
      if (v.deliver_twice) open(v.session_envelope_hex);
      got = errorCode(() => open(v.session_envelope_hex));
      if (v.pointer !== undefined) expect(() => open(v.session_envelope_hex)).toThrow(expect.objectContaining({ pointer: v.pointer }));
    } else {
      const uses = new MemoryTokenUseStore();
      const verify = () => verifyToken(v.token, { keys, audience: v.audience, scope: v.scope, clock: new FakeClock(v.now_ms), uses });
      if (v.deliver_twice) verify();
      got = errorCode(verify);
    }
    expect(got).toBe(v.code);
  });
});
