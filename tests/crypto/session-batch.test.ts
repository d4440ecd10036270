// Session batches (spec/sessions.md): several envelopes under one MAC and one sequence,
// each still a message of its own on arrival.
import { toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { EnvelopeSchema } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { EnvelopeBatchSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { decodeMessage, encodeEnvelope, PayloadType } from "../../runtime/codec/index.js";
import { createEphemeral, deriveSession, transcriptHash } from "../../runtime/crypto/index.js";
import { ErrorCode } from "../../runtime/errors.js";
import { envelope, errorCode } from "./helpers.js";

function pair() {
  const i = createEphemeral();
  const r = createEphemeral();
  const transcript = transcriptHash(i.publicKey, r.publicKey);
  return {
    initiator: deriveSession({ role: "initiator", sessionId: "sess-b", ourEphemeralPrivate: i.privateKey, theirEphemeralPublic: r.publicKey, transcript }),
    responder: deriveSession({ role: "responder", sessionId: "sess-b", ourEphemeralPrivate: r.privateKey, theirEphemeralPublic: i.publicKey, transcript }),
  };
}

describe("session batches", () => {
  it("seals several encoded envelopes under one MAC and sequence; the peer opens them in order", () => {
    const { initiator, responder } = pair();
    const envs = [envelope(), envelope(), envelope()];
    const se = initiator.sealEncoded(envs.map(encodeEnvelope));
    expect(se.payloadType).toBe(PayloadType.envelopeBatchProto);
    expect(se.sequence).toBe(1n);
    expect(decodeMessage(EnvelopeBatchSchema, se.payload).envelopes).toHaveLength(3);
    const opened = responder.openAll(se);
    expect(opened.refused).toEqual([]);
    expect(opened.envelopes.map((e) => e.id)).toEqual(envs.map((e) => e.id));
    expect(responder.sequences.received).toBe(1n);
  });

  it("a lone envelope travels as a plain envelope+proto message that open() reads", () => {
    const { initiator, responder } = pair();
    const env = envelope();
    const se = initiator.sealEncoded([encodeEnvelope(env)]);
    expect(se.payloadType).toBe(PayloadType.envelopeProto);
    expect(responder.open(se).id).toBe(env.id);
  });

  it("a tampered or replayed batch is refused whole (601/604) and changes nothing", () => {
    const { initiator, responder } = pair();
    const se = initiator.sealEncoded([encodeEnvelope(envelope()), encodeEnvelope(envelope())]);
    const tampered = { ...se, payload: se.payload.slice() };
    tampered.payload[10] ^= 1;
    expect(errorCode(() => responder.openAll(tampered))).toBe(ErrorCode.SECURITY_SIGNATURE_INVALID);
    expect(responder.sequences.received).toBe(0n);
    expect(responder.openAll(se).envelopes).toHaveLength(2);
    expect(errorCode(() => responder.openAll(se))).toBe(ErrorCode.SECURITY_REPLAY);
  });

  it("an authentic batch with one bad envelope refuses that one with its code and delivers the rest", () => {
    const { initiator, responder } = pair();
    const good = [envelope(), envelope()];
    const noSender = toBinary(EnvelopeSchema, { ...envelope(), sender: "" });
    const se = initiator.sealEncoded([encodeEnvelope(good[0]), noSender, encodeEnvelope(good[1])]);
    const opened = responder.openAll(se);
    expect(opened.envelopes.map((e) => e.id)).toEqual(good.map((e) => e.id));
    expect(opened.refused.map((e) => e.code)).toEqual([ErrorCode.VALIDATION_MISSING_FIELD]);
    expect(opened.refused[0].pointer).toBe("/sender");
  });

  it("an encrypted body inside a batch is refused (609): its nonce would repeat across the batch", () => {
    const { initiator, responder } = pair();
    // An envelope with an encrypted body (sealed normally), then put into a batch by a careless sender.
    const sealed = initiator.seal(envelope(), { encrypt: true });
    responder.sequenceRule = "increasing"; // the sealed message itself is never delivered
    const opened = responder.openAll(initiator.sealEncoded([sealed.payload, encodeEnvelope(envelope())]));
    expect(opened.envelopes).toHaveLength(1);
    expect(opened.refused.map((e) => e.code)).toEqual([ErrorCode.SECURITY_DECRYPTION_FAILED]);
  });

  it("an empty batch cannot be sealed", () => {
    const { initiator } = pair();
    expect(errorCode(() => initiator.sealEncoded([]))).toBe(ErrorCode.VALIDATION_MISSING_FIELD);
  });
});
