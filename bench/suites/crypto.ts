// Crypto hot paths beside their anchors: our Ed25519 sign/verify against raw node:crypto
// on the same bytes (goal >= 0.9), session-authenticated opens against Ed25519 verifies
// (goal >= 10), the full encode -> sign -> verify -> decode round trip, and noble.
import { sign as nodeSign, verify as nodeVerify, createPrivateKey, createPublicKey } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import * as ed from "@noble/ed25519";
import { EnvelopeSchema, MessageType, type Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import type { SessionEnvelope } from "../../generated/proto/fleet/v1/signed_pb.js";
import {
  createEphemeral,
  deriveSession,
  envelopeSigningBytes,
  identityFromSeed,
  openSignedEnvelope,
  signEnvelope,
  StaticKeys,
  transcriptHash,
  verifyEd25519,
  type Session,
} from "../../runtime/crypto/index.js";
import { pkcs8FromSeed, spkiFromPublicKey } from "../../runtime/crypto/ed25519.js";
import { encodeEnvelope } from "../../runtime/codec/index.js";
import { compare, opsPerSecond, type BenchRow, type BenchSuite } from "../harness.js";

const seed = Uint8Array.from({ length: 32 }, (_, i) => i * 3);

function envelope(n: number): Envelope {
  return create(EnvelopeSchema, {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    sender: "agent-alice",
    recipient: { target: { case: "agent", value: "agent-bob" } },
    type: MessageType.EVENT,
    createdAt: timestampFromMs(Date.now()),
    ttlSeconds: 300,
    protocolVersion: "3.0",
    body: { kind: { case: "application", value: { mediaType: "application/json", content: { case: "json", value: '{"task":"list","items":[1,2,3],"note":"a short application payload"}' } } } },
  });
}

export const suite: BenchSuite = {
  name: "crypto",
  async run(): Promise<BenchRow[]> {
    const id = identityFromSeed("agent-alice", seed);
    const keys = new StaticKeys([id]);
    const priv = createPrivateKey({ key: Buffer.from(pkcs8FromSeed(seed)), format: "der", type: "pkcs8" });
    const pub = createPublicKey({ key: Buffer.from(spkiFromPublicKey(id.publicKey)), format: "der", type: "spki" });
    const env = envelope(1);
    const signed = signEnvelope(env, id);
    const msg = envelopeSigningBytes(signed.payloadType, signed.payload);
    const sig = signed.signature!.sig;
    const rows: BenchRow[] = [];
    const extra = { message_bytes: msg.length };

    const [rawSign, oursSign] = compare(() => nodeSign(null, msg, priv), () => id.sign(msg), 9, 300);
    rows.push({ suite: "crypto", name: "ed25519 sign: raw node:crypto", rate: rawSign, unit: "ops/s", extra });
    rows.push({ suite: "crypto", name: "ed25519 sign: Identity.sign", rate: oursSign, unit: "ops/s", anchor: "ed25519 sign: raw node:crypto", goal: { min: 0.9, on: "ratio" } });

    const [rawVerify, oursVerify] = compare(() => nodeVerify(null, msg, pub, sig), () => verifyEd25519(id.publicKey, msg, sig), 9, 300);
    rows.push({ suite: "crypto", name: "ed25519 verify: raw node:crypto", rate: rawVerify, unit: "ops/s", extra });
    rows.push({ suite: "crypto", name: "ed25519 verify: verifyEd25519", rate: oursVerify, unit: "ops/s", anchor: "ed25519 verify: raw node:crypto", goal: { min: 0.9, on: "ratio" } });

    // Sessions: a ring of pre-sealed messages; a fresh receiver each lap (sequences restart).
    const i = createEphemeral();
    const r = createEphemeral();
    const transcript = transcriptHash(i.publicKey, r.publicKey);
    const mk = (role: "initiator" | "responder"): Session =>
      role === "initiator"
        ? deriveSession({ role, sessionId: "bench", ourEphemeralPrivate: i.privateKey, theirEphemeralPublic: r.publicKey, transcript })
        : deriveSession({ role, sessionId: "bench", ourEphemeralPrivate: r.privateKey, theirEphemeralPublic: i.publicKey, transcript });
    const ring = (encrypt: boolean) => {
      const sender = mk("initiator");
      const out: SessionEnvelope[] = [];
      for (let n = 0; n < 4000; n++) out.push(sender.seal(envelope(n), { encrypt }));
      return out;
    };
    const opener = (msgs: SessionEnvelope[]) => {
      let receiver = mk("responder");
      let at = 0;
      return () => {
        if (at === msgs.length) {
          receiver = mk("responder");
          at = 0;
        }
        receiver.open(msgs[at++]);
      };
    };
    const plain = ring(false);
    // Authentication against authentication: the session MAC check (+ sequence) vs an Ed25519
    // verify of the same message; decoding is the same work on both paths and is reported apart.
    const authReceiver = mk("responder");
    // authenticate() checks without advancing, so under the ordered-carrier rule only sequence 1
    // would be "next"; the NATS rule (any higher sequence) lets each ring message be checked.
    authReceiver.sequenceRule = "increasing";
    let k = 0;
    const [rawVerify2, sessionAuth] = compare(() => nodeVerify(null, msg, pub, sig), () => authReceiver.authenticate(plain[k++ % plain.length]), 9, 300);
    rows.push({ suite: "crypto", name: "ed25519 verify: raw node:crypto (session anchor)", rate: rawVerify2, unit: "ops/s" });
    rows.push({ suite: "crypto", name: "session authenticate (HMAC-SHA256 + sequence)", rate: sessionAuth, unit: "msg/s", anchor: "ed25519 verify: raw node:crypto (session anchor)", goal: { min: 10, on: "ratio" } });
    rows.push({ suite: "crypto", name: "session open (authenticate + codec decode)", rate: opsPerSecond(opener(plain), { minMs: 500 }), unit: "msg/s", anchor: "ed25519 verify: raw node:crypto (session anchor)" });
    rows.push({ suite: "crypto", name: "session open, encrypted body (ChaCha20-Poly1305)", rate: opsPerSecond(opener(ring(true)), { minMs: 500 }), unit: "msg/s", anchor: "ed25519 verify: raw node:crypto (session anchor)" });
    const sealer = mk("initiator");
    const sealEnv = envelope(7);
    rows.push({ suite: "crypto", name: "session seal (encode + HMAC-SHA256)", rate: opsPerSecond(() => sealer.seal(sealEnv), { minMs: 500 }), unit: "msg/s" });

    // The full signed path: encode -> sign -> verify -> decode (+ codec validation both ways).
    let n = 0;
    rows.push({
      suite: "crypto",
      name: "round trip: encode -> sign -> verify -> decode",
      rate: opsPerSecond(() => openSignedEnvelope(signEnvelope(envelope(n++), id), { keys }), { minMs: 700 }),
      unit: "msg/s",
      extra: { encode_only_ops: Math.round(opsPerSecond(() => encodeEnvelope(env), { minMs: 300 })) },
    });

    // noble (the fallback where neither node:crypto nor WebCrypto exists), on the same bytes.
    rows.push({ suite: "crypto", name: "ed25519 sign: @noble/ed25519", rate: opsPerSecond(() => ed.sign(msg, seed), { minMs: 500, batch: 10 }), unit: "ops/s", anchor: "ed25519 sign: raw node:crypto" });
    rows.push({ suite: "crypto", name: "ed25519 verify: @noble/ed25519", rate: opsPerSecond(() => ed.verify(sig, msg, id.publicKey, { zip215: false }), { minMs: 500, batch: 10 }), unit: "ops/s", anchor: "ed25519 verify: raw node:crypto" });
    return rows;
  },
};
